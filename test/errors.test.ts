/**
 * The error classes: each has its own `isInstance` that recognises instances from another copy of the
 * package (the built modules copied to a directory of their own and loaded from there), and takes its fields by name.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'chai';
import * as errors from '../lib/errors.js';
import {
  AbortError,
  CatalogError,
  redactSecrets,
  ConfigError,
  ModelCoolingDownError,
  NeedError,
  NoEligibleModelError,
  QuotaExhaustedError,
  RouterError,
  StoreError,
  StoreUnavailableError,
  UpstreamError,
} from '../lib/errors.js';

const plan = { candidates: [], rejected: [] };

/** The built error modules copied to a directory of their own and loaded from there: a second copy of the package. */
async function secondCopy(): Promise<typeof errors> {
  const built = fileURLToPath(new URL('../lib/', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'mistral-router-errors-'));
  try {
    cpSync(join(built, 'errors.js'), join(dir, 'errors.js'));
    cpSync(join(built, 'errors'), join(dir, 'errors'), { recursive: true });
    return (await import(pathToFileURL(join(dir, 'errors.js')).href)) as typeof errors;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One instance of every class, built by `module` (this copy or another). */
function samples(module: typeof errors): Record<string, Error> {
  return {
    RouterError: new module.RouterError({ code: 'ROUTER_CLOSED', message: 'closed' }),
    CatalogError: new module.CatalogError({ code: 'CATALOG_SCHEMA', message: 'bad', file: 'models.yaml', line: 3 }),
    NeedError: new module.NeedError({ field: 'messages', message: 'expected a list' }),
    ConfigError: new module.ConfigError({ option: 'serverURL', message: 'bad' }),
    NoEligibleModelError: new module.NoEligibleModelError({ message: 'none', plan }),
    QuotaExhaustedError: new module.QuotaExhaustedError({ message: 'later', retryAfterMs: 5, plan }),
    ModelCoolingDownError: new module.ModelCoolingDownError({ message: 'cooling', retryAfterMs: 5, models: [{ model: 'm', until: 10, reason: 'server-error' }], plan }),
    StoreUnavailableError: new module.StoreUnavailableError('down'),
    StoreError: new module.StoreError({ message: 'failed', operation: 'reserve' }),
    UpstreamError: new module.UpstreamError({ message: 'HTTP 500', status: 500, isRetryable: true }),
    AbortError: new module.AbortError(),
  };
}

const classes = { RouterError, CatalogError, NeedError, ConfigError, NoEligibleModelError, QuotaExhaustedError, ModelCoolingDownError, StoreUnavailableError, StoreError, UpstreamError, AbortError } as const;

describe('errors: isInstance per class, across copies of the package', () => {
  it('each class recognises its own instances and no other class\'s (RouterError: all of them)', () => {
    const made = samples(errors);
    for (const [name, type] of Object.entries(classes)) {
      for (const [other, error] of Object.entries(made)) {
        const expected = name === 'RouterError' || name === other;
        expect(type.isInstance(error), `${name}.isInstance(${other})`).to.equal(expected);
      }
      expect(type.isInstance(new Error('plain')), `${name} and a plain Error`).to.equal(false);
      expect(type.isInstance(null) || type.isInstance(undefined) || type.isInstance('NeedError'), `${name} and non-objects`).to.equal(false);
    }
    // The case: a NeedError was a QuotaExhaustedError to isInstance.
    expect(QuotaExhaustedError.isInstance(new NeedError({ field: 'x', message: 'y' }))).to.equal(false);
  });

  it('recognises instances of another copy of the module, where instanceof does not', async () => {
    const copy = await secondCopy();
    expect(copy.NeedError).not.to.equal(NeedError);
    const made = samples(copy);
    for (const [name, type] of Object.entries(classes)) {
      expect(made[name], name).not.to.be.instanceOf(type);
      expect(type.isInstance(made[name]), `${name}.isInstance(copy's ${name})`).to.equal(true);
      expect(copy.RouterError.isInstance(samples(errors)[name]), `the copy's RouterError.isInstance(this ${name})`).to.equal(true);
    }
  });
});

describe('errors: constructors take named fields (the positional forms still work)', () => {
  it('keeps every field, the message and the cause', () => {
    const cause = new Error('root');
    const need = new NeedError({ field: 'messages[0].content', message: 'expected a string', cause });
    expect(need).to.deep.include({ code: 'NEED_INVALID', field: 'messages[0].content', message: 'messages[0].content: expected a string', name: 'NeedError' });
    expect(need.cause).to.equal(cause);
    const config = new ConfigError({ option: 'serverURL', message: 'no credentials' });
    expect(config).to.deep.include({ code: 'CONFIG_INVALID', option: 'serverURL', message: 'serverURL: no credentials' });
    const catalog = new CatalogError({ code: 'CATALOG_SCHEMA', message: 'bad', file: 'models.yaml', line: 3, column: 7, pointer: '/models/0' });
    expect(catalog).to.deep.include({ file: 'models.yaml', line: 3, column: 7, pointer: '/models/0', message: 'models.yaml:3:7: bad (at /models/0)' });
    const quota = new QuotaExhaustedError({ message: 'later', retryAfterMs: 250, plan });
    expect(quota).to.deep.include({ code: 'QUOTA_EXHAUSTED', retryAfterMs: 250, plan });
    const store = new StoreError({ message: 'failed', operation: 'settle', cause });
    expect(store).to.deep.include({ code: 'STORE_FAILED', operation: 'settle' });
    expect(store.cause).to.equal(cause);
    const upstream = new UpstreamError({ message: 'HTTP 503', status: 503, body: '{}', isRetryable: true, model: 'm', workspace: 'w' });
    expect(upstream).to.deep.include({ status: 503, body: '{}', isRetryable: true, model: 'm', workspace: 'w' });
    const none = new NoEligibleModelError({ message: 'none', plan, cause });
    expect(none.plan).to.equal(plan);
    expect(none.cause).to.equal(cause);
    const cooling = new ModelCoolingDownError({ message: 'cooling', retryAfterMs: 1_000, models: [{ model: 'm', until: 9, reason: 'timeout' }], plan });
    expect(cooling).to.deep.include({ code: 'COOLING_DOWN', retryAfterMs: 1_000 });
    expect(cooling.models).to.deep.equal([{ model: 'm', until: 9, reason: 'timeout' }]);
  });

  it('the positional forms build the same errors', () => {
    expect(new NeedError('need.minContext', 'bad')).to.deep.include({ field: 'need.minContext', message: 'need.minContext: bad' });
    expect(new QuotaExhaustedError('later', 5, plan)).to.deep.include({ retryAfterMs: 5, plan });
    expect(new CatalogError('CATALOG_SYNTAX', 'oops', { file: 'f.yaml', line: 2 })).to.deep.include({ file: 'f.yaml', line: 2, message: 'f.yaml:2: oops' });
    expect(new StoreError('failed', 'observe')).to.deep.include({ operation: 'observe' });
    expect(new UpstreamError('x', { status: 400, isRetryable: false })).to.deep.include({ status: 400, isRetryable: false });
    expect(new RouterError('ROUTER_CLOSED', 'closed')).to.deep.include({ code: 'ROUTER_CLOSED', message: 'closed' });
  });

  it('a wait in an error is always finite: QuotaExhaustedError and ModelCoolingDownError refuse Infinity and NaN', () => {
    for (const retryAfterMs of [Number.POSITIVE_INFINITY, Number.NaN, -1]) {
      expect(() => new QuotaExhaustedError({ message: 'x', retryAfterMs }), String(retryAfterMs)).to.throw(TypeError, /retryAfterMs/);
      expect(() => new ModelCoolingDownError({ message: 'x', retryAfterMs, models: [] }), String(retryAfterMs)).to.throw(TypeError, /retryAfterMs/);
    }
  });
});

describe('errors: redactSecrets', () => {
  it('removes the given keys, bearer tokens and a URL\'s user and password', () => {
    const text = 'fetch https://admin:hunter2@api.example.com/v1 failed; Authorization: Bearer sk-live-abc123; key sk-given-0123';
    const out = redactSecrets(text, ['sk-given-0123']);
    expect(out).to.equal('fetch https://[redacted]@api.example.com/v1 failed; Authorization: Bearer [redacted]; key [redacted]');
    expect(redactSecrets('see http://127.0.0.1:9/v1 or mailto:a@b')).to.equal('see http://127.0.0.1:9/v1 or mailto:a@b');
  });

  it('a key in another letter case, cut short or cut into, is redacted too; characters of regular expressions in a key are plain', () => {
    const key = 'UpstreamSecret-0123456789abcdefXYZ';
    const out = redactSecrets(`boom with ${key.toLowerCase()}, ${key.toUpperCase()}, ${key.slice(0, 20)}… and …${key.slice(12)}`, [key]);
    expect(out).to.not.match(/upstreamsecret|0123456789abcdef/i);
    expect(out.match(/\[redacted\]/g)).to.have.length(4);
    expect(redactSecrets('the key (a+b)* leaked; aab did not', ['(a+b)*'])).to.equal('the key [redacted] leaked; aab did not');
  });
});
