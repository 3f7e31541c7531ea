/**
 * What a virtual key may call and what may answer it: a key's `models` bound every answer (a fallback, a
 * route, `auto`, a `need` in the body), and a key that lists routes but no models calls its routes only.
 */
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { ALPHA_KEY, BETA_KEY, baseConfig, chatBody, raw, setup } from './support.js';

const SMALL_KEY = 'sk-gw-small-only-secret-0123456789abcdef';

/** Key `small` may name mistral-small-2506 only and use the routes vision-chat (which mistral-small-2506 serves) and embed (which it does not). */
const smallOnly = (emulatorUrl: string) =>
  baseConfig(emulatorUrl, {
    keys: [
      { name: 'alpha', key: '${GW_ALPHA}' },
      { name: 'beta', key: '${GW_BETA}', routes: ['embed'] },
      { name: 'small', sha256: sha256(SMALL_KEY), routes: ['vision-chat', 'embed', 'auto'], models: ['mistral-small-2506'] },
    ],
  });

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const post = (url: string, body: string, key: string) => raw(`${url}/v1/chat/completions`, { method: 'POST', body, key });

describe('gateway: the models a key may call and be answered by', () => {
  it('a body need cannot reach past the key\'s models: prefer and exclude still answer within them', async () => {
    const { url } = await setup({ config: smallOnly });
    const reply = await post(url, chatBody('mistral-small-2506', { need: { exclude: ['mistral-small-2506'], prefer: ['mistral-large-2411'], strategy: 'prefer' } }), SMALL_KEY);
    // Nothing the key may use is left: refused, not answered by mistral-large.
    expect(reply.status).to.equal(400);
    expect(reply.json()).to.include({ code: 'no_eligible_model' });
    const auto = await post(url, chatBody('auto', { need: { prefer: ['mistral-large-2411'] } }), SMALL_KEY);
    expect(auto.status).to.equal(200);
    expect(auto.json().model).to.equal('mistral-small-2506');
  });

  it('a body need of any shape the router takes stays bounded; one it refuses is refused (400), never answered unbounded', async () => {
    const { url } = await setup({ config: smallOnly });
    const single = await post(url, chatBody('auto', { need: { exclude: 'mistral-large-2411' } }), SMALL_KEY);
    expect(single.status).to.equal(200);
    expect(single.json().model).to.equal('mistral-small-2506');
    for (const need of [{ exclude: 5 }, null, [], 'vision']) {
      const reply = await post(url, chatBody('auto', { need }), SMALL_KEY);
      expect(reply.status, JSON.stringify(need)).to.equal(400);
      // The same as for a key without models.
      expect((await post(url, chatBody('auto', { need }), ALPHA_KEY)).status, JSON.stringify(need)).to.equal(400);
    }
  });

  it('a fallback stays within the key\'s models: the model failing upstream leaves an upstream error, not another model\'s answer', async () => {
    const { url, emulator, store } = await setup({ config: smallOnly, emulator: { faults: { errorRate: 1, errorStatuses: [503], models: ['mistral-small-2506'] } } });
    const reply = await post(url, chatBody('mistral-small-2506'), SMALL_KEY);
    // The one model it may use failed and cools down: 503 (or 502), never a 200 from a model outside the key's.
    expect(reply.status).to.be.oneOf([502, 503]);
    expect(reply.headers.get('x-mistral-router-model')).to.equal(null);
    expect(emulator.stats().requests).to.equal(1);
    // The same request from a key without models falls back.
    const open = await post(url, chatBody('mistral-small-2506'), ALPHA_KEY);
    expect(open.status).to.equal(200);
    expect(open.json().model).to.not.equal('mistral-small-2506');
    expect(await store.pendingReservations()).to.equal(0);
  });

  it('a route the key may use is answered only by the key\'s models', async () => {
    const { url } = await setup({ config: smallOnly });
    const reply = await post(url, chatBody('vision-chat'), SMALL_KEY);
    expect(reply.status).to.equal(200);
    expect(reply.headers.get('x-mistral-router-model')).to.equal('mistral-small-2506');
    // The route's own first choice passed over (excluded by the body): for alpha another model answers, for small none may.
    const need = { need: { exclude: ['mistral-small-2506'] } };
    expect((await post(url, chatBody('auto', need), ALPHA_KEY)).status).to.equal(200);
    expect((await post(url, chatBody('auto', need), SMALL_KEY)).status).to.equal(400);
  });

  it('/v1/models lists to a key with models only the routes one of them serves, and those models', async () => {
    const { url } = await setup({ config: smallOnly });
    const ids = ((await raw(`${url}/v1/models`, { key: SMALL_KEY })).json().data as { id: string }[]).map((card) => card.id);
    expect(ids).to.deep.equal(['vision-chat', 'auto', 'mistral-small-2506']);
    expect((await raw(`${url}/v1/models/embed`, { key: SMALL_KEY })).status).to.equal(404);
    // The route itself is still the key's: a call to it is refused for what it is (no model of the key serves it).
    const embed = await raw(`${url}/v1/embeddings`, { method: 'POST', body: JSON.stringify({ model: 'embed', input: ['x'] }), key: SMALL_KEY });
    expect(embed.status).to.equal(400);
    expect(embed.json()).to.include({ code: 'no_eligible_model' });
  });

  it('a key that lists routes but no models calls its routes only: a model by name is 403, and /v1/models lists none', async () => {
    const { url } = await setup();
    const named = await post(url, chatBody('mistral-large-2411'), BETA_KEY);
    expect(named.status).to.equal(403);
    expect(named.json().message).to.include('may not use the model "mistral-large-2411"');
    const list = await raw(`${url}/v1/models`, { key: BETA_KEY });
    expect((list.json().data as { id: string }[]).map((card) => card.id)).to.deep.equal(['embed']);
    const embed = await raw(`${url}/v1/embeddings`, { method: 'POST', body: JSON.stringify({ model: 'embed', input: ['hello'] }), key: BETA_KEY });
    expect(embed.status).to.equal(200);
  });
});
