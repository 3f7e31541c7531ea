/**
 * lib/mistral/sse.ts `bodyChunks`: a body read as it comes, split into chunks, and `takeQueued` handing
 * over at once the chunks already read, in order, with the end and failures left to `next()` (`exhausted`
 * says when the next one is the end).
 */
import { expect } from 'chai';
import { bodyChunks, type BodySource } from '../../lib/mistral/sse.js';

const event = (i: number, finish: string | null = null): string => `data: ${JSON.stringify({ id: 'c', model: 'm', choices: [{ index: 0, delta: { content: `p${i}` }, finish_reason: finish }] })}\n\n`;

/** A body the test pushes text into. */
function fakeBody(): BodySource & { push(text: string): void; end(): void; fail(error: Error): void; paused: number; resumed: number; destroyed: boolean } {
  let listener: Parameters<BodySource['listen']>[0] | undefined;
  const body = {
    paused: 0,
    resumed: 0,
    destroyed: false,
    listen: (l: Parameters<BodySource['listen']>[0]) => (listener = l),
    pause: () => void body.paused++,
    resume: () => void body.resumed++,
    destroy: () => void (body.destroyed = true),
    push: (text: string) => listener?.data(text),
    end: () => listener?.end(),
    fail: (error: Error) => listener?.error(error),
  };
  return body;
}

const contentOf = (chunk: { json: { choices: readonly unknown[] } }) => (chunk.json.choices[0] as { delta: { content: string } }).delta.content;

describe('bodyChunks: takeQueued', () => {
  it('hands over the chunks already read, in order, and leaves the end to next()', async () => {
    const body = fakeBody();
    let finished = 0;
    const chunks = bodyChunks(body, undefined, () => finished++);
    expect(chunks.takeQueued()).to.deep.equal([]);
    body.push(event(0) + event(1) + event(2).slice(0, 10));
    expect(contentOf((await chunks.next()).value)).to.equal('p0');
    expect(chunks.takeQueued().map(contentOf)).to.deep.equal(['p1']);
    expect(chunks.takeQueued()).to.deep.equal([]);
    const waiting = chunks.next();
    body.push(event(2).slice(10) + event(3, 'stop') + 'data: [DONE]\n\n');
    expect(contentOf((await waiting).value)).to.equal('p2');
    expect(chunks.exhausted()).to.equal(false);
    body.end();
    expect(chunks.exhausted()).to.equal(false); // p3 is still queued
    expect(chunks.takeQueued().map(contentOf)).to.deep.equal(['p3']);
    expect(chunks.exhausted()).to.equal(true);
    expect(finished).to.equal(1);
    expect(await chunks.next()).to.deep.equal({ value: undefined, done: true });
  });

  it('a failure after the queued chunks still reaches next(); a paused body resumes once they are taken', async () => {
    const body = fakeBody();
    const chunks = bodyChunks(body, undefined, () => undefined);
    body.push(Array.from({ length: 70 }, (_, i) => event(i)).join(''));
    expect(body.paused).to.equal(1);
    expect(chunks.takeQueued()).to.have.length(70);
    expect(body.resumed).to.equal(1);
    body.push(event(70));
    body.fail(new Error('socket hang up'));
    expect(chunks.takeQueued().map(contentOf)).to.deep.equal(['p70']);
    expect(chunks.exhausted()).to.equal(false); // failed: next() has the failure
    let failed: unknown;
    await chunks.next().catch((error: unknown) => (failed = error));
    expect(failed).to.be.instanceOf(Error);
    expect(chunks.takeQueued()).to.deep.equal([]);
  });
});
