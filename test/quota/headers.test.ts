import { expect } from 'chai';
import fc from 'fast-check';
import { type HeaderSource, parseRateLimitHeaders } from '../../lib/quota/headers.js';
import { DEFAULT_BLOCK_MS, classifyUpstreamRefusal, toUpstreamObservation } from '../../lib/quota/upstream-response.js';
import type { WindowObservation } from '../../lib/quota/types.js';

const NOW = Date.UTC(2026, 2, 10, 12, 0, 20);
const tokensMinute = { kind: 'tokens-per-minute', unit: 'tokens', period: 'minute', scope: 'model' } as const;
const tokensMonth = { kind: 'tokens-per-month', unit: 'tokens', period: 'month', scope: 'model' } as const;
const requestsMinute = { kind: 'requests-per-minute', unit: 'requests', period: 'minute', scope: 'workspace' } as const;

const byKind = (windows: readonly WindowObservation[]) => [...windows].sort((a, b) => a.kind.localeCompare(b.kind));

/** Real-looking header sets (mistral-api-facts.md) and what each must yield. */
const TABLE: { name: string; headers: Record<string, string>; windows: WindowObservation[]; queryCost?: number; retryAfterMs?: number }[] = [
  {
    name: 'current family on a 200',
    headers: {
      'content-type': 'application/json',
      'mistral-correlation-id': '019a-abc',
      'x-ratelimit-limit-tokens-minute': '500000',
      'x-ratelimit-remaining-tokens-minute': '499100',
      'x-ratelimit-tokens-query-cost': '900',
      'x-ratelimit-limit-req-minute': '60',
      'x-ratelimit-remaining-req-minute': '59',
      'x-ratelimit-limit-tokens-month': '1000000000',
      'x-ratelimit-remaining-tokens-month': '999000000',
    },
    windows: [
      { ...requestsMinute, limit: 60, remaining: 59 },
      { ...tokensMinute, limit: 500_000, remaining: 499_100 },
      { ...tokensMonth, limit: 1_000_000_000, remaining: 999_000_000 },
    ],
    queryCost: 900,
  },
  {
    name: 'older ratelimitbysize family',
    headers: {
      'ratelimitbysize-limit': '500000',
      'ratelimitbysize-remaining': '480000',
      'ratelimitbysize-reset': '14',
      'ratelimitbysize-query-cost': '20000',
      'x-ratelimitbysize-limit-minute': '500000',
      'x-ratelimitbysize-remaining-minute': '480000',
      'x-ratelimitbysize-limit-month': '1000000000',
      'x-ratelimitbysize-remaining-month': '990000000',
    },
    windows: [
      { ...tokensMinute, limit: 500_000, remaining: 480_000, resetMs: 14_000 },
      { ...tokensMonth, limit: 1_000_000_000, remaining: 990_000_000 },
    ],
    queryCost: 20_000,
  },
  {
    name: 'a 429 with a zero request limit and Retry-After seconds',
    headers: { 'x-ratelimit-limit-req-minute': '0', 'x-ratelimit-remaining-req-minute': '0', 'retry-after': '2' },
    windows: [{ ...requestsMinute, limit: 0, remaining: 0 }],
    retryAfterMs: 2000,
  },
  {
    name: 'reset headers in seconds and as epoch seconds',
    headers: {
      'x-ratelimit-remaining-tokens-minute': '0',
      'x-ratelimit-reset-tokens-minute': '12.5',
      'x-ratelimit-reset-tokens-month': String((NOW + 3_600_000) / 1000),
    },
    windows: [
      { ...tokensMinute, remaining: 0, resetMs: 12_500 },
      { ...tokensMonth, resetMs: 3_600_000 },
    ],
  },
  {
    name: 'both families disagreeing: the lower value wins',
    headers: { 'x-ratelimit-remaining-tokens-minute': '1000', 'ratelimitbysize-remaining': '400', 'x-ratelimitbysize-remaining-minute': '700' },
    windows: [{ ...tokensMinute, remaining: 400 }],
  },
  { name: 'no rate-limit headers at all', headers: { 'content-type': 'application/json' }, windows: [] },
];

