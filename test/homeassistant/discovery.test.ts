import assert from 'node:assert/strict';
import type { BoardInfo } from '../../src/board/types.js';
import { resolveNodes } from '../../src/config/nodes.js';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import {
  buildDiscovery,
  NODE_STATES,
  type ComponentConfig,
  type DiscoveryInput,
  type DiscoveryMessage,
} from '../../src/homeassistant/discovery.js';
import { TPI1, TPI2 } from './boards.js';

function inputFor(raw: ConfigInput, board: BoardInfo, extra: Partial<DiscoveryInput> = {}): DiscoveryInput {
  const config = configSchema.parse(raw);
  return {
    config,
    nodes: resolveNodes(config),
    board,
    version: '1.2.3',
    schedules: config.schedules.map((s) => ({ name: s.name })),
    ...extra,
  };
}

function tpi1Input(raw: ConfigInput = {}, extra: Partial<DiscoveryInput> = {}): DiscoveryInput {
  return inputFor({ ...raw, board: { type: 'tpi1', id: 'rack1', name: 'Rack', ...raw.board } }, TPI1, extra);
}

function deviceAt(messages: DiscoveryMessage[], topic: string): DiscoveryMessage['payload'] {
  const message = messages.find((m) => m.topic === topic);
  assert.ok(message, `no discovery message on ${topic}; topics: ${messages.map((m) => m.topic).join(', ')}`);
  return message.payload;
}

function componentOf(messages: DiscoveryMessage[], topic: string, key: string): ComponentConfig {
  const component = deviceAt(messages, topic).components[key];
  assert.ok(component, `device ${topic} has no component ${key}`);
  return component;
}

function availabilityTopics(component: ComponentConfig): string[] | undefined {
  const list = component.availability as { topic: string }[] | undefined;
  return list?.map((a) => a.topic);
}

