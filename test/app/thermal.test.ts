import assert from 'node:assert/strict';
import { FakeClock } from '../../src/util/fake-clock.js';
import { BASE, bridgeFixture, createCountedTpi1, delay, type CountedBoard } from './helpers.js';

/**
 * policies.thermal wired into the bridge (docs/configuration.md `policies`): a node whose agent reports more
 * than max_celsius gets the action once, and again only after it cooled below clear_celsius.
 * action off with power.off_mode hard: the power is cut, no agent round trip.
 */
describe('bridge: thermal policy end to end', function () {
  this.timeout(20_000);
  const env = bridgeFixture('test');
  let board: CountedBoard;

  let clock: FakeClock;

  beforeEach(async () => {
    clock = new FakeClock(Date.now());
    board = createCountedTpi1(clock);
    await env.start(options());
  });

  function options() {
    return {
      clock,
      bus: board.countingBus,
      sections: {
        nodes: { 2: { agent: true } },
        power: { off_mode: 'hard' },
        policies: { thermal: { enabled: true, nodes: [2], max_celsius: 80, clear_celsius: 70, action: 'off' } },
      },
    };
  }

  /** The agent of node 2 (played by the test) reports a temperature; resolves once the bridge handled it. */
  async function temperature(celsius: number): Promise<void> {
    await env.rec.publish(
      `${BASE}/node/2/agent/telemetry`,
      JSON.stringify({ temperature: celsius, cpu_load: 10, hostname: 'node2' }),
    );
    // A later request's answer: the telemetry before it has been taken in.
    await env.rec.request('status');
  }

  const thermalEvents = (from: number) => env.rec.events(from).filter((e) => e.type === 'thermal');
  const offs = (): number => board.changes.filter((c) => c.node === 2 && !c.on).length;

  it('switches a hot node off once, not again while it stays hot, and again after it cooled and got hot', async () => {
    await env.rec.publish(`${BASE}/node/2/agent/state`, 'online');
    const mark = env.rec.mark();
    await temperature(79);
    assert.equal(offs(), 0, 'at or below max_celsius nothing happens');

    await temperature(91);
    await env.rec.waitForPayload(`${BASE}/node/2/power`, 'OFF', 5000, mark);
    const acted = await env.rec.waitForEvent((e) => e.type === 'thermal' && e.result === 'ok', 5000, mark);
    assert.equal(acted.source, 'policy');
    assert.equal(acted.node, 2);
    assert.equal(acted.action, 'off');
    assert.match(acted.message ?? '', /91/);
    assert.deepEqual(board.changes, [{ node: 2, on: false }], 'only node 2 changed');

    const secondMark = env.rec.mark();
    const writes = board.powerWrites();
    await temperature(95);
    assert.equal(board.powerWrites(), writes, 'a second hot sample writes nothing');
    assert.deepEqual(thermalEvents(secondMark), [], 'and is not reported again');

    // Cooled (below clear_celsius), switched back on by a person, hot again: acted on again.
    await temperature(65);
    await env.rec.command(2, 'ON');
    await env.rec.waitForPayload(`${BASE}/node/2/power`, 'ON', 5000, secondMark);
    const thirdMark = env.rec.mark();
    await temperature(88);
    await env.rec.waitForPayload(`${BASE}/node/2/power`, 'OFF', 5000, thirdMark);
    await env.rec.waitForEvent((e) => e.type === 'thermal' && e.result === 'ok', 5000, thirdMark);
    assert.equal(offs(), 2);
    assert.equal(thermalEvents(mark).filter((e) => e.result === 'ok').length, 2, 'two thermal actions in all');
  });

  it('does not act on a sample between clear_celsius and max_celsius after a trip', async () => {
    await env.rec.publish(`${BASE}/node/2/agent/state`, 'online');
    await temperature(90);
    await env.rec.waitForPayload(`${BASE}/node/2/power`, 'OFF');
    const onMark = env.rec.mark();
    await env.rec.command(2, 'ON');
    await env.rec.waitForPayload(`${BASE}/node/2/power`, 'ON', 5000, onMark);
    // 75 °C is below max but not below clear: still tripped; the next hot sample does nothing.
    await temperature(75);
    const mark = env.rec.mark();
    await temperature(90);
    assert.equal(offs(), 1, 'still tripped: no second off');
    assert.deepEqual(thermalEvents(mark), []);
    assert.equal(board.ds4520.nodePowered(2), true);
  });

  it('does not act on a temperature of an agent that is not online (retained from before, at a restart)', async () => {
    // The node's last boot left a hot reading retained; its agent is gone (its will said offline).
    await env.rec.publish(`${BASE}/node/2/agent/state`, 'offline', { retain: true });
    await env.rec.publish(
      `${BASE}/node/2/agent/telemetry`,
      JSON.stringify({ temperature: 95, cpu_load: 10, hostname: 'node2' }),
      { retain: true },
    );
    await env.rec.request('status');
    await env.stop();
    const mark = env.rec.mark();
    await env.start(options());
    await env.rec.request('status');
    await delay(100);
    assert.equal(board.ds4520.nodePowered(2), true, 'a stale reading cuts nothing');
    assert.equal(offs(), 0);
    assert.deepEqual(thermalEvents(mark), []);
    // The agent back online with a fresh reading: that one counts.
    await env.rec.publish(`${BASE}/node/2/agent/state`, 'online', { retain: true });
    await temperature(90);
    await env.rec.waitForPayload(`${BASE}/node/2/power`, 'OFF', 5000, mark);
  });

  it('acts when maintenance ends on a node still hot, without waiting for another reading', async () => {
    await env.rec.publish(`${BASE}/node/2/agent/state`, 'online');
    await env.rec.publish(`${BASE}/bridge/maintenance/set`, 'ON');
    await env.rec.waitForPayload(`${BASE}/bridge/maintenance`, 'ON');
    const mark = env.rec.mark();
    await temperature(92);
    await env.rec.waitForEvent((e) => e.type === 'thermal' && /maintenance is ON/.test(e.error ?? ''), 5000, mark);
    assert.equal(offs(), 0, 'paused');
    // The agent publishes only on a change of 1 °C or more: a node steady at 92 °C says nothing more.
    await env.rec.publish(`${BASE}/bridge/maintenance/set`, 'OFF');
    await env.rec.waitForPayload(`${BASE}/node/2/power`, 'OFF', 5000, mark);
    await env.rec.waitForEvent((e) => e.type === 'thermal' && e.result === 'ok', 5000, mark);
    assert.equal(offs(), 1);
  });

  it('tries again, at a later reading, a node it could not act on (busy with another action)', async () => {
    await env.rec.publish(`${BASE}/node/2/agent/state`, 'online');
    // A person's graceful REBOOT holds the node until its agent has rebooted the OS.
    const mark = env.rec.mark();
    await env.rec.command(2, 'REBOOT');
    await env.rec.waitFor(`${BASE}/node/2/agent/command`, undefined, 5000, mark);
    await temperature(91);
    const refused = await env.rec.waitForEvent((e) => e.type === 'thermal' && e.result === 'error', 5000, mark);
    assert.match(refused.error ?? '', /busy/);
    // The reboot finishes; the node is still hot after it.
    await env.rec.publish(`${BASE}/node/2/agent/state`, 'shutting_down');
    await env.rec.publish(`${BASE}/node/2/agent/state`, 'offline');
    await env.rec.publish(`${BASE}/node/2/agent/state`, 'online');
    await env.rec.waitForEvent((e) => e.type === 'power' && e.result === 'ok', 5000, mark);
    await clock.advance(2 * 60_000);
    await temperature(92);
    await env.rec.waitForPayload(`${BASE}/node/2/power`, 'OFF', 5000, mark);
    assert.equal(offs(), 1);
  });
});
