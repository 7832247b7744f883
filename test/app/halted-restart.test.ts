import assert from 'node:assert/strict';
import { FakeClock } from '../../src/util/fake-clock.js';
import { BASE, bridgeFixture, createCountedTpi1, delay, readBridgeState, until, type CountedBoard } from './helpers.js';

/**
 * A graceful OFF the bridge's stop abandoned while node 3's agent shut its OS down: power stays
 * on (docs/reliability.md). The next run keeps its watchdog off that node while it is halted, and
 * lets go of it, in state_dir too, once the agent is online again: a node that hangs later must be
 * power-cycled as any other, after a restart too. In process, on a fake clock (the built bridge
 * under SIGTERM and SIGKILL: test/faults/restart-after-shutdown.test.ts).
 */
describe('bridge: a restart after a graceful OFF it did not finish', function () {
  this.timeout(20_000);
  const env = bridgeFixture('test');
  const MINUTE = 60_000;
  let clock: FakeClock;
  let board: CountedBoard;
  const sections = {
    nodes: { 3: { agent: true } },
    power: { off_mode: 'graceful', graceful_timeout: '10m', min_off_time: 0 },
    policies: { watchdog: { enabled: true, nodes: [3], offline_after: '1m', max_per_hour: 5 } },
  };
  const start = () => env.start({ clock, bus: board.countingBus, sections });
  const node3Cycles = (): number => board.changes.filter((c) => c.node === 3 && !c.on).length;
  const journalled = (): number[] => readBridgeState(env.stateDir).in_flight.map((e) => e.node);

  async function agentSays(word: 'online' | 'offline' | 'shutting_down'): Promise<void> {
    await env.rec.publish(`${BASE}/node/3/agent/state`, word, { retain: true });
    // The bridge's answer to a later request proves it has handled the earlier message.
    await env.rec.request('status');
  }

  beforeEach(() => {
    clock = new FakeClock(Date.now());
    board = createCountedTpi1(clock);
  });

  it('leaves the halted node alone after the restart, and watches it again once its agent is back', async () => {
    await start();
    await agentSays('online');
    const mark = env.rec.mark();
    await env.rec.command(3, 'OFF');
    await env.rec.waitForEvent((e) => e.node === 3 && e.result === 'progress', 5000, mark);
    await agentSays('shutting_down');
    // The service manager stops the bridge while it waits for the OS to go down; the OS goes down.
    await env.stop();
    assert.deepEqual(journalled(), [3], 'the abandoned OFF stays in the journal');
    await env.rec.publish(`${BASE}/node/3/agent/state`, 'offline', { retain: true });
    assert.equal(board.ds4520.nodePowered(3), true, 'power was left on');

    await start();
    await clock.advance(3 * MINUTE);
    await delay(50);
    assert.equal(node3Cycles(), 0, 'the watchdog does not boot the OS the user shut down');
    assert.deepEqual(journalled(), [3], 'kept while the node is halted, for a restart in a loop');

    // The user brings the node back (its agent online): the entry goes, and a later hang counts.
    await agentSays('online');
    await until(() => journalled().length === 0, 'the entry leaves the journal once the agent is online');
    await env.stop();
    await env.rec.publish(`${BASE}/node/3/agent/state`, 'offline', { retain: true });
    await start();
    await clock.advance(MINUTE + 1000);
    await until(() => node3Cycles() === 1, 'a node hung later is power-cycled after a restart');
    // The cycle's on comes reboot_off_time later (a stop waits for it).
    await clock.advance(MINUTE);
    await until(() => board.ds4520.nodePowered(3), 'node 3 switched on again by the power cycle');
  });

  it('lets go of the entry when the halted node is switched off', async () => {
    await start();
    await agentSays('online');
    const mark = env.rec.mark();
    await env.rec.command(3, 'OFF');
    await env.rec.waitForEvent((e) => e.node === 3 && e.result === 'progress', 5000, mark);
    await env.stop();
    await env.rec.publish(`${BASE}/node/3/agent/state`, 'offline', { retain: true });
    await start();
    assert.deepEqual(journalled(), [3]);
    await env.rec.command(3, 'FORCE_OFF');
    await env.rec.waitForPayload(`${BASE}/node/3/power`, 'OFF', 5000, mark);
    await until(() => journalled().length === 0, 'the entry leaves the journal once the node is off');
  });
});
