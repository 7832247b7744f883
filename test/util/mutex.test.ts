import assert from 'node:assert/strict';
import { Mutex } from '../../src/util/mutex.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Mutex', () => {
  it('runs tasks one at a time, in the order they were asked for', async () => {
    const mutex = new Mutex();
    const log: string[] = [];
    let running = 0;
    const task = (name: string, turns: number) => async () => {
      running++;
      assert.equal(running, 1, `${name} overlaps another task`);
      log.push(`${name} start`);
      for (let i = 0; i < turns; i++) await tick();
      log.push(`${name} end`);
      running--;
      return name;
    };
    const results = await Promise.all([mutex.run(task('a', 3)), mutex.run(task('b', 1)), mutex.run(task('c', 2))]);
    assert.deepEqual(results, ['a', 'b', 'c']);
    assert.deepEqual(log, ['a start', 'a end', 'b start', 'b end', 'c start', 'c end']);
  });

  it('gives a failure to its own caller only; the tasks after it still run', async () => {
    const mutex = new Mutex();
    const failed = mutex.run(async () => {
      await tick();
      throw new Error('bus gone');
    });
    const next = mutex.run(async () => 'next ran');
    await assert.rejects(failed, /bus gone/);
    assert.equal(await next, 'next ran');
  });

  it('a task that throws synchronously is a rejection, not a broken chain', async () => {
    const mutex = new Mutex();
    const bad = mutex.run((() => {
      throw new Error('sync throw');
    }) as () => Promise<void>);
    await assert.rejects(bad, /sync throw/);
    assert.equal(await mutex.run(async () => 1), 1);
  });

  it('idle waits for every task asked for so far, failed ones included, and not for later ones', async () => {
    const mutex = new Mutex();
    const log: string[] = [];
    void mutex.run(async () => {
      await tick();
      log.push('a');
    });
    mutex
      .run(async () => {
        await tick();
        log.push('b');
        throw new Error('b failed');
      })
      .catch(() => undefined);
    const idle = mutex.idle().then(() => log.push('idle'));
    void mutex.run(async () => {
      await tick();
      await tick();
      log.push('c');
    });
    await idle;
    assert.deepEqual(log, ['a', 'b', 'idle']);
    await mutex.idle();
    assert.deepEqual(log, ['a', 'b', 'idle', 'c']);
  });

  it('an idle mutex starts a task at once and hands back its own promise; a busy one queues it', async () => {
    const mutex = new Mutex();
    const log: string[] = [];
    const own = (async () => undefined)();
    const first = mutex.run(() => {
      log.push('first started');
      return own;
    });
    assert.deepEqual(log, ['first started'], 'the first task waits for a microtask');
    assert.equal(first, own);
    const second = mutex.run(async () => {
      log.push('second started');
    });
    assert.deepEqual(log, ['first started'], 'the second task started before the first ended');
    await Promise.all([first, second]);
    assert.deepEqual(log, ['first started', 'second started']);
    // Idle again once both ended: at once, again.
    await mutex.idle();
    void mutex.run(async () => {
      log.push('third started');
    });
    assert.deepEqual(log, ['first started', 'second started', 'third started']);
  });
});
