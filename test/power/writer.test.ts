import assert from 'node:assert/strict';
import { NodeModel } from '../../src/app/node-model.js';
import type { BmcSimulator } from '../../src/board/simulator/bmc-server.js';
import { resolveNodes } from '../../src/config/nodes.js';
import { parseConfig } from '../../src/config/parse.js';
import { PowerService } from '../../src/power/power-service.js';
import { silentLogger } from '../../src/util/logger.js';
import { BmcRig } from '../support/bmc-rig.js';

/**
 * The power writer against a Turing Pi 2's BMC whose answer to a write is lost: the write may have
 * taken, so what the bridge says of the node must be what the board reads, or unknown.
 */
describe('PowerWriter: a write whose answer is lost (Turing Pi 2 BMC)', () => {
  let rig: BmcRig;
  let bmc: BmcSimulator;

  beforeEach(async () => {
    rig = new BmcRig('writer-pw');
    bmc = await rig.startBmc({ power: [true, false, false, false] });
  });

  afterEach(() => rig.close());

  async function start(): Promise<{ service: PowerService; view: NodeModel }> {
    const parsed = parseConfig({ board: { type: 'simulator', simulate: { model: 'tpi2' } } });
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
      service: new PowerService({ driver, nodes, power, clock: rig.clock, logger, view, event: events, journal }),
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
});
