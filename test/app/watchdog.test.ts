import assert from 'node:assert/strict';
import { FakeClock } from '../../src/util/fake-clock.js';
import { advanceUntil, BASE, bridgeFixture, createCountedTpi1, delay, until, type CountedBoard } from './helpers.js';

/**
 * policies.watchdog wired into the bridge (docs/configuration.md `policies`): an agent offline for
 * offline_after while its node is powered gets a hard power cycle from source `policy`,
 * never during maintenance and never more than max_per_hour.
 */
describe('bridge: watchdog policy end to end', function () {
  this.timeout(20_000);
  const env = bridgeFixture('test');
  const MINUTE = 60_000;
  let clock: FakeClock;
  let board: CountedBoard;

  beforeEach(async () => {
    clock = new FakeClock(Date.now());
    board = createCountedTpi1(clock);
    await env.start({
      clock,
      bus: board.countingBus,
      sections: {
        nodes: { 3: { agent: true } },
        policies: { watchdog: { enabled: true, nodes: [3], offline_after: '1m', max_per_hour: 1 } },
      },
    });
  });

  /** The agent of node 3 (played by the test) says `word`, and the bridge has taken it in. */
  async function agentSays(word: 'online' | 'offline'): Promise<void> {
    await env.rec.publish(`${BASE}/node/3/agent/state`, word);
    // The bridge's answer to a later request proves it has handled the earlier message.
    const response = await env.rec.request('status');
    const node3 = (response.data as { nodes: { node: number; agent_state?: string }[] }).nodes.find(
      (n) => n.node === 3,
    );
    assert.equal(node3?.agent_state, word);
  }

  const node3Cycles = (): number => board.changes.filter((c) => c.node === 3 && !c.on).length;

  it(
    'power-cycles node 3 once its agent has been offline for offline_after while powered, and not more than ' +
      'max_per_hour',
    async () => {
      assert.equal(board.ds4520.nodePowered(3), true);
      await agentSays('online');
      await clock.advance(5 * MINUTE);
      await delay(20);
      assert.equal(node3Cycles(), 0, 'an online agent is left alone');

      const mark = env.rec.mark();
      await agentSays('offline');
      await clock.advance(MINUTE - 1000);
      await delay(50);
      assert.equal(node3Cycles(), 0, 'not before offline_after');

      await advanceUntil(
        clock,
        () => board.changes.some((c) => c.node === 3 && c.on),
        'node 3 back on after the power cycle',
        250,
        10_000,
      );
      assert.deepEqual(
        board.changes,
        [
          { node: 3, on: false },
          { node: 3, on: true },
        ],
        'node 3 off then on, nothing else touched',
      );
      const cycled = await env.rec.waitForEvent((e) => e.type === 'watchdog' && e.result === 'ok', 5000, mark);
      assert.equal(cycled.source, 'policy');
      assert.equal(cycled.node, 3);
      assert.match(cycled.message ?? '', /offline/);
      await env.rec.waitForEvent(
        (e) => e.type === 'power' && e.node === 3 && e.source === 'policy' && e.result === 'ok',
        5000,
        mark,
      );

      // The agent never comes back: the next cycle would be the second in the hour.
      const capMark = env.rec.mark();
      await clock.advance(2 * MINUTE);
      await env.rec.waitForEvent(
        (e) => e.type === 'watchdog' && e.result === 'error' && /max_per_hour/.test(e.error ?? ''),
        5000,
        capMark,
      );
      for (let i = 0; i < 10; i++) {
        await clock.advance(5 * MINUTE);
        await delay(5);
      }
      assert.equal(node3Cycles(), 1, 'one power cycle in the first hour (max_per_hour 1)');
      assert.equal(
        env.rec.events(capMark).filter((e) => e.type === 'watchdog' && e.result === 'error').length,
        1,
        'the cap is reported once, not at every look',
      );
    },
  );

  it(
    'power-cycles node 3 found on at start whose agent is never heard from, offline_after after the ' + 'start',
    async () => {
      const mark = env.rec.mark();
      await clock.advance(MINUTE - 1000);
      await delay(50);
      assert.equal(node3Cycles(), 0, 'not before offline_after');
      await advanceUntil(
        clock,
        () => board.changes.some((c) => c.node === 3 && c.on),
        'the power cycle of a node whose agent never reported',
        250,
        10_000,
      );
      assert.deepEqual(board.changes, [
        { node: 3, on: false },
        { node: 3, on: true },
      ]);
      await env.rec.waitForEvent((e) => e.type === 'watchdog' && e.result === 'ok' && e.node === 3, 5000, mark);
    },
  );

  it("counts earlier runs' cycles against max_per_hour: a bridge restarted in a loop cycles no more", async () => {
    const watchdog = { enabled: true, nodes: [3], offline_after: '1m', max_per_hour: 1 };
    await advanceUntil(
      clock,
      () => board.changes.some((c) => c.node === 3 && c.on),
      'the first power cycle',
      1000,
      2 * MINUTE,
    );
    assert.equal(node3Cycles(), 1);
    // Restarted by its service manager 5 minutes later, then again, each time with the agent still away.
    for (let restart = 1; restart <= 2; restart++) {
      await clock.advance(5 * MINUTE);
      await env.stop();
      const mark = env.rec.mark();
      await env.start({
        clock,
        bus: board.countingBus,
        sections: { nodes: { 3: { agent: true } }, policies: { watchdog } },
      });
      await clock.advance(MINUTE + 1000);
      const capped = await env.rec.waitForEvent(
        (e) => e.type === 'watchdog' && e.result === 'error' && /max_per_hour/.test(e.error ?? ''),
        5000,
        mark,
      );
      assert.match(capped.error ?? '', /already 1 watchdog power cycles in the last hour/, `restart ${restart}`);
      assert.equal(node3Cycles(), 1, `restart ${restart}: no second power cycle within the hour`);
    }
    // Once the first cycle has left the hour, the node is cycled again.
    const backOn = (): number => board.changes.filter((c) => c.node === 3 && c.on).length;
    await advanceUntil(clock, () => backOn() === 2, 'the power cycle an hour later', 10_000, 60 * MINUTE);
    assert.equal(node3Cycles(), 2);
  });

  it('does not power-cycle during maintenance, says so, and does once maintenance is OFF', async () => {
    await env.rec.publish(`${BASE}/bridge/maintenance/set`, 'ON');
    await env.rec.waitForPayload(`${BASE}/bridge/maintenance`, 'ON');
    await until(() => env.run.bridge.maintenance, 'maintenance on in the bridge');
    await agentSays('online');
    const mark = env.rec.mark();
    await agentSays('offline');
    await clock.advance(MINUTE + 1000);
    const paused = await env.rec.waitForEvent((e) => e.type === 'watchdog' && e.result === 'error', 5000, mark);
    assert.match(paused.error ?? '', /maintenance/);
    for (let i = 0; i < 6; i++) {
      await clock.advance(5 * MINUTE);
      await delay(5);
    }
    assert.equal(node3Cycles(), 0, 'no power cycle during maintenance');
    assert.equal(board.ds4520.nodePowered(3), true);

    await env.rec.publish(`${BASE}/bridge/maintenance/set`, 'OFF');
    await until(() => !env.run.bridge.maintenance, 'maintenance off in the bridge');
    await advanceUntil(
      clock,
      () => board.changes.some((c) => c.node === 3 && c.on),
      'the power cycle after maintenance',
      1000,
      5 * MINUTE,
    );
    assert.equal(node3Cycles(), 1);
  });
});
