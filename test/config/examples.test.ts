import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoPath } from '../support/paths.js';
import { checkAgentConfig, checkConfigText, configJsonSchema, formatProblems } from '../../src/config/index.js';

const configDir = repoPath('config');
const examples = readdirSync(configDir).filter((name) => name.endsWith('.yaml'));
// The examples read their secrets from the environment, as users are told to.
const env = { MQTT_PASSWORD: 'example', TPI_BMC_PASSWORD: 'example' };

describe('shipped config files', () => {
  it('include an example of every board type and of the agent', () => {
    for (const name of ['demo.yaml', 'tpi1.yaml', 'tpi2.yaml', 'gpio.yaml', 'agent.yaml'])
      assert.ok(examples.includes(name), name);
  });

  for (const name of examples) {
    it(`${name} is valid`, () => {
      const { config, problems } = checkConfigText(readFileSync(join(configDir, name), 'utf8'), name, { env });
      assert.deepEqual(formatProblems(problems), []);
      assert.ok(config);
      if (name === 'agent.yaml') checkAgentConfig(config);
    });
  }

  it('tpi1.yaml drives a Turing Pi 1 with node 1 protected', () => {
    const { config } = checkConfigText(readFileSync(join(configDir, 'tpi1.yaml'), 'utf8'), 'tpi1.yaml', { env });
    assert.equal(config?.board.type, 'tpi1');
    assert.equal(config?.nodes['1']?.protected, true);
    assert.equal(config?.board.persist_power_state, false);
  });

  it('config/schema.json is up to date with the zod schema (regenerate: npx tsx src/config/write-schema.ts)', () => {
    const shipped: unknown = JSON.parse(readFileSync(join(configDir, 'schema.json'), 'utf8'));
    assert.deepEqual(shipped, configJsonSchema());
  });

  it('config/schema.json rejects unknown keys and carries defaults for editors', () => {
    const schema = configJsonSchema() as {
      additionalProperties?: unknown;
      title?: unknown;
      properties: Record<string, { default?: unknown }>;
    };
    assert.equal(schema.additionalProperties, false);
    assert.equal(schema.title, 'turingpi-mqtt configuration');
    assert.equal(schema.properties['state_dir']?.default, './data');
  });
});

describe('config/demo.yaml', () => {
  it('is the built-in demo that runs without -c, as a file', async () => {
    const { demoConfig } = await import('../../src/cli/demo.js');
    const { config } = checkConfigText(readFileSync(join(configDir, 'demo.yaml'), 'utf8'), 'demo.yaml', { env: {} });
    assert.deepEqual(config, demoConfig());
  });
});
