/**
 * What one response's headers may impose: a 429's block is at most the ceiling, a token limit below the
 * floor is believed only once several responses in a row report it, and everything set aside is listed.
 */
import { expect } from 'chai';
import { DEFAULT_HEADER_BOUNDS, LimitDoubts, boundObservation, type HeaderBounds } from '../../lib/quota/header-bounds.js';
import { toUpstreamObservation } from '../../lib/quota/upstream-response.js';

const NOW = Date.UTC(2026, 2, 10, 12, 0, 20);
const REQUESTS_LIMITED = JSON.stringify({ message: 'Requests rate limit exceeded' });
const TOKENS_LIMITED = JSON.stringify({ message: 'Rate limit exceeded', type: 'rate_limited', code: '1300' });

function observe(status: number, headers: Record<string, string>, doubts = new LimitDoubts(), bounds: HeaderBounds = DEFAULT_HEADER_BOUNDS, model = 'm', body = REQUESTS_LIMITED) {
  const { observation, headers: parsed } = toUpstreamObservation({ workspace: 'w', model, status, headers, body: status === 429 ? body : undefined, now: NOW });
  return boundObservation(observation, parsed, bounds, doubts);
}

describe('header bounds', () => {
  it('a Retry-After of 32 days blocks for the ceiling (5 minutes by default), and says so', () => {
    const { observation, ignored } = observe(429, { 'retry-after': '2764799' });
    expect(observation.rateLimited).to.deep.equal({ kind: 'requests-per-second', blockedForMs: 300_000 });
    expect(ignored).to.deep.equal([{ header: 'retry-after', value: '2764799', reason: 'above-ceiling' }]);
    // A configured ceiling.
    const short = observe(429, { 'retry-after': '120' }, new LimitDoubts(), { ...DEFAULT_HEADER_BOUNDS, maxRetryAfterMs: 60_000 });
    expect(short.observation.rateLimited?.blockedForMs).to.equal(60_000);
    // Within the ceiling: as sent, nothing listed, the same object (no copy on the common path).
    const fine = observe(429, { 'retry-after': '2' });
    expect(fine.observation.rateLimited?.blockedForMs).to.equal(2_000);
    expect(fine.ignored).to.deep.equal([]);
  });

  it('a block from a reset header, or from the month turning, is capped too', () => {
    const month = (headers: Record<string, string>) => observe(429, headers, new LimitDoubts(), DEFAULT_HEADER_BOUNDS, 'm', TOKENS_LIMITED);
    const { observation, ignored } = month({ 'x-ratelimit-remaining-tokens-month': '0', 'x-ratelimit-reset-tokens-month': '2000000' });
    expect(observation.rateLimited).to.deep.equal({ kind: 'tokens-per-month', blockedForMs: 300_000 });
    expect(ignored).to.deep.equal([{ header: 'x-ratelimit-reset-tokens-month', value: '2000000', reason: 'above-ceiling' }]);
    const turning = month({ 'x-ratelimit-remaining-tokens-month': '0' });
    expect(turning.observation.rateLimited?.blockedForMs).to.equal(300_000);
    expect(turning.ignored).to.deep.equal([]); // no header asked for it: our own calendar did
  });

  it('x-ratelimit-limit-tokens-minute: 1 is distrusted (limit and remaining) until three responses in a row report it', () => {
    const doubts = new LimitDoubts();
    const low = { 'x-ratelimit-limit-tokens-minute': '1', 'x-ratelimit-remaining-tokens-minute': '0', 'x-ratelimit-limit-req-minute': '60' };
    for (let i = 0; i < 2; i++) {
      const { observation, ignored } = observe(200, low, doubts);
      expect(observation.windows.map((w) => w.kind), `response ${i + 1}`).to.deep.equal(['requests-per-minute']);
      expect(ignored).to.deep.equal([{ header: 'x-ratelimit-limit-tokens-minute', value: '1', reason: 'below-floor' }]);
    }
    const third = observe(200, low, doubts);
    expect(third.observation.windows.find((w) => w.kind === 'tokens-per-minute')).to.deep.include({ limit: 1, remaining: 0 });
    expect(third.ignored).to.deep.equal([]);
    // Another value starts the count again; so does a trusted one in between.
    const again = new LimitDoubts();
    observe(200, { 'x-ratelimit-limit-tokens-minute': '1' }, again);
    observe(200, { 'x-ratelimit-limit-tokens-minute': '2' }, again);
    expect(observe(200, { 'x-ratelimit-limit-tokens-minute': '2' }, again).ignored).to.have.length(1);
    observe(200, { 'x-ratelimit-limit-tokens-minute': '500000' }, again);
    expect(observe(200, { 'x-ratelimit-limit-tokens-minute': '2' }, again).ignored).to.have.length(1);
    // Counted per (workspace, model): another model's reports do not confirm this one's.
    const perModel = new LimitDoubts();
    observe(200, { 'x-ratelimit-limit-tokens-minute': '1' }, perModel, DEFAULT_HEADER_BOUNDS, 'a');
    observe(200, { 'x-ratelimit-limit-tokens-minute': '1' }, perModel, DEFAULT_HEADER_BOUNDS, 'b');
    expect(observe(200, { 'x-ratelimit-limit-tokens-minute': '1' }, perModel, DEFAULT_HEADER_BOUNDS, 'a').ignored).to.have.length(1);
  });

  it('an invented x-ratelimit-limit-tokens-second: 5 is dropped with its window; plausible limits pass untouched', () => {
    const { observation, ignored } = observe(200, { 'x-ratelimit-limit-tokens-second': '5', 'x-ratelimit-remaining-tokens-second': '5' });
    expect(observation.windows).to.deep.equal([]);
    expect(ignored).to.deep.equal([{ header: 'x-ratelimit-limit-tokens-second', value: '5', reason: 'below-floor' }]);
    // One request per second is a real tier; a token floor does not apply to requests.
    const real = observe(200, { 'x-ratelimit-limit-req-minute': '1', 'x-ratelimit-limit-tokens-minute': '500000', 'x-ratelimit-remaining-tokens-minute': '1' });
    expect(real.ignored).to.deep.equal([]);
    expect(real.observation.windows.map((w) => [w.kind, w.limit])).to.deep.equal([['requests-per-minute', 1], ['tokens-per-minute', 500_000]]);
  });

  it('lists the values the parser refused as well (malformed), each once', () => {
    const { ignored } = observe(200, { 'x-ratelimit-limit-tokens-minute': '1e400', 'retry-after': 'soon' });
    expect(ignored.map((i) => [i.header, i.reason])).to.deep.equal([['x-ratelimit-limit-tokens-minute', 'too-large'], ['retry-after', 'bad-date']]);
  });

  it('LimitDoubts stays bounded whatever a hostile upstream invents', () => {
    const doubts = new LimitDoubts(100);
    for (let i = 0; i < 1_000; i++) observe(200, { 'x-ratelimit-limit-tokens-minute': '1' }, doubts, DEFAULT_HEADER_BOUNDS, `model-${i}`);
    expect(doubts.size).to.be.at.most(100);
  });
});
