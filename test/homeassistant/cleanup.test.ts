import assert from 'node:assert/strict';
import { resolveNodes } from '../../src/config/nodes.js';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { indexOf, parseDiscoveryIndex, planDiscoveryChanges } from '../../src/homeassistant/cleanup.js';
import { buildDiscovery, type DiscoveryMessage } from '../../src/homeassistant/discovery.js';
import { TPI1 } from './boards.js';

function build(raw: ConfigInput): DiscoveryMessage[] {
  const config = configSchema.parse({ ...raw, board: { type: 'tpi1', id: 'rack1' } });
  return buildDiscovery({
    config,
    nodes: resolveNodes(config),
    board: TPI1,
    version: '1.0.0',
    schedules: config.schedules.map((s) => ({ name: s.name })),
  });
}

const NODE3 = 'homeassistant/device/rack1_node3/config';
const NODE6 = 'homeassistant/device/rack1_node6/config';
const BOARD = 'homeassistant/device/rack1/config';

describe('planning discovery changes', () => {
  it('publishes only the current configs when nothing was removed', () => {
    const messages = build({ nodes: { 3: { agent: true } } });
    const plan = planDiscoveryChanges(messages, messages);
    assert.deepEqual(plan.first, []);
    assert.deepEqual(plan.then, messages);
  });

  it('publishes only the current configs on a first start with nothing published before', () => {
    const messages = build({});
    assert.deepEqual(planDiscoveryChanges({}, messages), { first: [], then: messages });
  });

  it('retires removed components with only their platform, then publishes the device without them', () => {
    const before = build({ nodes: { 3: { agent: true } } });
    const after = build({ nodes: { 3: { agent: false } } });
    const plan = planDiscoveryChanges(indexOf(before), after);

    assert.equal(plan.first.length, 1);
    const reduced = plan.first[0];
    assert.equal(reduced?.topic, NODE3);
    const components = reduced?.payload?.components;
    assert.ok(components);
    for (const key of ['shutdown', 'agent', 'temperature', 'cpu_load', 'memory_used', 'disk_used', 'booted']) {
      assert.deepEqual(
        components[key],
        { platform: key === 'agent' ? 'binary_sensor' : key === 'shutdown' ? 'button' : 'sensor' },
        key,
      );
    }
    // The components that stay are published in full alongside, so they are not disturbed.
    const finalNode3 = after.find((m) => m.topic === NODE3);
    assert.deepEqual(components.power, finalNode3?.payload.components.power);
    assert.deepEqual(reduced?.payload?.device, finalNode3?.payload.device);

    assert.deepEqual(plan.then, after);
    assert.equal(
      Object.keys(plan.then.find((m) => m.topic === NODE3)?.payload?.components ?? {}).includes('agent'),
      false,
    );
  });

  it('retires a component whose platform changed under the same key before adding the new one', () => {
    const before = build({});
    const after = build({ nodes: { 3: { protected: true } } });
    const plan = planDiscoveryChanges(before, after);
    const reduced = plan.first.find((m) => m.topic === NODE3);
    assert.deepEqual(reduced?.payload?.components.power, { platform: 'switch' });
    assert.deepEqual(reduced?.payload?.components.force_off, { platform: 'button' });
    assert.equal(plan.then.find((m) => m.topic === NODE3)?.payload?.components.power?.platform, 'binary_sensor');
  });

  it('retires a removed schedule switch from the board device', () => {
    const schedule = { name: 'nightly', cron: '0 23 * * *', action: 'off' as const, nodes: [4] };
    const plan = planDiscoveryChanges(build({ schedules: [schedule] }), build({}));
    assert.deepEqual(
      plan.first.map((m) => m.topic),
      [BOARD],
    );
    assert.deepEqual(plan.first[0]?.payload?.components['schedule_nightly'], { platform: 'switch' });
  });

  it('clears a device no longer configured with an empty retained payload, after the current configs', () => {
    const before = build({});
    const after = build({ nodes: { 6: { enabled: false } } });
    const plan = planDiscoveryChanges(indexOf(before), after);
    assert.deepEqual(plan.first, []);
    assert.deepEqual(plan.then.slice(0, after.length), after);
    assert.deepEqual(plan.then.slice(after.length), [{ topic: NODE6, payload: null }]);
  });

  it('clears everything when Home Assistant discovery is switched off', () => {
    const before = build({});
    const plan = planDiscoveryChanges(indexOf(before), build({ homeassistant: { enabled: false } }));
    assert.deepEqual(plan.first, []);
    assert.deepEqual(
      plan.then,
      before.map((m) => ({ topic: m.topic, payload: null })),
    );
  });

  it('moves every device when the discovery prefix changes: new topics published, old ones cleared', () => {
    const before = build({});
    const after = build({ homeassistant: { discovery_prefix: 'ha2' } });
    const plan = planDiscoveryChanges(before, after);
    assert.deepEqual(plan.first, []);
    const cleared = plan.then.filter((m) => m.payload === null).map((m) => m.topic);
    assert.deepEqual(
      cleared,
      before.map((m) => m.topic),
    );
    assert.ok(plan.then.filter((m) => m.payload !== null).every((m) => m.topic.startsWith('ha2/device/')));
  });
});

describe('the discovery index', () => {
  it('maps each device topic to its component keys and platforms', () => {
    const index = indexOf(build({}));
    assert.deepEqual(index[NODE3], {
      power: 'switch',
      state: 'sensor',
      reboot: 'button',
      force_off: 'button',
      present: 'binary_sensor',
    });
    assert.equal(index['homeassistant/device/rack1_node1/config']?.power, 'binary_sensor');
  });

  it('round-trips through JSON and is accepted back as the previous state', () => {
    const messages = build({ nodes: { 3: { agent: true } } });
    const stored = parseDiscoveryIndex(JSON.parse(JSON.stringify(indexOf(messages))));
    assert.deepEqual(stored, indexOf(messages));
    assert.deepEqual(planDiscoveryChanges(stored ?? {}, messages).first, []);
  });

  it('rejects stored data of another shape', () => {
    assert.equal(parseDiscoveryIndex(null), undefined);
    assert.equal(parseDiscoveryIndex([]), undefined);
    assert.equal(parseDiscoveryIndex({ [NODE3]: ['power'] }), undefined);
    assert.equal(parseDiscoveryIndex({ [NODE3]: { power: 3 } }), undefined);
  });
});
