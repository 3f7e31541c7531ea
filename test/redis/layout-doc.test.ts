/**
 * The layout tables of docs/notes/redis.md are the code's: the document holds exactly what layout-doc.ts
 * renders from KEY_LAYOUT and the protocol's write functions, and every key pattern matches the key the
 * builders make. No Redis needed.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { KEY_LAYOUT } from '../../lib/quota/redis/keys.js';
import { describeLayouts, withLayouts } from '../../lib/quota/redis/layout-doc.js';

const documentPath = fileURLToPath(new URL('../../../docs/notes/redis.md', import.meta.url));

describe('Redis key and script layouts (docs/notes/redis.md)', function () {
  it('the document holds the tables the code renders', function () {
    const document = readFileSync(documentPath, 'utf8');
    expect(document.includes(describeLayouts()), 'docs/notes/redis.md is not what the code renders: run `npm run build && node dist/lib/quota/redis/layout-doc.js docs/notes/redis.md`').to.equal(true);
    expect(withLayouts(document)).to.equal(document);
  });

  it('every key pattern matches the key the builders make (P = mr:, W = acme, M = small, K = a kind)', function () {
    const escape = (text: string) => text.replace(/[{}[\]().*+?^$|\\]/g, (c) => `\\${c}`);
    for (const kind of KEY_LAYOUT) {
      const expected = kind.pattern.replace('{PW}', '{mr:acme}').replace('{P}', '{mr:}').replace(':M:', ':small:');
      expect(kind.sample(), kind.pattern).to.match(new RegExp(`^${escape(expected).replace(/:K$/, ':[a-z-]+')}$`));
    }
  });
});