describe('rate-limit headers', function () {
  for (const row of TABLE) {
    it(`parses ${row.name}, from a record and from a Headers object alike`, function () {
      for (const source of [row.headers, new Headers(row.headers)] as HeaderSource[]) {
        const parsed = parseRateLimitHeaders(source, NOW);
        expect(byKind(parsed.windows)).to.deep.equal(row.windows);
        expect(parsed.queryCost).to.equal(row.queryCost);
        expect(parsed.retryAfterMs).to.equal(row.retryAfterMs);
        expect(parsed.malformed).to.deep.equal([]);
      }
    });
  }

  it('reads header names in any case from a record', function () {
    const parsed = parseRateLimitHeaders({ 'X-RateLimit-Limit-Tokens-Minute': '100', 'Retry-After': '1' }, NOW);
    expect(parsed.windows).to.deep.equal([{ ...tokensMinute, limit: 100 }]);
    expect(parsed.retryAfterMs).to.equal(1000);
  });

  it('a record naming one header twice in different cases has it repeated; the others it carries are not read', function () {
    const parsed = parseRateLimitHeaders({ 'content-type': 'application/json', 'x-ratelimit-limit-tokens-minute': '100', 'X-RateLimit-Limit-Tokens-Minute': '50', 'Mistral-Correlation-Id': 'c-1', Date: 'x' }, NOW);
    expect(parsed.windows).to.deep.equal([]);
    expect(parsed.malformed).to.deep.equal([{ header: 'x-ratelimit-limit-tokens-minute', value: '100, 50', reason: 'repeated' }]);
    expect(parsed.correlationId).to.equal('c-1');
  });

  it('ignores and lists malformed, negative, huge and repeated values', function () {
    const parsed = parseRateLimitHeaders(
      {
        'x-ratelimit-limit-tokens-minute': '-5',
        'x-ratelimit-remaining-tokens-minute': 'NaN',
        'x-ratelimit-limit-tokens-month': '99999999999999999999',
        'x-ratelimit-remaining-tokens-month': '1e3',
        'x-ratelimit-limit-req-minute': ['60', '60'],
        'x-ratelimit-remaining-req-minute': '12.5',
        'x-ratelimit-tokens-query-cost': '0x10',
        'retry-after': 'soon',
        'ratelimitbysize-remaining': '',
        'x-ratelimitbysize-limit-minute': 'Infinity',
      },
      NOW,
    );
    expect(parsed.windows).to.deep.equal([]);
    expect(parsed.queryCost).to.equal(undefined);
    expect(parsed.retryAfterMs).to.equal(undefined);
    expect(Object.fromEntries(parsed.malformed.map((m) => [m.header, m.reason]))).to.deep.equal({
      'x-ratelimit-limit-tokens-minute': 'negative',
      'x-ratelimit-remaining-tokens-minute': 'not-a-number',
      'x-ratelimit-limit-tokens-month': 'too-large',
      'x-ratelimit-remaining-tokens-month': 'not-an-integer',
      'x-ratelimit-limit-req-minute': 'repeated',
      'x-ratelimit-remaining-req-minute': 'not-an-integer',
      'x-ratelimit-tokens-query-cost': 'not-an-integer',
      'retry-after': 'bad-date',
      'ratelimitbysize-remaining': 'not-a-number',
      'x-ratelimitbysize-limit-minute': 'too-large',
    });
  });

  it('treats a value repeated inside a Headers object as repeated', function () {
    const headers = new Headers();
    headers.append('x-ratelimit-remaining-tokens-minute', '100');
    headers.append('x-ratelimit-remaining-tokens-minute', '999999');
    const parsed = parseRateLimitHeaders(headers, NOW);
    expect(parsed.windows).to.deep.equal([]);
    expect(parsed.malformed).to.deep.equal([{ header: 'x-ratelimit-remaining-tokens-minute', value: '100, 999999', reason: 'repeated' }]);
  });

  it('drops a remaining larger than its limit as inconsistent, keeping the limit', function () {
    const parsed = parseRateLimitHeaders({ 'x-ratelimit-limit-tokens-minute': '100', 'x-ratelimit-remaining-tokens-minute': '5000' }, NOW);
    expect(parsed.windows).to.deep.equal([{ ...tokensMinute, limit: 100 }]);
    expect(parsed.malformed.map((m) => m.reason)).to.deep.equal(['inconsistent']);
  });

  describe('Retry-After', function () {
    const retry = (value: string) => parseRateLimitHeaders({ 'retry-after': value }, NOW);
    it('reads an HTTP date as the wait from now, and a past date as 0', function () {
      expect(retry(new Date(NOW + 30_000).toUTCString()).retryAfterMs).to.equal(30_000);
      expect(retry('Tue, 10 Mar 2026 12:00:50 GMT').retryAfterMs).to.equal(30_000);
      expect(retry('Tue, 10 Mar 2026 11:00:00 GMT').retryAfterMs).to.equal(0);
    });
    it('refuses negative, absurdly long and unparseable values', function () {
      expect(retry('-3').malformed[0]?.reason).to.equal('negative');
      expect(retry('99999999').malformed[0]?.reason).to.equal('too-large');
      expect(retry('Sat, 01 Jan 2050 00:00:00 GMT').malformed[0]?.reason).to.equal('too-large');
      expect(retry('Mon, 99 Foo 2026').malformed[0]?.reason).to.equal('bad-date');
    });
  });

  it('reads the deprecation timestamp as epoch seconds, ms or a date', function () {
    const at = Date.UTC(2026, 5, 30);
    expect(parseRateLimitHeaders({ 'x-model-deprecation-timestamp': String(at / 1000) }, NOW).deprecationAt).to.equal(at);
    expect(parseRateLimitHeaders({ 'x-model-deprecation-timestamp': String(at) }, NOW).deprecationAt).to.equal(at);
    expect(parseRateLimitHeaders({ 'x-model-deprecation-timestamp': '2026-06-30T00:00:00Z' }, NOW).deprecationAt).to.equal(at);
    expect(parseRateLimitHeaders({ 'x-model-deprecation-timestamp': 'soon' }, NOW).malformed[0]?.reason).to.equal('bad-date');
  });

  it('property: garbage never yields a negative, fractional or huge number', function () {
    const names = [
      'x-ratelimit-limit-tokens-minute',
      'x-ratelimit-remaining-tokens-minute',
      'x-ratelimit-reset-req-minute',
      'ratelimitbysize-remaining',
      'x-ratelimit-tokens-query-cost',
      'retry-after',
    ];
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...names), fc.oneof(fc.string(), fc.double().map(String), fc.integer().map(String))), (headers) => {
        const parsed = parseRateLimitHeaders(headers, NOW);
        const numbers = [parsed.queryCost, parsed.retryAfterMs, ...parsed.windows.flatMap((w) => [w.limit, w.remaining, w.resetMs])];
        return numbers.every((n) => n === undefined || (Number.isInteger(n) && n >= 0 && n <= 1e15));
      }),
      { numRuns: 500 },
    );
  });
});

