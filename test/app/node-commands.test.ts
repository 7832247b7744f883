import assert from 'node:assert/strict';
import { FakeClock } from '../../src/util/fake-clock.js';
import { BASE, bridgeFixture, createCountedTpi1 } from './helpers.js';

/**
 * Whether node's async hooks are on in this process: once any hook with an `init` callback is
 * enabled (AsyncLocalStorage enables one the first time it runs), node gives every promise made
 * from then on an async id of its own, kept as symbol properties of the promise.
 */
const asyncHooksOn = (): boolean => Object.getOwnPropertySymbols(new Promise(() => undefined)).length > 0;

/**
 * `bridge/request/power` with a transaction (docs/topics.md): every event of the action it
 * starts carries the transaction, so a client (the CLI's `power`) can follow its own action.
 */
describe('bridge: power requests and their transaction', function () {
  this.timeout(20_000);
  const env = bridgeFixture('test');

  it("gives the action's events the transaction, and no later command pays for carrying it", async () => {
    assert.equal(asyncHooksOn(), false, 'precondition: nothing in this test process has turned async hooks on');
    const clock = new FakeClock(Date.UTC(2027, 0, 4, 12, 0, 0));
    const board = createCountedTpi1(clock);
    await env.start({ clock, bus: board.countingBus });
    const from = env.rec.mark();
    const answer = await env.rec.request('power', { node: 4, action: 'off' });
    assert.equal(answer.status, 'ok');
    const own = env.rec.events(from).filter((e) => e.type === 'power' && e.node === 4);
    assert.deepEqual(
      own.map((e) => [e.result, e.transaction]),
      [['ok', answer.transaction]],
    );
    // A plain `set` after it starts no transaction of its own, and inherits none.
    const setFrom = env.rec.mark();
    await env.rec.publish(`${BASE}/node/4/set`, 'ON');
    const switched = await env.rec.waitForEvent((e) => e.type === 'power' && e.node === 4, 5000, setFrom);
    assert.equal(switched.transaction, undefined);
    // Carried through async hooks (AsyncLocalStorage), a transaction would turn them on for the
    // rest of the process: every promise of every later command would then cost more (some 8 %
    // of a command's latency here, docs/performance-log.md).
    assert.equal(asyncHooksOn(), false, 'async hooks are still off after a request with a transaction');
  });
});
