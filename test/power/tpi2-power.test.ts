import assert from 'node:assert/strict';
import { NodeModel } from '../../src/app/node-model.js';
import type { BmcSimulator } from '../../src/board/simulator/bmc-server.js';
import { resolveNodes } from '../../src/config/nodes.js';
import { parseConfig } from '../../src/config/parse.js';
import { AgentTracker } from '../../src/power/agents.js';
import { PowerService } from '../../src/power/power-service.js';
import { silentLogger } from '../../src/util/logger.js';
import { BmcRig } from '../support/bmc-rig.js';

/**
 * The power service and its writer against a Turing Pi 2's BMC: what the bridge says of a node is
 * what the board reads, or unknown; never a reading from before a write whose answer was lost, nor a
 * poll's reading older than a change made elsewhere.
 */
describe('PowerService over a Turing Pi 2 BMC: power as read, or unknown', () => {
  let rig: BmcRig;
  let bmc: BmcSimulator;

  beforeEach(async () => {
    rig = new BmcRig('writer-pw');
    bmc = await rig.startBmc({ power: [true, false, false, false] });
  });

  afterEach(() => rig.close());

  async function start(config: Record<string, unknown> = {}): Promise<{ service: PowerService; view: NodeModel }> {
    const parsed = parseConfig({ board: { type: 'simulator', simulate: { model: 'tpi2' } }, ...config });
    const nodes = resolveNodes(parsed);
    const driver = rig.driver();
    await driver.open();
    const view = new NodeModel(nodes, rig.clock);
    const reading = await driver.readPower();
    for (const node of nodes) view.observe(node.number, reading.power[node.number - 1] ?? null);
    const journal = { begin: async () => {}, end: async () => {}, commanded: async () => {} };
    const logger = silentLogger();
    const power = parsed.power;
    const events = (): void => {};
    return {
      service: new PowerService({
        ...{ driver, nodes, power, clock: rig.clock, logger, view, event: events, journal },
        agents: new AgentTracker(rig.clock, async () => {}),
      }),
      view,
    };
  }

  async function finish<T>(promise: Promise<T>): Promise<T> {
    let done = false;
    void promise.then(
      () => (done = true),
      () => (done = true),
    );
    for (let waited = 0; !done && waited < 120_000; waited += 100) await rig.clock.advance(100);
    return promise;
  }

  it('publishes power unknown, not the old reading, when the BMC took the set, then went silent', async () => {
    const { service, view } = await start();
    assert.equal(view.power(2), false);
    // bmcd stores the new power before it answers; the answer never comes, nor any later one.
    bmc.cutAnswer('power:set', () => bmc.stopAnswering(true));
    const result = await finish(service.execute(2, 'on', 'mqtt'));
    assert.equal(result.ok, false);
    assert.equal(bmc.state.stored[1], true, 'the BMC switched node 2 on');
    assert.equal(view.power(2), null, 'the old reading (off) published as if known');
    assert.equal(view.state(2), 'unknown');
  });

  it('publishes what the BMC reads when its answer to the set was cut but it answers the read', async () => {
    const { service, view } = await start();
    bmc.cutAnswer('power:set');
    const result = await finish(service.execute(2, 'on', 'mqtt'));
    assert.equal(result.ok, false);
    assert.equal(view.power(2), true);
  });

  it('OFF and ON after the node was switched elsewhere since the last poll switch it, not "already"', async () => {
    const { service, view } = await start();
    // The BMC's web page switches node 2 on; no poll has read it yet.
    bmc.state.setPower(1, true);
    const off = await finish(service.execute(2, 'force-off', 'mqtt'));
    assert.equal(off.ok, true, off.error);
    assert.notEqual(off.note, 'already off');
    assert.equal(bmc.state.stored[1], false, 'left on, answered "already off"');
    assert.equal(view.power(2), false);
    bmc.state.setPower(0, false);
    const on = await finish(service.execute(1, 'on', 'mqtt'));
    assert.equal(on.ok, true, on.error);
    assert.equal(bmc.state.stored[0], true, 'left off, answered "already on"');
  });

  it('an OFF of a node that is off is "already off" after a fresh reading, with nothing written', async () => {
    const { service } = await start();
    const sets = bmc.stats.powerSets;
    const off = await finish(service.execute(3, 'force-off', 'mqtt'));
    assert.equal(off.note, 'already off');
    assert.equal(bmc.stats.powerSets, sets);
  });

  it('a graceful OFF or a SHUTDOWN of a node switched on since the last poll never cuts it unannounced', async () => {
    const { service } = await start({ nodes: { 2: { agent: true }, 3: { agent: false } } });
    bmc.state.setPower(1, true);
    bmc.state.setPower(2, true);
    // Node 2's agent is not online: a graceful OFF cuts nothing. Node 3 has no agent: SHUTDOWN cuts nothing.
    const off = await finish(service.execute(2, 'off', 'mqtt'));
    assert.equal(off.ok, false);
    assert.equal(bmc.state.stored[1], true, 'cut without asking its OS to shut down');
    const shutdown = await finish(service.execute(3, 'shutdown', 'mqtt'));
    assert.equal(shutdown.ok, false);
    assert.match(shutdown.error ?? '', /agent/);
    assert.equal(bmc.state.stored[2], true, 'SHUTDOWN cut power of a running node without an agent');
  });
});
