import assert from 'node:assert/strict';
import { findNode, parseConfig, resolveNodes, unknownNodeMessage } from '../../src/config/index.js';
import { NodeModel } from '../../src/app/node-model.js';
import { PowerService } from '../../src/power/power-service.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { silentLogger } from '../../src/util/logger.js';

describe('the one "unknown node" check', () => {
  const config = parseConfig({ board: { type: 'simulator' }, nodes: { 3: { enabled: false } } });
  const nodes = resolveNodes(config);

  it('finds every slot of the board, disabled ones too, and nothing else', () => {
    assert.deepEqual(
      nodes.map((n) => findNode(nodes, n.number)?.number),
      [1, 2, 3, 4, 5, 6, 7],
    );
    assert.equal(findNode(nodes, 3)?.enabled, false);
    for (const n of [0, 8, -1, 2.5, Number.NaN, '3', null, undefined])
      assert.equal(findNode(nodes, n), undefined, String(n));
  });

  it('says which nodes the board has', () => {
    assert.equal(unknownNodeMessage(nodes, '9'), 'unknown node 9: this board has nodes 1-7');
  });

  it('the power service refuses an unknown node with the same words', async () => {
    const events: { error?: string }[] = [];
    const power = new PowerService({
      driver: {} as never, // never reached: the check comes first
      nodes,
      power: config.power,
      clock: new FakeClock(0),
      logger: silentLogger(),
      view: new NodeModel(nodes, new FakeClock(0)),
      event: (e) => events.push(e),
      journal: { begin: async () => undefined, end: async () => undefined, commanded: async () => undefined },
    });
    const result = await power.execute(9, 'off', 'mqtt');
    assert.equal(result.ok, false);
    assert.equal(result.error, unknownNodeMessage(nodes, '9'));
    assert.equal(events[0]?.error, unknownNodeMessage(nodes, '9'));
  });
});
