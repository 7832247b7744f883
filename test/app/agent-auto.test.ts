import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { FakeClock } from '../../src/util/fake-clock.js';
import {
  advanceUntil,
  BASE,
  BOARD_ID,
  bridgeFixture,
  createCountedTpi1,
  delay,
  until,
  type CountedBoard,
} from './helpers.js';

/**
 * nodes.<n>.agent: auto (the default): a node is an agent node once its agent has been seen,
 * remembered in state_dir. SHUTDOWN never cuts power without an OS shutdown, and at start no
 * command runs before the agents' retained states are in. The agents are played by the test
 * on the broker, as a real agent publishes: `online` retained, `offline` as its will.
 */
describe('bridge: agent auto', function () {
  this.timeout(20_000);
  const env = bridgeFixture('test');
  const MINUTE = 60_000;
  let clock: FakeClock;
  let board: CountedBoard;

  beforeEach(() => {
    clock = new FakeClock(Date.now());
    board = createCountedTpi1(clock);
  });

  const agentSays = (node: number, word: string): Promise<void> =>
    env.rec.publish(`${BASE}/node/${node}/agent/state`, word, { retain: true });
  const seenFile = (): { seen: number[] } =>
    JSON.parse(readFileSync(path.join(env.stateDir, 'agents.json'), 'utf8')) as { seen: number[] };
  const cutsOf = (node: number): number => board.changes.filter((c) => c.node === node && !c.on).length;

  async function nodeStatus(node: number): Promise<{ agent: boolean; agent_state?: string }> {
    const response = await env.rec.request('status');
    const { nodes } = response.data as { nodes: { node: number; agent: boolean; agent_state?: string }[] };
    return nodes.find((n) => n.node === node)!;
  }

  /** The bridge sent SHUTDOWN to the agent; the agent shuts down (shutting_down, then offline) only when told to. */
  async function expectAskedToShutDown(node: number, from: number): Promise<void> {
    await env.rec.waitForPayload(`${BASE}/node/${node}/agent/command`, 'SHUTDOWN', 5000, from);
    await delay(100);
    assert.equal(board.ds4520.nodePowered(node), true, `node ${node} is not cut while its agent (its OS) is still up`);
    await agentSays(node, 'shutting_down');
    await agentSays(node, 'offline');
    // settle_time (0 here) runs on the fake clock.
    await advanceUntil(clock, () => !board.ds4520.nodePowered(node), `node ${node} cut after its agent went offline`);
  }

  it(
    'an agent online on a node the config does not flag: OFF asks the agent first, never cuts under the ' +
      'running OS',
    async () => {
      await agentSays(3, 'online');
      await env.start({ clock, bus: board.countingBus });
      assert.equal((await nodeStatus(3)).agent, true, 'node 3 is an agent node: its agent was seen');
      assert.deepEqual(seenFile().seen, [3], 'remembered in state_dir/agents.json');

      const from = env.rec.mark();
      await env.rec.command(3, 'OFF');
      await expectAskedToShutDown(3, from);
      assert.deepEqual(board.changes, [{ node: 3, on: false }]);
    },
  );

  it(
    'SHUTDOWN of a node whose agent was never seen is refused naming FORCE_OFF, nothing cut; its OFF cuts at ' + 'once',
    async () => {
      await env.start({ clock, bus: board.countingBus });
      const from = env.rec.mark();
      await env.rec.command(5, 'SHUTDOWN');
      const refused = await env.rec.waitForEvent((e) => e.node === 5 && e.result === 'error', 5000, from);
      assert.match(refused.error ?? '', /node 5 has no agent.*FORCE_OFF/);
      const answer = await env.rec.request('power', { node: 5, action: 'shutdown' });
      assert.equal(answer.status, 'error');
      assert.match(answer.error ?? '', /FORCE_OFF/);
      assert.equal(board.ds4520.nodePowered(5), true, 'SHUTDOWN never cuts power without an OS shutdown');
      assert.deepEqual(env.rec.since(from, `${BASE}/node/5/agent/command`), [], 'no agent was asked');

      await env.rec.command(5, 'OFF');
      await until(() => !board.ds4520.nodePowered(5), 'node 5 cut by OFF');
      assert.deepEqual(board.changes, [{ node: 5, on: false }]);
    },
  );

  it(
    'remembers the agents it has seen: after a restart with the agent offline, OFF is not a cut under the ' + 'OS',
    async () => {
      await env.start({ clock, bus: board.countingBus });
      await agentSays(3, 'online');
      await until(
        () => existsSync(path.join(env.stateDir, 'agents.json')) && seenFile().seen.includes(3),
        'node 3 saved as seen',
      );
      await env.stop();

      // The agent's connection is gone (its will says offline), the node is still powered.
      await agentSays(3, 'offline');
      await env.start({ clock, bus: board.countingBus });
      const from = env.rec.mark();
      await env.rec.command(3, 'OFF');
      const refused = await env.rec.waitForEvent((e) => e.node === 3 && e.result === 'error', 5000, from);
      assert.match(refused.error ?? '', /agent of node 3 is not online.*FORCE_OFF/);
      assert.equal(cutsOf(3), 0, 'node 3 still powered');

      await env.rec.command(3, 'FORCE_OFF');
      await until(() => !board.ds4520.nodePowered(3), 'FORCE_OFF cuts');
    },
  );

  it('a command arriving right at start is taken with the agents known, never as for an agentless node', async () => {
    await agentSays(3, 'online');
    // The moment the bridge can receive node commands, OFF for node 3 arrives.
    const sent: Promise<void>[] = [];
    env.broker.onSubscribe((filter, clientId) => {
      if (filter === `${BASE}/node/+/set` && clientId === `turingpi-${BOARD_ID}-bridge`)
        sent.push(env.rec.command(3, 'OFF'));
    });
    const from = env.rec.mark();
    await env.start({ clock, bus: board.countingBus });
    await until(() => sent.length === 1, 'OFF sent as the bridge subscribed');
    await Promise.all(sent);
    await expectAskedToShutDown(3, from);
    assert.deepEqual(board.changes, [{ node: 3, on: false }]);
  });

  it("republishes the node's Home Assistant device with the agent entities when its agent is first seen", async () => {
    await env.start({ clock, bus: board.countingBus, sections: { homeassistant: { enabled: true } } });
    const topic = `homeassistant/device/${BOARD_ID}_node4/config`;
    const components = (payload: string): string[] =>
      Object.keys((JSON.parse(payload) as { components: object }).components);
    // Published before start() resolved; its delivery to the recorder may still be under way.
    const before = await env.rec.waitFor(topic);
    assert.ok(!components(before.payload).includes('agent'), 'no agent entities before the agent is seen');
    await env.rec.waitFor(`homeassistant/device/${BOARD_ID}_node7/config`);

    const from = env.rec.mark();
    await agentSays(4, 'online');
    const after = await env.rec.waitFor(topic, (m) => components(m.payload).includes('agent'), 5000, from);
    for (const key of ['agent', 'shutdown', 'temperature', 'cpu_load'])
      assert.ok(components(after.payload).includes(key), key);
    await delay(100);
    const others = env.rec.since(from, (t) => t.startsWith('homeassistant/device/') && t !== topic);
    assert.deepEqual(
      others.map((m) => m.topic),
      [],
      "only node 4's device is republished",
    );
    const event = await env.rec.waitForEvent((e) => e.type === 'agent' && e.node === 4, 5000, from);
    assert.match(event.message ?? '', /agent node/);
  });

  it(
    'watchdog: an auto node whose agent stays away after one power cycle drops out, with no further cycles, ' +
      'until seen again',
    async () => {
      await env.start({
        clock,
        bus: board.countingBus,
        sections: {
          homeassistant: { enabled: true },
          policies: { watchdog: { enabled: true, nodes: [3, 5], offline_after: '1m', max_per_hour: 10 } },
        },
      });
      // Node 5: powered, agent never seen: an agentless node is never power-cycled.
      await agentSays(3, 'online');
      await until(
        () => existsSync(path.join(env.stateDir, 'agents.json')) && seenFile().seen.includes(3),
        'node 3 seen',
      );

      const from = env.rec.mark();
      await agentSays(3, 'offline'); // the agent was uninstalled
      await advanceUntil(
        clock,
        () => board.changes.some((c) => c.node === 3 && c.on),
        'node 3 power-cycled',
        1000,
        5 * MINUTE,
      );
      await env.rec.waitForEvent((e) => e.type === 'watchdog' && e.node === 3 && e.result === 'ok', 5000, from);

      const gaveUp = (): boolean => env.rec.events(from).some((e) => e.type === 'watchdog' && e.result === 'error');
      await advanceUntil(clock, gaveUp, 'the watchdog gives up on node 3', 1000, 5 * MINUTE);
      const dropped = env.rec.events(from).find((e) => e.type === 'watchdog' && e.result === 'error')!;
      assert.match(dropped.error ?? '', /did not come back.*agentless until its agent is seen again/);
      for (let i = 0; i < 12; i++) {
        await clock.advance(10 * MINUTE);
        await delay(5);
      }
      assert.equal(cutsOf(3), 1, 'one power cycle, not one every offline_after for ever');
      assert.equal(cutsOf(5), 0, 'node 5 (no agent seen) never cycled');
      assert.deepEqual(seenFile().seen, [], 'node 3 forgotten in state_dir');
      assert.equal((await nodeStatus(3)).agent, false);
      const deviceConfig = env.rec.last(`homeassistant/device/${BOARD_ID}_node3/config`)!.payload;
      const device = JSON.parse(deviceConfig) as { components: Record<string, object> };
      assert.equal(device.components.shutdown, undefined, 'its device lost the Shut down button');

      // The agent is installed again: node 3 is an agent node and watched again.
      await agentSays(3, 'online');
      await until(() => seenFile().seen.includes(3), 'node 3 seen again');
      assert.equal((await nodeStatus(3)).agent, true);
      await agentSays(3, 'offline');
      const backOn = (): number => board.changes.filter((c) => c.node === 3 && c.on).length;
      await advanceUntil(clock, () => backOn() === 2, 'node 3 watched (and cycled) again', 1000, 5 * MINUTE);
      assert.equal(cutsOf(3), 2);
    },
  );
});