describe('Home Assistant discovery', () => {
  describe('a Turing Pi 1 with seven nodes and node 1 protected by default', () => {
    const messages = buildDiscovery(tpi1Input());
    const node = (n: number) => `homeassistant/device/rack1_node${n}/config`;

    it('publishes one device for the board and one per node, on the device discovery topics', () => {
      assert.deepEqual(
        messages.map((m) => m.topic),
        ['homeassistant/device/rack1/config', ...[1, 2, 3, 4, 5, 6, 7].map(node)],
      );
    });

    it('names the devices after the board and the node, links nodes to the board and gives the origin', () => {
      const board = deviceAt(messages, 'homeassistant/device/rack1/config');
      assert.equal(board.device.name, 'Rack');
      assert.equal(board.device.manufacturer, 'Turing Machines');
      assert.equal(board.device.model, 'Turing Pi 1');
      assert.equal(board.device.sw_version, '1.2.3');
      assert.deepEqual(board.origin, { name: 'turingpi-mqtt', sw_version: '1.2.3' });
      const node3 = deviceAt(messages, node(3));
      assert.equal(node3.device.name, 'Rack Node 3');
      assert.equal(node3.device.via_device, board.device.identifiers[0]);
      assert.notEqual(node3.device.identifiers[0], board.device.identifiers[0]);
    });

    it('keeps only device, origin, qos and components at the top level, with QoS 1', () => {
      for (const { payload } of messages) {
        assert.deepEqual(Object.keys(payload).sort(), ['components', 'device', 'origin', 'qos']);
        assert.equal(payload.qos, 1);
      }
    });

    it('gives the protected node 1 a power binary_sensor and no power switch, reboot or force-off button', () => {
      const components = deviceAt(messages, node(1)).components;
      assert.equal(components.power?.platform, 'binary_sensor');
      assert.equal(components.power?.device_class, 'power');
      assert.equal(components.power?.command_topic, undefined);
      assert.equal(components.reboot, undefined);
      assert.equal(components.force_off, undefined);
      assert.equal(components.shutdown, undefined);
      assert.ok(components.state, 'the protected node still shows its state');
    });

    it('gives unprotected nodes a power switch on node/<n>/power commanded on node/<n>/set', () => {
      const power = componentOf(messages, node(4), 'power');
      assert.equal(power.platform, 'switch');
      assert.equal(power.state_topic, 'turingpi/node/4/power');
      assert.equal(power.command_topic, 'turingpi/node/4/set');
      assert.equal(power.payload_on, 'ON');
      assert.equal(power.payload_off, 'OFF');
      assert.equal(power.state_on, 'ON');
      assert.equal(power.state_off, 'OFF');
      assert.equal(power.retain, false);
    });

    it('offers Reboot (restart button) and Force off but no Shut down on nodes without an agent', () => {
      const components = deviceAt(messages, node(2)).components;
      assert.equal(components.reboot?.platform, 'button');
      assert.equal(components.reboot?.device_class, 'restart');
      assert.equal(components.reboot?.payload_press, 'REBOOT');
      assert.equal(components.reboot?.command_topic, 'turingpi/node/2/set');
      assert.equal(components.force_off?.payload_press, 'FORCE_OFF');
      assert.equal(components.shutdown, undefined);
    });

    it('hides Force off until a person enables it, as a config entity', () => {
      for (const n of [2, 3, 4, 5, 6, 7]) {
        const forceOff = componentOf(messages, node(n), 'force_off');
        assert.equal(forceOff.enabled_by_default, false);
        assert.equal(forceOff.entity_category, 'config');
      }
    });

    it('shows the node state as an enum sensor with since/source/reason as attributes', () => {
      const state = componentOf(messages, node(5), 'state');
      assert.equal(state.platform, 'sensor');
      assert.equal(state.device_class, 'enum');
      assert.deepEqual(state.options, ['off', 'starting', 'on', 'shutting_down', 'rebooting', 'unknown']);
      assert.deepEqual(state.options, [...NODE_STATES]);
      assert.equal(state.state_topic, 'turingpi/node/5/state');
      assert.equal(state.value_template, '{{ value_json.state }}');
      assert.equal(state.json_attributes_topic, 'turingpi/node/5/state');
      const template = String(state.json_attributes_template);
      for (const field of ['since', 'source', 'reason']) assert.match(template, new RegExp(`value_json\\.${field}`));
    });

    it('shows presence as a diagnostic binary_sensor, since a Turing Pi 1 can tell', () => {
      const present = componentOf(messages, node(6), 'present');
      assert.equal(present.platform, 'binary_sensor');
      assert.equal(present.entity_category, 'diagnostic');
      assert.equal(present.state_topic, 'turingpi/node/6/present');
    });

    it('gives nodes without an agent no agent entities and, on a board without power-on times, no Booted', () => {
      const components = deviceAt(messages, node(3)).components;
      for (const key of ['agent', 'temperature', 'cpu_load', 'memory_used', 'disk_used', 'booted']) {
        assert.equal(components[key], undefined, key);
      }
    });

    it('puts the bridge, board, maintenance and clock entities on the board device', () => {
      const components = deviceAt(messages, 'homeassistant/device/rack1/config').components;
      assert.deepEqual(Object.keys(components), [
        'bridge',
        'board',
        'maintenance',
        'rtc_drift',
        'rtc_oscillator',
        'rtc_power_failure',
        'rtc_sync',
      ]);
      assert.equal(components.bridge?.device_class, 'connectivity');
      assert.equal(components.bridge?.state_topic, 'turingpi/bridge/state');
      assert.equal(components.bridge?.payload_on, 'online');
      assert.equal(components.board?.state_topic, 'turingpi/board/state');
      assert.equal(components.board?.entity_category, 'diagnostic');
      assert.equal(components.maintenance?.platform, 'switch');
      assert.equal(components.maintenance?.entity_category, 'config');
      assert.equal(components.maintenance?.state_topic, 'turingpi/bridge/maintenance');
      assert.equal(components.maintenance?.command_topic, 'turingpi/bridge/maintenance/set');
    });

    it(
      'reads the clock entities from the rtc JSON: drift in seconds, problems when the oscillator stops or ' +
        'power failed',
      () => {
        const drift = componentOf(messages, 'homeassistant/device/rack1/config', 'rtc_drift');
        assert.equal(drift.state_topic, 'turingpi/rtc');
        assert.equal(drift.unit_of_measurement, 's');
        assert.equal(drift.state_class, 'measurement');
        assert.equal(drift.entity_category, 'diagnostic');
        assert.equal(drift.value_template, '{{ value_json.drift }}');
        const oscillator = componentOf(messages, 'homeassistant/device/rack1/config', 'rtc_oscillator');
        assert.equal(oscillator.device_class, 'problem');
        assert.equal(oscillator.value_template, "{{ 'OFF' if value_json.oscillator_running else 'ON' }}");
        const powerFailure = componentOf(messages, 'homeassistant/device/rack1/config', 'rtc_power_failure');
        assert.equal(powerFailure.device_class, 'problem');
        assert.equal(powerFailure.value_template, "{{ 'ON' if value_json.power_failed else 'OFF' }}");
        const sync = componentOf(messages, 'homeassistant/device/rack1/config', 'rtc_sync');
        assert.equal(sync.platform, 'button');
        assert.equal(sync.command_topic, 'turingpi/rtc/set');
        assert.equal(sync.payload_press, 'SYNC');
        assert.equal(sync.entity_category, 'config');
      },
    );

    it('leaves the Bridge entity without availability and makes every other entity depend on the bridge', () => {
      for (const { payload } of messages) {
        for (const [key, component] of Object.entries(payload.components)) {
          if (key === 'bridge') {
            assert.equal(component.availability, undefined);
            continue;
          }
          assert.ok(availabilityTopics(component)?.includes('turingpi/bridge/state'), `${component.unique_id}`);
          assert.equal(component.availability_mode, 'all', component.unique_id);
        }
      }
    });

    it('makes the power entities also depend on the board, and nothing else', () => {
      for (const key of ['power', 'state', 'reboot', 'force_off']) {
        assert.deepEqual(availabilityTopics(componentOf(messages, node(2), key)), [
          'turingpi/bridge/state',
          'turingpi/board/state',
        ]);
      }
      assert.deepEqual(availabilityTopics(componentOf(messages, node(2), 'present')), ['turingpi/bridge/state']);
      const maintenance = componentOf(messages, 'homeassistant/device/rack1/config', 'maintenance');
      assert.deepEqual(maintenance.availability, [
        { topic: 'turingpi/bridge/state', payload_available: 'online', payload_not_available: 'offline' },
      ]);
    });
  });

  describe('unique ids', () => {
    const input = tpi1Input({
      nodes: { 2: { agent: true }, 3: { agent: true, name: 'db' } },
      schedules: [
        { name: 'nightly-off', cron: '0 23 * * *', action: 'off', nodes: [4] },
        { name: 'morning', cron: '0 7 * * *', action: 'on', nodes: 'all' },
      ],
    });
    const messages = buildDiscovery(input);
    const all = messages.flatMap((m) => Object.entries(m.payload.components).map(([key, c]) => ({ key, c, m })));

    it('are unique across every device of the bridge', () => {
      const ids = all.map(({ c }) => c.unique_id);
      assert.equal(new Set(ids).size, ids.length);
    });

    it('are <board.id>_<key> on the board and <board.id>_node<n>_<key> on nodes, with the component key', () => {
      for (const { key, c, m } of all) {
        const n = /_node(\d+)\/config$/.exec(m.topic)?.[1];
        assert.equal(c.unique_id, n === undefined ? `rack1_${key}` : `rack1_node${n}_${key}`);
      }
    });

    it('do not depend on node names, versions or the order of schedules', () => {
      const renamed = buildDiscovery(
        tpi1Input(
          {
            nodes: { 2: { agent: true, name: 'web' }, 3: { agent: true } },
            schedules: [
              { name: 'morning', cron: '0 7 * * *', action: 'on', nodes: 'all' },
              { name: 'nightly-off', cron: '0 23 * * *', action: 'off', nodes: [4] },
            ],
          },
          { version: '9.9.9' },
        ),
      );
      const ids = (ms: DiscoveryMessage[]) =>
        ms.flatMap((m) => Object.values(m.payload.components).map((c) => c.unique_id)).sort();
      assert.deepEqual(ids(renamed), ids(messages));
      assert.equal(deviceAt(renamed, 'homeassistant/device/rack1_node2/config').device.name, 'Rack web');
    });

    it('are the same when built twice (stable across restarts)', () => {
      assert.deepEqual(buildDiscovery(input), messages);
    });
  });

  describe('a Turing Pi 2 without a clock or presence', () => {
    const input = inputFor(
      {
        board: { type: 'tpi2', id: 'tp2', name: 'Turing Pi 2', bmc: { url: 'https://bmc.lan' } },
        mqtt: { base_topic: 'lab/tp2' },
        homeassistant: { discovery_prefix: 'ha' },
        nodes: { 4: { agent: true } },
      },
      TPI2,
    );
    const messages = buildDiscovery(input);

    it('publishes the board and four nodes under the configured prefix and base topic', () => {
      assert.deepEqual(
        messages.map((m) => m.topic),
        [
          'ha/device/tp2/config',
          'ha/device/tp2_node1/config',
          'ha/device/tp2_node2/config',
          'ha/device/tp2_node3/config',
          'ha/device/tp2_node4/config',
        ],
      );
      assert.equal(componentOf(messages, 'ha/device/tp2_node2/config', 'power').state_topic, 'lab/tp2/node/2/power');
    });

    it('has no clock entities and no Present, and node 1 is not protected there', () => {
      const board = deviceAt(messages, 'ha/device/tp2/config').components;
      assert.deepEqual(Object.keys(board), ['bridge', 'board', 'maintenance', 'bmc_login', 'bmc_login_retry']);
      for (const n of [1, 2, 3, 4])
        assert.equal(deviceAt(messages, `ha/device/tp2_node${n}/config`).components.present, undefined);
      assert.equal(componentOf(messages, 'ha/device/tp2_node1/config', 'power').platform, 'switch');
    });

    it('shows the BMC login as a diagnostic problem sensor with its reason, and a button to retry it', () => {
      const login = componentOf(messages, 'ha/device/tp2/config', 'bmc_login');
      assert.deepEqual(
        {
          platform: login.platform,
          name: login.name,
          device_class: login.device_class,
          category: login.entity_category,
        },
        { platform: 'binary_sensor', name: 'BMC login', device_class: 'problem', category: 'diagnostic' },
      );
      assert.equal(login.state_topic, 'lab/tp2/board/bmc');
      assert.equal(login.json_attributes_topic, 'lab/tp2/board/bmc', 'the reason is an attribute');
      assert.match(String(login.value_template), /'OFF' if value_json\.login == 'ok' else 'ON'/);
      const retry = componentOf(messages, 'ha/device/tp2/config', 'bmc_login_retry');
      assert.deepEqual(
        {
          platform: retry.platform,
          name: retry.name,
          category: retry.entity_category,
          topic: retry.command_topic,
          press: retry.payload_press,
        },
        {
          platform: 'button',
          name: 'Retry BMC login',
          category: 'config',
          topic: 'lab/tp2/bridge/request/bmc/login',
          press: '{}',
        },
      );
    });

    it('links the board device to the BMC web interface', () => {
      assert.equal(deviceAt(messages, 'ha/device/tp2/config').device.configuration_url, 'https://bmc.lan');
    });

    it('shows when a node without an agent booted from node/<n>/booted, as a diagnostic timestamp', () => {
      const booted = componentOf(messages, 'ha/device/tp2_node1/config', 'booted');
      assert.equal(booted.platform, 'sensor');
      assert.equal(booted.device_class, 'timestamp');
      assert.equal(booted.entity_category, 'diagnostic');
      assert.equal(booted.state_topic, 'lab/tp2/node/1/booted');
      // "unknown" on the topic becomes the "None" Home Assistant's timestamp sensor takes for unknown.
      assert.equal(booted.value_template, "{{ None if value == 'unknown' else value }}");
      assert.equal(booted.unique_id, 'tp2_node1_booted');
    });

    it("takes an agent node's Booted from the agent's telemetry instead", () => {
      const booted = componentOf(messages, 'ha/device/tp2_node4/config', 'booted');
      assert.equal(booted.state_topic, 'lab/tp2/node/4/agent/telemetry');
      assert.equal(booted.value_template, '{{ value_json.boot_time }}');
    });
  });

  describe('nodes with an agent', () => {
    const messages = buildDiscovery(tpi1Input({ nodes: { 3: { agent: true } } }));
    const topic = 'homeassistant/device/rack1_node3/config';

    it('gain Shut down next to Reboot', () => {
      const shutdown = componentOf(messages, topic, 'shutdown');
      assert.equal(shutdown.platform, 'button');
      assert.equal(shutdown.payload_press, 'SHUTDOWN');
      assert.equal(shutdown.command_topic, 'turingpi/node/3/set');
      assert.ok(deviceAt(messages, topic).components.reboot);
    });

    it('gain an Agent connectivity sensor that depends on the bridge only', () => {
      const agent = componentOf(messages, topic, 'agent');
      assert.equal(agent.platform, 'binary_sensor');
      assert.equal(agent.device_class, 'connectivity');
      assert.equal(agent.entity_category, 'diagnostic');
      assert.equal(agent.state_topic, 'turingpi/node/3/agent/state');
      assert.equal(agent.value_template, "{{ 'ON' if value == 'online' else 'OFF' }}");
      assert.deepEqual(availabilityTopics(agent), ['turingpi/bridge/state']);
    });

    it('gain measurements from the telemetry, available only while bridge and agent are online', () => {
      const expected: Record<string, { field: string; unit?: string; diagnostic: boolean }> = {
        temperature: { field: 'temperature', unit: '°C', diagnostic: false },
        cpu_load: { field: 'cpu_load', unit: '%', diagnostic: true },
        memory_used: { field: 'memory_used', unit: '%', diagnostic: true },
        disk_used: { field: 'disk_used', unit: '%', diagnostic: true },
        booted: { field: 'boot_time', diagnostic: true },
      };
      for (const [key, want] of Object.entries(expected)) {
        const c = componentOf(messages, topic, key);
        assert.equal(c.platform, 'sensor', key);
        assert.equal(c.state_topic, 'turingpi/node/3/agent/telemetry', key);
        assert.equal(c.value_template, `{{ value_json.${want.field} }}`, key);
        assert.equal(c.unit_of_measurement, want.unit, key);
        assert.equal(c.entity_category, want.diagnostic ? 'diagnostic' : undefined, key);
        assert.deepEqual(
          c.availability,
          [
            { topic: 'turingpi/bridge/state', payload_available: 'online', payload_not_available: 'offline' },
            { topic: 'turingpi/node/3/agent/state', payload_available: 'online', payload_not_available: 'offline' },
          ],
          key,
        );
        assert.equal(c.availability_mode, 'all', key);
      }
      assert.equal(componentOf(messages, topic, 'temperature').device_class, 'temperature');
      assert.equal(componentOf(messages, topic, 'temperature').state_class, 'measurement');
      assert.equal(componentOf(messages, topic, 'cpu_load').state_class, 'measurement');
      assert.equal(componentOf(messages, topic, 'booted').device_class, 'timestamp');
      assert.equal(componentOf(messages, topic, 'booted').state_class, undefined);
    });
  });

  describe('protected nodes with an agent', () => {
    it('offer Reboot with graceful reboots (the OS reboots itself) but never Shut down or Force off', () => {
      const messages = buildDiscovery(tpi1Input({ nodes: { 1: { agent: true } } }));
      const components = deviceAt(messages, 'homeassistant/device/rack1_node1/config').components;
      assert.equal(components.reboot?.device_class, 'restart');
      assert.equal(components.shutdown, undefined);
      assert.equal(components.force_off, undefined);
      assert.equal(components.power?.platform, 'binary_sensor');
      assert.ok(components.agent);
    });

    it('offer no Reboot when reboots are hard power cycles', () => {
      const messages = buildDiscovery(tpi1Input({ nodes: { 1: { agent: true } }, power: { reboot_mode: 'hard' } }));
      assert.equal(deviceAt(messages, 'homeassistant/device/rack1_node1/config').components.reboot, undefined);
    });

    it('can be any node the config protects', () => {
      const messages = buildDiscovery(tpi1Input({ nodes: { 5: { protected: true }, 1: { protected: false } } }));
      assert.equal(componentOf(messages, 'homeassistant/device/rack1_node5/config', 'power').platform, 'binary_sensor');
      assert.equal(componentOf(messages, 'homeassistant/device/rack1_node1/config', 'power').platform, 'switch');
    });
  });

  describe('schedules', () => {
    const messages = buildDiscovery(
      tpi1Input({ schedules: [{ name: 'nightly-off', cron: '0 23 * * 1-5', action: 'shutdown', nodes: [4, 5] }] }),
    );

    it('each get a config switch on the board that enables it, with the schedule JSON as attributes', () => {
      const sw = componentOf(messages, 'homeassistant/device/rack1/config', 'schedule_nightly-off');
      assert.equal(sw.platform, 'switch');
      assert.equal(sw.unique_id, 'rack1_schedule_nightly-off');
      assert.equal(sw.entity_category, 'config');
      assert.equal(sw.state_topic, 'turingpi/schedule/nightly-off');
      assert.equal(sw.value_template, "{{ 'ON' if value_json.enabled else 'OFF' }}");
      assert.equal(sw.state_on, 'ON');
      assert.equal(sw.command_topic, 'turingpi/schedule/nightly-off/set');
      assert.equal(sw.payload_on, 'ON');
      assert.equal(sw.payload_off, 'OFF');
      assert.equal(sw.json_attributes_topic, 'turingpi/schedule/nightly-off');
      assert.match(String(sw.name), /nightly-off/);
    });
  });

  describe('disabled nodes and Home Assistant switched off', () => {
    it('give a disabled node no device', () => {
      const messages = buildDiscovery(tpi1Input({ nodes: { 6: { enabled: false } } }));
      assert.equal(messages.length, 7);
      assert.equal(
        messages.some((m) => m.topic.endsWith('rack1_node6/config')),
        false,
      );
      assert.ok(messages.some((m) => m.topic.endsWith('rack1_node7/config')));
    });

    it('build nothing when homeassistant.enabled is false', () => {
      assert.deepEqual(buildDiscovery(tpi1Input({ homeassistant: { enabled: false } })), []);
    });
  });

  describe('origin', () => {
    it('carries the support URL when one is given', () => {
      const [board] = buildDiscovery(tpi1Input({}, { supportUrl: 'https://example.org/issues' }));
      assert.deepEqual(board?.payload.origin, {
        name: 'turingpi-mqtt',
        sw_version: '1.2.3',
        support_url: 'https://example.org/issues',
      });
    });
  });

  describe('payloads', () => {
    it('survive a JSON round trip unchanged (nothing but plain data)', () => {
      const messages = buildDiscovery(tpi1Input({ nodes: { 2: { agent: true } } }));
      assert.deepEqual(JSON.parse(JSON.stringify(messages)), messages);
    });
  });
});
