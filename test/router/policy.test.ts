import { expect } from 'chai';
import { summariseRejections } from '../../lib/router/failures.js';
import { classifyFailure } from '../../lib/router/policy.js';

const http = (statusCode: number, body: string) => Object.assign(new Error(`HTTP ${statusCode}`), { statusCode, body, headers: new Headers() });
const named = (name: string, message = name) => Object.assign(new Error(message), { name });

describe('policy: what a failure means', () => {
  const table: [string, unknown, string, string, boolean][] = [
    ['429 quota (1300)', http(429, '{"object":"error","message":"Rate limit exceeded","type":"rate_limited","param":null,"code":"1300"}'), 'quota', 'block-window', true],
    ['429 requests', http(429, '{"message":"Requests rate limit exceeded"}'), 'quota', 'block-window', true],
    ['429 capacity (3505)', http(429, '{"object":"error","message":"Service tier capacity exceeded for this model.","type":"service_tier_capacity_exceeded","param":null,"code":"3505"}'), 'capacity', 'cooldown-model', true],
    ['503 capacity', http(503, '{"object":"error","message":"Service tier capacity exceeded for this model.","type":"invalid_request_error","param":null,"code":null}'), 'capacity', 'cooldown-model', true],
    ['503 plain', http(503, 'upstream unavailable'), 'server-error', 'cooldown-model', true],
    ['500', http(500, '{"message":"Internal"}'), 'server-error', 'cooldown-model', true],
    ['401', http(401, '{"message":"Unauthorized"}'), 'unauthorized', 'disable-workspace', true],
    ['403', http(403, '{"message":"Forbidden"}'), 'unauthorized', 'disable-workspace', true],
    ['400 context too long', http(400, '{"object":"error","message":"Prompt contains 40000 tokens and 0 draft tokens, too large for model with 32768 maximum context length","type":"invalid_request_error"}'), 'context-too-long', 'larger-context', true],
    ['400 other', http(400, '{"message":"Invalid model"}'), 'invalid-request', 'throw', true],
    ['400 Invalid model (1500)', http(400, '{"object":"error","message":"Invalid model: mistral-small-2506","type":"invalid_model","param":null,"code":"1500"}'), 'invalid-model', 'model-unavailable', false],
    ['404 unknown_model', http(404, '{"object":"error","message":"Invalid model: x","type":"invalid_request_error","param":"model","code":"unknown_model"}'), 'invalid-model', 'model-unavailable', false],
    ['404 other', http(404, '{"detail":"Not Found"}'), 'invalid-request', 'throw', true],
    ['422', http(422, '{"detail":[{"type":"missing","loc":["body","messages"],"msg":"Field required"}]}'), 'invalid-request', 'throw', true],
    ['connection', named('ConnectionError', 'Unable to make request'), 'connection', 'cooldown-model', true],
    ['timeout', named('RequestTimeoutError'), 'timeout', 'cooldown-model', true],
    ['aborted', named('RequestAbortedError'), 'aborted', 'throw', true],
    ['SDK validation', named('SDKValidationError'), 'invalid-request', 'throw', false],
    ['socket hang up', new Error('fetch failed: other side closed'), 'connection', 'cooldown-model', true],
    ['anything else', new Error('boom'), 'unknown', 'throw', true],
  ];
  for (const [name, error, kind, action, reached] of table) {
    it(`${name} -> ${kind}, ${action}`, () => {
      const failure = classifyFailure(error);
      expect({ kind: failure.kind, action: failure.action, reached: failure.reachedUpstream }).to.deep.equal({ kind, action, reached });
    });
  }
});

describe('router: the rejections a NoEligibleModelError sums up', () => {
  it('groups reasons that differ only in numbers, each shown by its first reason as written (ids, dates and sizes kept)', () => {
    const summary = summariseRejections([
      { model: 'a', reason: 'context too small: 32000 < 60000000 tokens' },
      { model: 'b', reason: 'retired on 2025-06-16 (replaced by ministral-8b-2512)' },
      { model: 'c', reason: 'context too small: 128000 < 60000000 tokens' },
    ]);
    expect(summary).to.equal('2 × context too small: 32000 < 60000000 tokens (or alike); 1 × retired on 2025-06-16 (replaced by ministral-8b-2512)');
    expect(summariseRejections([])).to.equal('the catalogue is empty');
  });
});
