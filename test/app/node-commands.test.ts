import assert from 'node:assert/strict';
import { systemClock } from '../../src/util/clock.js';
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

/** `bridge/request/power` as people type it, and what its answer says when it fails on some nodes. */
describe('bridge: power requests, their words and their partial failures', function () {
  this.timeout(20_000);
  const env = bridgeFixture('test');

  it('takes an action as the set topic and the messages spell it: FORCE_OFF, force_off', async () => {
    await env.start({ clock: systemClock, bus: createCountedTpi1(systemClock).countingBus });
    for (const [node, action] of [
      [5, 'FORCE_OFF'],
      [6, 'force_off'],
    ] as const) {
      const answer = await env.rec.request('power', { node, action });
      assert.equal(answer.status, 'ok', JSON.stringify(answer));
      assert.deepEqual(answer.data, { node, power: 'OFF', state: 'off' });
    }
    const refused = await env.rec.request('power', { node: 5, action: 'force off' });
    assert.equal(refused.status, 'error');
    assert.match(String(refused.error), /^"action" must be one of on, off, force-off/);
  });

  it('"all" that fails on some nodes answers every node: what changed, and why the others did not', async () => {
    await env.start({ clock: systemClock, bus: createCountedTpi1(systemClock).countingBus });
    assert.equal((await env.rec.request('power', { node: 4, action: 'off' })).status, 'ok');
    const answer = await env.rec.request('power', { node: 'all', action: 'reboot' });
    assert.equal(answer.status, 'error');
    const refusal = 'node 4 is off: REBOOT does not switch it on';
    assert.match(String(answer.error), new RegExp(`^${refusal}`));
    const rows = answer.data as { node: number; power: string; error?: string; note?: string }[];
    assert.deepEqual(
      rows.map((r) => r.node),
      [2, 3, 4, 5, 6, 7],
      'every node "all" covers (node 1 is protected)',
    );
    for (const row of rows) {
      if (row.node === 4) assert.match(String(row.error), new RegExp(`^${refusal}`));
      else assert.deepEqual([row.power, row.error], ['ON', undefined], `node ${row.node} was power cycled`);
    }
  });
});
