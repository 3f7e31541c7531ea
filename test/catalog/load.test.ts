import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundledCatalogDirectory, loadCatalog } from '../../lib/catalog/index.js';
import { CatalogDocument, compileSchema } from '../../lib/catalog/document.js';
import { CatalogError, RouterError } from '../../lib/errors.js';
import { readFileSync } from 'node:fs';

/** Load the bundled catalogue plus one user file given as text; return the CatalogError it throws. */
function refuse(text: string, options: { bundled?: boolean } = {}): CatalogError {
  try {
    loadCatalog({ bundled: options.bundled ?? true, sources: [{ name: 'user.yaml', text }] });
  } catch (error) {
    expect(error).to.be.instanceOf(CatalogError);
    expect(RouterError.isInstance(error)).to.equal(true);
    return error as CatalogError;
  }
  throw new Error('expected the catalogue to be refused');
}

const completeModel = (id: string, extra = '') => `
  - id: ${id}
    family: test
    version: "25.01"
    release: "2025-01"
    capabilities: [chat]
    contextWindow: 1000
    openWeights: false
    license: null
    aliases: []
    deprecation: null${extra}`;

describe('catalogue: the bundled files', () => {
  it('validate against their JSON Schemas on the slow path (no snapshot)', () => {
    for (const [file, schema] of [['models.yaml', 'models.schema.json'], ['tiers.yaml', 'tiers.schema.json']] as const) {
      const document = CatalogDocument.read(join(bundledCatalogDirectory, file));
      const validator = compileSchema(JSON.parse(readFileSync(join(bundledCatalogDirectory, schema), 'utf8')) as object);
      expect(() => document.validate(validator)).not.to.throw();
    }
  });

  it('name the schema for editors on their first line', () => {
    expect(readFileSync(join(bundledCatalogDirectory, 'models.yaml'), 'utf8').split('\n')[0]).to.equal('# yaml-language-server: $schema=./models.schema.json');
    expect(readFileSync(join(bundledCatalogDirectory, 'tiers.yaml'), 'utf8').split('\n')[0]).to.equal('# yaml-language-server: $schema=./tiers.schema.json');
  });

  const sourceModels = [
    // the 11 open models of mistral-rate-limits.md
    'magistral-small-2507', 'voxtral-small-2507', 'voxtral-mini-2507', 'mistral-small-2506', 'magistral-small-2506',
    'devstral-small-2507', 'mistral-small-2503', 'mistral-small-2501', 'devstral-small-2505', 'pixtral-12b-2409', 'open-mistral-nemo',
    // the token-limits table
    'codestral-2405', 'codestral-2501', 'codestral-mamba-2407', 'ministral-3b-2410', 'ministral-8b-2410', 'mistral-embed',
    'mistral-large-2402', 'mistral-large-2407', 'mistral-large-2411', 'mistral-medium', 'mistral-moderation-2411', 'mistral-saba-2502',
    'mistral-small-2402', 'mistral-small-2409', 'open-mistral-7b', 'open-mixtral-8x22b', 'open-mixtral-8x7b', 'pixtral-large-2411',
    // the -latest name the source lists with unknown limits
    'magistral-medium-latest',
  ];

  const lineup2026 = [
    'mistral-small-2603', 'mistral-medium-3-5', 'mistral-large-2512', 'ministral-3b-2512', 'ministral-8b-2512', 'ministral-14b-2512',
    'codestral-2508', 'codestral-embed-2505', 'voxtral-mini-2602', 'mistral-moderation-2603', 'mistral-ocr-4-1',
  ];

  it('keep every model the source document names (users pin them), by id or as an alias, and add the 2026 lineup', () => {
    const catalog = loadCatalog();
    for (const name of sourceModels) expect(catalog.model(name), name).to.not.equal(undefined);
    expect(sourceModels.filter((name) => catalog.resolve(name) !== name)).to.deep.equal(['magistral-medium-latest']);
    expect(catalog.resolve('magistral-medium-latest')).to.equal('magistral-medium-2509');
    expect(catalog.models.map((m) => m.id)).to.include.members(lineup2026);
  });

  it('give the open models the source table values', () => {
    const catalog = loadCatalog();
    expect(catalog.model('magistral-small-2507')).to.include({ name: 'Magistral Small 1.1', version: '25.07', contextWindow: 40960, license: 'Apache-2.0', openWeights: true });
    expect(catalog.model('voxtral-mini-2507')).to.include({ contextWindow: 32768, version: '25.07' });
    expect(catalog.model('open-mistral-nemo')).to.include({ name: 'Mistral Nemo 12B', version: '24.07', release: '2024-07', contextWindow: 131072 });
    expect(catalog.model('mistral-small-2501')).to.include({ name: 'Mistral Small 3', contextWindow: 32768 });
    expect(catalog.models.filter((m) => m.openWeights === true)).to.have.length(11);
  });

  it('write unknown facts as null, never a guess', () => {
    const catalog = loadCatalog();
    // Two versions share the endpoint: the version is left unknown; nothing states its licence.
    expect(catalog.model('open-mistral-7b')).to.include({ contextWindow: 32768, license: null, openWeights: null, version: null });
    // No price for Moderation 2 in the source; embeddings are priced on input only.
    expect(catalog.model('mistral-moderation-2603')?.prices).to.equal(null);
    expect(catalog.model('mistral-embed')?.prices).to.deep.equal({ input: 0.1, output: null });
  });

  it('give the free tier exactly as the source says', () => {
    const catalog = loadCatalog();
    expect(catalog.tier('free').requestsPerSecond).to.equal(1);
    expect(catalog.limits('free', 'mistral-embed')).to.deep.equal({ requestsPerSecond: 1, tokensPerMinute: 20_000_000, tokensPerMonth: 200_000_000_000 });
    for (const id of sourceModels.slice(11).filter((id) => id !== 'mistral-embed' && id !== 'magistral-medium-latest')) {
      expect(catalog.limits('free', id), id).to.deep.equal({ requestsPerSecond: 1, tokensPerMinute: 500_000, tokensPerMonth: 1_000_000_000 });
    }
    for (const id of ['mistral-small-2503', 'mistral-small-2501', 'open-mistral-nemo', 'pixtral-12b-2409']) {
      expect(catalog.limits('free', id).tokensPerMinute, id).to.equal(500_000);
    }
    expect(catalog.limits('free', 'magistral-medium-latest')).to.deep.equal({ requestsPerSecond: 1, tokensPerMinute: null, tokensPerMonth: null });
    // A model the source's table does not list keeps unknown limits, learned from headers.
    expect(catalog.limits('free', 'mistral-small-2603')).to.deep.equal({ requestsPerSecond: 1, tokensPerMinute: null, tokensPerMonth: null });
    expect(catalog.limits('free', 'mistral-small-2506').tokensPerMinute).to.equal(null);
  });

  it('refuses options of the wrong shape, naming the option', () => {
    expect(() => loadCatalog(null as never)).to.throw(TypeError, /options must be an object/);
    expect(() => loadCatalog({ sources: 'abc' as never })).to.throw(TypeError, /"sources"/);
    expect(() => loadCatalog({ sources: [null as never] })).to.throw(TypeError, /"sources"/);
    expect(() => loadCatalog({ sources: [{ name: 'x', text: 5 as never }] })).to.throw(TypeError, /"sources"/);
    // fs would read a number as a file descriptor.
    expect(() => loadCatalog({ files: [5 as never] })).to.throw(TypeError, /"files"/);
    expect(() => loadCatalog({ bundled: 'no' as never })).to.throw(TypeError, /"bundled"/);
  });

  it('refuses an unknown tier with the known ones named', () => {
    expect(() => loadCatalog().tier('gold')).to.throw(CatalogError, /unknown tier "gold"; known tiers: free/);
  });
});

