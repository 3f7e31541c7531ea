/**
 * One hostile response must not lock out a workspace or a model: the real SDK talks to the emulator
 * through a proxy that rewrites rate-limit headers, and the router bounds what they may impose.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { expect } from 'chai';
import { NoEligibleModelError } from '../../lib/errors.js';
import type { RouterEvents, RouterOptions } from '../../lib/index.js';
import { startHeaderProxy, type HeaderProxy, type HeaderRewrite } from '../helpers/header-proxy.js';
import { closeRouted, drive, startRouted, type Routed } from '../helpers/routed.js';

const KEY = 'sk-test-key-hostile-0123456789';
/** Only codestral-2501 takes a 150k context in the 2025 catalogue. */
const ONLY_CODESTRAL = { need: { minContext: 150_000 }, messages: [{ role: 'user' as const, content: 'hi' }], maxTokens: 10 };
/** The router believes the workspace's requests unmetered; the emulator enforces 1 a second (so a second call in a second gets a 429). */
const UNMETERED = { workspaces: [{ name: 'team-a', apiKey: KEY, tier: 'free', overrides: { requestsPerSecond: null } }] };

const proxies: HeaderProxy[] = [];
afterEach(async () => {
  await closeRouted();
  while (proxies.length > 0) await (proxies.pop() as HeaderProxy).close();
});

async function behindProxy(rewrite: HeaderRewrite, router: Partial<RouterOptions> = {}): Promise<Routed> {
  return startRouted({
    apiKeys: [KEY],
    router: { ...UNMETERED, ...router },
    serverURL: async (url) => {
      const proxy = await startHeaderProxy(url, rewrite);
      proxies.push(proxy);
      return proxy.url;
    },
    record: ['headersIgnored', 'limitsLearned', 'exhausted'] as (keyof RouterEvents)[],
  });
}

const ignoredOf = (s: Routed) => s.events.filter((e) => e.name === ('headersIgnored' as keyof RouterEvents)).flatMap((e) => (e.event as RouterEvents['headersIgnored']).ignored);

/** Replace every rate-limit header of a 200 by `headers`. */
const on200 = (headers: Record<string, string>): HeaderRewrite => (status, sent: IncomingHttpHeaders) => {
  if (status !== 200) return;
  for (const name of Object.keys(sent)) if (name.startsWith('x-ratelimit')) delete sent[name];
  Object.assign(sent, headers);
};

describe('router: hostile rate-limit headers', () => {
  for (const [label, ceiling, expected] of [['the default ceiling (5 minutes)', undefined, 300_000], ['a configured ceiling', 60_000, 60_000]] as const) {
    it(`Retry-After: 2764799 (32 days) on a 429 blocks for ${label}, and is reported`, async () => {
      const s = await behindProxy((status, headers) => {
        if (status === 429) headers['retry-after'] = '2764799';
      }, { maxWaitMs: 600_000, ...(ceiling === undefined ? {} : { maxRetryAfterMs: ceiling }) } as Partial<RouterOptions>);
      await drive(s, s.router.chat.complete(ONLY_CODESTRAL));
      const second = await drive(s, s.router.chat.complete(ONLY_CODESTRAL), 1_000, 700);
      expect(second.routing.attempts.map((a) => a.outcome)).to.deep.equal(['quota', 'ok']);
      expect(second.routing.waitedMs).to.be.within(expected - 1_000, expected);
      expect(ignoredOf(s)).to.deep.equal([{ header: 'retry-after', value: '2764799', reason: 'above-ceiling' }]);
    });
  }

  for (const [label, headers] of [
    ['x-ratelimit-limit-tokens-minute: 1', { 'x-ratelimit-limit-tokens-minute': '1', 'x-ratelimit-remaining-tokens-minute': '0' }],
    ['an invented x-ratelimit-limit-tokens-second: 5', { 'x-ratelimit-limit-tokens-second': '5', 'x-ratelimit-remaining-tokens-second': '5' }],
  ] as const) {
    it(`${label} on one response changes nothing; believed only once three responses in a row say it, and then no wait is Infinity`, async () => {
      const s = await behindProxy(on200(headers), { workspaces: [{ name: 'team-a', apiKey: KEY, tier: 'free' }] });
      for (let i = 0; i < 3; i++) {
        const served = await drive(s, s.router.chat.complete(ONLY_CODESTRAL));
        expect(served.routing.model, `call ${i + 1}`).to.equal('codestral-2501');
        s.clock.advance(1_000); // the free tier's next request slot
      }
      const below = ignoredOf(s);
      expect(below, 'the first two reports').to.have.length(2);
      expect(below.every((i) => i.reason === 'below-floor')).to.equal(true);
      expect(s.events.filter((e) => e.name === 'limitsLearned').map((e) => (e.event as RouterEvents['limitsLearned']).limit)).to.deep.equal([Number(Object.values(headers)[0])]);
      // Confirmed: no request fits the only candidate now. Said as such, never as a wait of Infinity.
      const error = await drive(s, s.router.chat.complete(ONLY_CODESTRAL)).then(() => undefined, (e: unknown) => e);
      expect(error, String(error)).to.be.instanceOf(NoEligibleModelError);
      expect((error as Error).message).to.match(/larger than a limit of every candidate/);
      expect(s.events.filter((e) => e.name === 'exhausted')).to.deep.equal([]);
    });
  }

  it('a decision reports a candidate the request never fits with retryAfterMs null, not Infinity', async () => {
    const s = await behindProxy(() => {}, {
      workspaces: [{ name: 'team-a', apiKey: KEY, tier: 'free', overrides: { models: { 'mistral-small-2506': { tokensPerMinute: 5 } } } }],
      fallbacks: { 'mistral-small-2506': ['open-mistral-nemo'] },
    });
    const result = await drive(s, s.router.chat.complete({ model: 'mistral-small-2506', messages: ONLY_CODESTRAL.messages, maxTokens: 10 }));
    expect(result.routing.model).to.equal('open-mistral-nemo');
    expect(result.routing.passedOver).to.deep.equal([{ workspace: 'team-a', model: 'mistral-small-2506', windows: ['tokens-per-minute'], retryAfterMs: null }]);
  });
});
