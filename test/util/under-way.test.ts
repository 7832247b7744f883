import assert from 'node:assert/strict';
import { keepUntilSettled } from '../../src/util/under-way.js';

describe('keepUntilSettled', () => {
  it('keeps a promise in the set until it resolves, and hands the same promise back', async () => {
    const set = new Set<Promise<unknown>>();
    let resolve: (value: number) => void = () => undefined;
    const promise = new Promise<number>((r) => (resolve = r));
    assert.equal(keepUntilSettled(set, promise), promise);
    assert.equal(set.size, 1);
    resolve(7);
    assert.equal(await promise, 7);
    await Promise.resolve();
    assert.equal(set.size, 0);
  });

  it('lets go of a rejected one too, leaving the rejection to its caller alone', async () => {
    const set = new Set<Promise<unknown>>();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const promise = keepUntilSettled(set, Promise.reject(new Error('failed')));
      await assert.rejects(promise, /failed/);
      await new Promise((r) => setImmediate(r));
      assert.equal(set.size, 0);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
