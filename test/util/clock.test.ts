import assert from 'node:assert/strict';
import { settledWithin } from '../../src/util/clock.js';
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
