import assert from 'node:assert/strict';
import { configSchema } from '../../src/config/schema.js';
import { policyNodes } from '../../src/schedule/policies.js';

describe('policy nodes', () => {
  it('watches the listed nodes that may run an agent (true or auto), leaving out protected node 1 from "all"', () => {
    const config = configSchema.parse({
      board: { type: 'simulator', simulate: { model: 'tpi1' } },
      nodes: {
        1: { agent: true },
        2: { agent: true },
        3: { agent: true, enabled: false },
        4: { agent: false },
        5: { agent: true },
        6: { agent: false },
        7: { agent: 'auto' },
      },
      policies: { thermal: { nodes: [5, 6, 7] } },
    });
    assert.deepEqual(policyNodes(config, 'watchdog'), [2, 5, 7]);
    assert.deepEqual(policyNodes(config, 'thermal'), [5, 7]);
  });

  it('takes a node the config does not flag as auto: watched once its agent is seen', () => {
    const config = configSchema.parse({
      board: { type: 'simulator', simulate: { model: 'tpi1' } },
      nodes: { 4: { agent: false } },
    });
    assert.deepEqual(policyNodes(config, 'watchdog'), [2, 3, 5, 6, 7]);
  });
});
