import assert from 'node:assert/strict';
import { monotonicNow, settledWithin } from '../../src/util/clock.js';
import { FakeClock } from '../../src/util/fake-clock.js';

describe('settledWithin', () => {
  it("gives the promise's value and clears its timer when the promise comes first", async () => {
    const clock = new FakeClock();
    assert.equal(await settledWithin(clock, 1000, Promise.resolve('sent')), 'sent');
    assert.equal(clock.pending, 0);
  });

  it('gives undefined once the time is up, and drops a later rejection', async () => {
    const clock = new FakeClock();
    let fail: (error: Error) => void = () => undefined;
    const late = new Promise<string>((_resolve, reject) => (fail = reject));
    const result = settledWithin(clock, 1000, late);
    await clock.advance(1000);
    assert.equal(await result, undefined);
    const unhandled: unknown[] = [];
    const note = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', note);
    try {
      fail(new Error('too late to matter'));
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('unhandledRejection', note);
    }
    assert.deepEqual(unhandled, [], 'the late rejection reached nobody: it was dropped, not left unhandled');
  });

  it('rejects when the promise rejects first, and clears its timer', async () => {
    const clock = new FakeClock();
    await assert.rejects(settledWithin(clock, 1000, Promise.reject(new Error('lost'))), /lost/);
    assert.equal(clock.pending, 0);
  });
});

describe('FakeClock.step (a wall-clock step, as NTP makes one)', () => {
  it('moves now() but neither monotonic() nor the time the timers have left', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    let fired = 0;
    clock.setTimeout(() => fired++, 1000);
    clock.step(Date.UTC(2030, 0, 1));
    assert.equal(clock.now(), Date.UTC(2030, 0, 1));
    assert.equal(clock.monotonic(), 0);
    await clock.advance(999);
    assert.equal(fired, 0);
    await clock.advance(1);
    assert.equal(fired, 1);
    assert.equal(clock.monotonic(), 1000);
    clock.step(Date.UTC(1970, 0, 1));
    clock.setTimeout(() => fired++, 500);
    await clock.advance(500);
    assert.equal(fired, 2);
  });

  it('monotonicNow() falls back to now() for a clock without monotonic()', () => {
    assert.equal(monotonicNow({ now: () => 42, setTimeout: () => 0 as never, clearTimeout: () => undefined }), 42);
  });
});
