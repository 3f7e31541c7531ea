/**
 * Deadlines: one timeout, one timer, over many promises (the Redis store's commands) or watched operations (the router's attempts).
 */
import { expect } from 'chai';
import { FakeClock } from '../lib/clock.js';
import { Deadlines } from '../lib/deadlines.js';

class TimedOut extends Error {}

const never = () => new Promise<never>(() => {});

describe('Deadlines (one timeout, one timer, many promises)', function () {
  it('passes answers and errors through untouched', async function () {
    const deadlines = new Deadlines(1_000, () => new TimedOut('late'));
    expect(await deadlines.bound(Promise.resolve(42))).to.equal(42);
    const failure = new Error('boom');
    const caught = await deadlines.bound(Promise.reject(failure)).catch((error: unknown) => error);
    expect(caught).to.equal(failure);
    expect(deadlines.pending).to.equal(0);
    deadlines.clear();
  });

  it('watch/done: calls back an operation not done in time, never one that was', async function () {
    const clock = new FakeClock();
    const deadlines = new Deadlines(30, () => new TimedOut('late'), clock);
    const fired: string[] = [];
    const finished = deadlines.watch(() => fired.push('finished'));
    deadlines.watch((error) => fired.push(error instanceof TimedOut ? 'hung' : 'wrong error'));
    deadlines.done(finished);
    deadlines.done(finished); // twice is harmless
    clock.advance(29);
    expect(fired, 'nothing fires before the timeout').to.deep.equal([]);
    clock.advance(1);
    expect(fired).to.deep.equal(['hung']);
    expect(deadlines.pending).to.equal(0);
  });

  it('rejects a promise that has not settled within the timeout, and only that one', async function () {
    const clock = new FakeClock();
    const deadlines = new Deadlines(30, () => new TimedOut('late'), clock);
    let answer!: (value: string) => void;
    const answered = deadlines.bound(new Promise<string>((resolve) => (answer = resolve)));
    const hung = deadlines.bound(never()).catch((error: unknown) => error);
    answer('in time');
    expect(await answered).to.equal('in time');
    let outcome: unknown = 'pending';
    void hung.then((value) => (outcome = value));
    await clock.advanceAsync(29);
    expect(outcome, 'still pending before the timeout').to.equal('pending');
    await clock.advanceAsync(1);
    expect(outcome).to.be.instanceOf(TimedOut);
    expect(deadlines.pending).to.equal(0);
  });

  it('a late answer to a timed-out entry never clears a newer entry in the same slot', async function () {
    const deadlines = new Deadlines(20, () => new TimedOut('late'));
    let lateAnswer!: (value: number) => void;
    const first = deadlines.bound(new Promise<number>((resolve) => (lateAnswer = resolve))).catch((error: unknown) => error);
    expect(await first).to.be.instanceOf(TimedOut);
    // 256 newer entries: one of them lands in the timed-out entry's slot.
    const newer = Array.from({ length: 256 }, () => deadlines.bound(never()).catch((error: unknown) => error));
    lateAnswer(1);
    const outcomes = await Promise.all(newer);
    expect(outcomes.every((outcome) => outcome instanceof TimedOut)).to.equal(true);
  });

  it('grows past its first ring and keeps every entry', async function () {
    const deadlines = new Deadlines(1_000, () => new TimedOut('late'));
    const resolvers: Array<(value: number) => void> = [];
    const bound = Array.from({ length: 2_000 }, (_, i) => deadlines.bound(new Promise<number>((resolve) => resolvers.push(() => resolve(i)))));
    expect(deadlines.pending).to.equal(2_000);
    resolvers.forEach((resolve, i) => resolve(i));
    expect(await Promise.all(bound)).to.deep.equal(Array.from({ length: 2_000 }, (_, i) => i));
    expect(deadlines.pending).to.equal(0);
    deadlines.clear();
  });

  it('clear() rejects what is still pending at once, with the error given', async function () {
    const deadlines = new Deadlines(60_000, () => new TimedOut('late'));
    const pending = [deadlines.bound(never()), deadlines.bound(never())].map((p) => p.catch((error: unknown) => error));
    deadlines.clear(() => new Error('closing'));
    const outcomes = (await Promise.all(pending)) as Error[];
    expect(outcomes.map((outcome) => outcome.message)).to.deep.equal(['closing', 'closing']);
    expect(deadlines.pending).to.equal(0);
  });
});
