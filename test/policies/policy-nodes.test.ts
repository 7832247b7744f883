import assert from 'node:assert/strict';
import { configSchema } from '../../src/config/schema.js';
import { policyNodes } from '../../src/schedule/policies.js';

describe('policy nodes', () => {
  it('watches the listed nodes that run an agent, leaving out protected node 1 from "all"', () => {
    const config = configSchema.parse({
      board: { type: 'simulator', simulate: { model: 'tpi1' } },
      nodes: { 1: { agent: true }, 2: { agent: true }, 3: { agent: true, enabled: false }, 5: { agent: true } },
      policies: { thermal: { nodes: [5, 6] } },
    });
    assert.deepEqual(policyNodes(config, 'watchdog'), [2, 5]);
    assert.deepEqual(policyNodes(config, 'thermal'), [5]);
  });
});
