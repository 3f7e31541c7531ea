/**
 * Every example in examples/ runs as the README says (`node examples/<file>.mjs`) and exits 0: they run
 * against the bundled emulator, so they need no key and no network.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const scripts = readdirSync(`${root}examples`).filter((name) => name.endsWith('.mjs'));

describe('examples', function () {
  this.timeout(30_000);
  it('has examples to run', () => expect(scripts.length).to.be.greaterThan(0));
  for (const script of scripts) {
    it(`examples/${script} runs and exits 0`, async () => {
      const env = { ...process.env };
      delete env.MISTRAL_API_KEY;
      const { stdout } = await promisify(execFile)(process.execPath, [`examples/${script}`], { cwd: root, env, timeout: 25_000 });
      expect(stdout.length).to.be.greaterThan(0);
    });
  }
});