describe('catalogue: malformed files are refused whole, with file, line and field', () => {
  const cases: { name: string; text: string; code: string; line: number; field: RegExp; bundled?: boolean }[] = [
    { name: 'YAML syntax error (unclosed flow sequence)', text: 'schemaVersion: 1\nmodels:\n  - id: x\n    capabilities: [chat, vision\n', code: 'CATALOG_SYNTAX', line: 5, field: /YAML syntax error/ },
    { name: 'duplicate mapping key', text: 'schemaVersion: 1\nschemaVersion: 1\n', code: 'CATALOG_SYNTAX', line: 2, field: /YAML syntax error/ },
    { name: 'wrong type (contextWindow as text)', text: `schemaVersion: 1\nmodels:\n  - id: mistral-small-2506\n    contextWindow: big\n`, code: 'CATALOG_SCHEMA', line: 4, field: /models\.0\.contextWindow: expected a whole number or null, received "big"/ },
    { name: 'unknown capability', text: `schemaVersion: 1\nmodels:\n  - id: mistral-small-2506\n    capabilities: [chat, telepathy]\n`, code: 'CATALOG_SCHEMA', line: 4, field: /models\.0\.capabilities\.1: expected one of chat, vision.*received "telepathy"/ },
    { name: 'negative limit', text: `schemaVersion: 1\ntiers:\n  - name: free\n    models:\n      open-mistral-nemo: { tokensPerMinute: -5, tokensPerMonth: 10 }\n`, code: 'CATALOG_SCHEMA', line: 5, field: /tokensPerMinute: expected a number >= 0, received -5/ },
    { name: 'non-integer limit', text: `schemaVersion: 1\ntiers:\n  - name: free\n    requestsPerSecond: 1.5\n`, code: 'CATALOG_SCHEMA', line: 4, field: /requestsPerSecond: expected a whole number or null, received 1.5/ },
    { name: 'limit given as text', text: `schemaVersion: 1\ntiers:\n  - name: free\n    requestsPerSecond: one\n`, code: 'CATALOG_SCHEMA', line: 4, field: /requestsPerSecond: expected a whole number or null/ },
    { name: 'duplicate model id', text: `schemaVersion: 1\nmodels:\n  - id: open-mistral-nemo\n    contextWindow: 1000\n  - id: open-mistral-nemo\n    contextWindow: 2000\n`, code: 'CATALOG_DUPLICATE_ID', line: 5, field: /duplicate model id "open-mistral-nemo"/ },
    { name: 'alias that points nowhere', text: `schemaVersion: 1\naliases:\n  mistral-tiny-latest: mistral-tiny-2601\n`, code: 'CATALOG_ALIAS_UNKNOWN', line: 3, field: /alias "mistral-tiny-latest" points at "mistral-tiny-2601"/ },
    { name: 'alias that points at two models', text: `schemaVersion: 1\nmodels:\n  - id: open-mistral-nemo\n    aliases: [mistral-small-latest]\n`, code: 'CATALOG_ALIAS_AMBIGUOUS', line: 4, field: /points at two models \(mistral-small-2603 and open-mistral-nemo\)/ },
    { name: 'alias equal to a model id', text: `schemaVersion: 1\naliases:\n  open-mistral-nemo: mistral-small-2506\n`, code: 'CATALOG_ALIAS_AMBIGUOUS', line: 3, field: /is also a model id/ },
    { name: 'tier naming an unknown model', text: `schemaVersion: 1\ntiers:\n  - name: free\n    models:\n      mistral-huge-2612: { tokensPerMinute: 1, tokensPerMonth: 2 }\n`, code: 'CATALOG_TIER_UNKNOWN_MODEL', line: 5, field: /names unknown model "mistral-huge-2612"/ },
    { name: 'tier naming an alias instead of the id', text: `schemaVersion: 1\ntiers:\n  - name: free\n    models:\n      mistral-small-latest: { tokensPerMinute: 1, tokensPerMonth: 2 }\n`, code: 'CATALOG_TIER_UNKNOWN_MODEL', line: 5, field: /use the model id "mistral-small-2603"/ },
    { name: 'misspelt field', text: `schemaVersion: 1\nmodels:\n  - id: open-mistral-nemo\n    contextWindw: 1000\n`, code: 'CATALOG_SCHEMA', line: 4, field: /unknown field "contextWindw"/ },
    { name: 'unquoted version (a number in YAML)', text: `schemaVersion: 1\nmodels:\n  - id: open-mistral-nemo\n    version: 24.07\n`, code: 'CATALOG_SCHEMA', line: 4, field: /models\.0\.version: expected a string or null, received 24.07/ },
    { name: 'new model missing its family', text: `schemaVersion: 1\nmodels:\n  - id: brand-new-2601\n    capabilities: [chat]\n`, code: 'CATALOG_SCHEMA', line: 3, field: /new model "brand-new-2601": missing required field "family"/ },
    { name: 'duplicate tier name', text: `schemaVersion: 1\ntiers:\n  - name: scale\n    requestsPerSecond: 5\n    models: {}\n  - name: scale\n    requestsPerSecond: 6\n    models: {}\n`, code: 'CATALOG_DUPLICATE_ID', line: 6, field: /duplicate tier name "scale"/ },
    { name: 'wrong schemaVersion', text: `schemaVersion: 2\nmodels: []\n`, code: 'CATALOG_SCHEMA', line: 1, field: /schemaVersion: expected 1, received 2/ },
    { name: 'unknown top-level field', text: `schemaVersion: 1\nmodles: []\n`, code: 'CATALOG_SCHEMA', line: 2, field: /unknown top-level field "modles"/ },
    { name: 'deprecation replacement that does not exist', text: `schemaVersion: 1\nmodels:\n  - id: open-mistral-7b\n    deprecation: { retired: "2025-03-30", replacement: open-mistral-8b }\n`, code: 'CATALOG_UNKNOWN_MODEL', line: 4, field: /deprecation.replacement "open-mistral-8b"/ },
    { name: 'deprecation in the old shape (date)', text: `schemaVersion: 1\nmodels:\n  - id: open-mistral-7b\n    deprecation: { date: "2025-03-30", replacement: null }\n`, code: 'CATALOG_SCHEMA', line: 4, field: /unknown field "date"/ },
    { name: 'replacement loop', text: `schemaVersion: 1\nmodels:\n  - id: mistral-small-2603\n    deprecation: { retired: "2027-01-01", replacement: mistral-small-2506 }\n`, code: 'CATALOG_REPLACEMENT_LOOP', line: 4, field: /loop: mistral-small-2603 -> mistral-small-2506 -> mistral-small-2603/ },
    { name: 'a model replacing itself', text: `schemaVersion: 1\nmodels:\n  - id: mistral-small-2603\n    deprecation: { retired: "2027-01-01", replacement: mistral-small-2603 }\n`, code: 'CATALOG_REPLACEMENT_LOOP', line: 4, field: /loop: mistral-small-2603 -> mistral-small-2603/ },
    { name: 'retirement date that is not a date', text: `schemaVersion: 1\nmodels:\n  - id: mistral-small-2603\n    deprecation: { retired: "soon", replacement: null }\n`, code: 'CATALOG_SCHEMA', line: 4, field: /deprecation/ },
    { name: 'negative price', text: `schemaVersion: 1\nmodels:\n  - id: mistral-small-2603\n    prices: { input: -1, output: 0.6 }\n`, code: 'CATALOG_SCHEMA', line: 4, field: /prices/ },
    { name: 'a source citing an unknown key', text: `schemaVersion: 1\nmodels:\n  - id: mistral-small-2603\n    source: "[blog] a rumour"\n`, code: 'CATALOG_SCHEMA', line: 4, field: /cites \[blog\], which is not a key/ },
    { name: 'infinite context (.inf)', text: `schemaVersion: 1\nmodels:\n  - id: mistral-small-2603\n    contextWindow: .inf\n`, code: 'CATALOG_SCHEMA', line: 4, field: /received \.inf, not a finite number/ },
    { name: 'not a number (.nan)', text: `schemaVersion: 1\ntiers:\n  - name: free\n    requestsPerSecond: .nan\n`, code: 'CATALOG_SCHEMA', line: 4, field: /received \.nan, not a finite number/ },
    { name: 'a number past a double (1e400)', text: `schemaVersion: 1\ntiers:\n  - name: free\n    models:\n      open-mistral-nemo: { tokensPerMinute: 1e400, tokensPerMonth: 10 }\n`, code: 'CATALOG_SCHEMA', line: 5, field: /received 1e400, not a finite number/ },
    { name: 'a context past MAX_SAFE_INTEGER', text: `schemaVersion: 1\nmodels:\n  - id: mistral-small-2603\n    contextWindow: 99999999999999999999\n`, code: 'CATALOG_SCHEMA', line: 4, field: /received 99999999999999999999, beyond Number.MAX_SAFE_INTEGER \(9007199254740991\)/ },
    { name: 'a limit past MAX_SAFE_INTEGER', text: `schemaVersion: 1\ntiers:\n  - name: free\n    models:\n      open-mistral-nemo: { tokensPerMinute: 10, tokensPerMonth: 9007199254740993 }\n`, code: 'CATALOG_SCHEMA', line: 5, field: /received 9007199254740993, beyond/ },
    { name: 'empty capability list', text: `schemaVersion: 1\nmodels:\n  - id: open-mistral-nemo\n    capabilities: []\n`, code: 'CATALOG_SCHEMA', line: 4, field: /expected at least 1 item/ },
    { name: 'a list where a mapping belongs', text: `- just\n- a list\n`, code: 'CATALOG_SCHEMA', line: 1, field: /expected a mapping/ },
  ];

  for (const c of cases) {
    it(`${c.name} -> ${c.code} at line ${c.line}`, () => {
      const error = refuse(c.text, { bundled: c.bundled });
      expect(error.code).to.equal(c.code);
      expect(error.file).to.equal('user.yaml');
      expect(error.line, error.message).to.equal(c.line);
      expect(error.message).to.match(c.field);
      expect(error.message.startsWith(`user.yaml:${c.line}`), error.message).to.equal(true);
    });
  }

  it('at least 15 distinct malformed files are covered', () => {
    expect(new Set(cases.map((c) => c.text)).size).to.be.at.least(15);
  });

  it('refuses invalid UTF-8 in a file with its line, rather than replacing it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mr-catalog-'));
    const path = join(dir, 'latin1.yaml');
    // "Modèle" written in Latin-1: 0xE8 starts no valid UTF-8 character.
    writeFileSync(path, Buffer.concat([Buffer.from('schemaVersion: 1\nmodels:\n  - id: mistral-small-2603\n    name: "Mod'), Buffer.from([0xe8]), Buffer.from('le"\n')]));
    try {
      loadCatalog({ files: [path] });
      expect.fail('expected the file to be refused');
    } catch (error) {
      expect(error).to.be.instanceOf(CatalogError);
      const refused = error as CatalogError;
      expect(refused.code).to.equal('CATALOG_ENCODING');
      expect(refused.file).to.equal(path);
      expect(refused.line).to.equal(4);
      expect(refused.message).to.match(/invalid UTF-8: byte 0xe8/);
    }
    // A real U+FFFD written as UTF-8 is a character like any other.
    writeFileSync(path, 'schemaVersion: 1\nmodels:\n  - id: mistral-small-2603\n    name: "\uFFFD"\n');
    expect(loadCatalog({ files: [path] }).model('mistral-small-2603')?.name).to.equal('\uFFFD');
  });

  it('names the path of an unreadable file', () => {
    expect(() => loadCatalog({ files: ['/nonexistent/limits.yaml'] })).to.throw(CatalogError, /\/nonexistent\/limits.yaml: cannot read the catalogue file: ENOENT/);
  });

  it('reports the pointer of the field as a structured property', () => {
    const error = refuse(`schemaVersion: 1\nmodels:\n  - id: mistral-small-2506\n    capabilities: [chat, telepathy]\n`);
    expect(error.pointer).to.equal('/models/0/capabilities/1');
  });
});