describe('upstream refusals', function () {
  const cases: [number, unknown, string][] = [
    [429, '{"message":"Requests rate limit exceeded"}', 'quota'],
    [429, '{"object":"error","message":"Rate limit exceeded","type":"rate_limited","param":null,"code":"1300"}', 'quota'],
    [429, '{"object":"error","message":"Service tier capacity exceeded for this model.","type":"invalid_request_error","param":null,"code":null}', 'capacity'],
    [503, { object: 'error', message: 'Service tier capacity exceeded for this model.', type: 'service_tier_capacity_exceeded', param: null, code: '3505' }, 'capacity'],
    [503, { type: 'service_tier_capacity_exceeded', code: 3505 }, 'capacity'],
    [429, 'Too Many Requests', 'quota'],
    [429, undefined, 'quota'],
    [503, '<html>upstream unavailable</html>', 'other'],
    [500, '{"message":"Internal error"}', 'other'],
  ];
  for (const [status, body, kind] of cases) {
    it(`classifies ${status} ${typeof body === 'string' ? body.slice(0, 50) : JSON.stringify(body)} as ${kind}`, function () {
      expect(classifyUpstreamRefusal(status, body).kind).to.equal(kind);
    });
  }

  it('keeps the body code, type and message', function () {
    expect(classifyUpstreamRefusal(429, '{"message":"Rate limit exceeded","type":"rate_limited","code":"1300"}')).to.deep.equal({
      kind: 'quota',
      code: '1300',
      type: 'rate_limited',
      message: 'Rate limit exceeded',
    });
  });

  describe('toUpstreamObservation', function () {
    const facts = { workspace: 'w', model: 'mistral-small-2506', now: NOW };
    it('a quota 429 blocks the exhausted window for Retry-After', function () {
      const { observation, refusal } = toUpstreamObservation({
        ...facts,
        status: 429,
        body: '{"message":"Requests rate limit exceeded"}',
        headers: { 'x-ratelimit-limit-req-minute': '0', 'x-ratelimit-remaining-req-minute': '0', 'retry-after': '2' },
      });
      expect(refusal?.kind).to.equal('quota');
      expect(observation.rateLimited).to.deep.equal({ kind: 'requests-per-minute', blockedForMs: 2000 });
    });
    it('without Retry-After, blocks until the exhausted window turns over', function () {
      const { observation } = toUpstreamObservation({ ...facts, status: 429, headers: { 'x-ratelimit-remaining-tokens-minute': '0', 'x-ratelimit-remaining-tokens-month': '0' } });
      expect(observation.rateLimited).to.deep.equal({ kind: 'tokens-per-minute', blockedForMs: 40_000 });
    });
    it('"Requests rate limit exceeded" with only token headers blocks requests per second until the next second', function () {
      const { observation } = toUpstreamObservation({
        ...facts,
        status: 429,
        body: '{"message":"Requests rate limit exceeded"}',
        headers: { 'x-ratelimit-limit-tokens-minute': '500000', 'x-ratelimit-remaining-tokens-minute': '0' },
      });
      expect(observation.rateLimited).to.deep.equal({ kind: 'requests-per-second', blockedForMs: 1_000 - (NOW % 1_000) });
    });
    it('a 429 with no headers blocks the pair for the default time', function () {
      expect(toUpstreamObservation({ ...facts, status: 429, headers: {} }).observation.rateLimited).to.deep.equal({ blockedForMs: DEFAULT_BLOCK_MS });
    });
    it('a capacity refusal blocks nothing, and a 200 carries the learned windows', function () {
      const capacity = toUpstreamObservation({ ...facts, status: 503, headers: {}, body: '{"type":"service_tier_capacity_exceeded","code":"3505"}' });
      expect(capacity.refusal?.kind).to.equal('capacity');
      expect(capacity.observation.rateLimited).to.equal(undefined);
      const ok = toUpstreamObservation({ ...facts, status: 200, headers: { 'x-ratelimit-limit-tokens-minute': '500000' } });
      expect(ok.refusal).to.equal(undefined);
      expect(ok.observation).to.deep.equal({ workspace: 'w', model: 'mistral-small-2506', windows: [{ ...tokensMinute, limit: 500_000 }] });
    });
  });
});