describe('catalogue: user files add and override', () => {
  it('an override of one limit of a model keeps its other limit (the schema asked for both)', () => {
    const catalog = loadCatalog({
      sources: [{ name: 'mine.yaml', text: 'schemaVersion: 1\ntiers:\n  - name: free\n    models:\n      open-mistral-nemo: { tokensPerMinute: 2000000 }\n' }],
    });
    const bundled = loadCatalog().limits('free', 'open-mistral-nemo');
    expect(catalog.limits('free', 'open-mistral-nemo')).to.deep.equal({ ...bundled, tokensPerMinute: 2_000_000 });
    const paid = { name: 'paid.yaml', text: 'schemaVersion: 1\ntiers:\n  - name: paid\n    requestsPerSecond: 5\n    defaultModelLimits: { tokensPerMinute: 2000000, tokensPerMonth: 10000000000 }\n    models: {}\n' };
    // Defaults merge field by field too.
    const merged = loadCatalog({ sources: [paid, { name: 'd.yaml', text: 'schemaVersion: 1\ntiers:\n  - name: paid\n    defaultModelLimits: { tokensPerMinute: 100000 }\n' }] });
    expect(merged.limits('paid', 'open-mistral-nemo')).to.deep.equal({ requestsPerSecond: 5, tokensPerMinute: 100_000, tokensPerMonth: 10_000_000_000 });
    // A model the tier did not list has no earlier limit to keep: both are required (else one would be unmetered).
    expect(() => loadCatalog({ sources: [paid, { name: 'm.yaml', text: 'schemaVersion: 1\ntiers:\n  - name: paid\n    models:\n      open-mistral-nemo: { tokensPerMinute: 100000 }\n' }] }))
      .to.throw(CatalogError, /adds model "open-mistral-nemo": missing required field "tokensPerMonth"/);
    // A new tier must still be complete, its model limits included.
    expect(() => loadCatalog({ sources: [{ name: 'new.yaml', text: 'schemaVersion: 1\ntiers:\n  - name: gold\n    requestsPerSecond: 5\n    models:\n      open-mistral-nemo: { tokensPerMinute: 1 }\n' }] })).to.throw(CatalogError, /tokensPerMonth/);
  });

  it('a workspace console limit overrides the bundled tier value, other values stay', () => {
    const catalog = loadCatalog({
      sources: [{ name: 'mine.yaml', text: 'schemaVersion: 1\ntiers:\n  - name: free\n    models:\n      open-mistral-nemo: { tokensPerMinute: 2000, tokensPerMonth: 5000000 }\n' }],
    });
    expect(catalog.limits('free', 'open-mistral-nemo')).to.deep.equal({ requestsPerSecond: 1, tokensPerMinute: 2000, tokensPerMonth: 5_000_000 });
    expect(catalog.limits('free', 'mistral-small-2503').tokensPerMinute).to.equal(500_000);
  });

  it('a model override changes only the fields given', () => {
    const catalog = loadCatalog({ sources: [{ name: 'm.yaml', text: 'schemaVersion: 1\nmodels:\n  - id: open-mistral-7b\n    contextWindow: 32768\n' }] });
    expect(catalog.model('open-mistral-7b')).to.include({ contextWindow: 32768, family: 'mistral-7b' });
  });

  it('adds a new tier and a new model, from a file on disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mr-catalog-'));
    const path = join(dir, 'extra.yaml');
    writeFileSync(path, `schemaVersion: 1\nmodels:${completeModel('mistral-tiny-2601')}\ntiers:\n  - name: scale\n    requestsPerSecond: 6\n    models:\n      mistral-tiny-2601: { tokensPerMinute: 2000000, tokensPerMonth: null }\n`);
    const catalog = loadCatalog({ files: [path] });
    expect(catalog.model('mistral-tiny-2601')?.family).to.equal('test');
    expect(catalog.limits('scale', 'mistral-tiny-2601')).to.deep.equal({ requestsPerSecond: 6, tokensPerMinute: 2_000_000, tokensPerMonth: null });
    expect(catalog.limits('scale', 'open-mistral-nemo')).to.deep.equal({ requestsPerSecond: 6, tokensPerMinute: null, tokensPerMonth: null });
  });

  it('moves a -latest alias with the aliases map', () => {
    const catalog = loadCatalog({ sources: [{ name: 'a.yaml', text: 'schemaVersion: 1\naliases:\n  mistral-small-latest: mistral-small-2503\n' }] });
    expect(catalog.resolve('mistral-small-latest')).to.equal('mistral-small-2503');
  });

  it('later files win over earlier ones', () => {
    const catalog = loadCatalog({
      sources: [
        { name: '1.yaml', text: 'schemaVersion: 1\ntiers:\n  - name: free\n    requestsPerSecond: 2\n' },
        { name: '2.yaml', text: 'schemaVersion: 1\ntiers:\n  - name: free\n    requestsPerSecond: 3\n' },
      ],
    });
    expect(catalog.tier('free').requestsPerSecond).to.equal(3);
  });
});
