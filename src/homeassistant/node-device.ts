import type { ResolvedNode } from '../config/nodes.js';
import type { Config } from '../config/schema.js';
import { nodeDisplayName } from './board-controls.js';
import {
  availability,
  boardIdentifier,
  deviceMessage,
  nodeObjectId,
  onOffBinarySensor,
  onOffSwitch,
  onlineOffline,
  sourcesOf,
  type ComponentConfig,
  type DeviceInfo,
  type DiscoveryInput,
  type DiscoveryMessage,
} from './device-parts.js';

// A node's device in Home Assistant discovery; discovery.ts builds the list of devices.

/** The values of `<b>/node/<n>/state`'s `state` (docs/topics.md), the enum sensor's options. */
export const NODE_STATES = ['off', 'starting', 'on', 'shutting_down', 'rebooting', 'unknown'] as const;

/** Whether HA offers Reboot: protected nodes only when the reboot is the OS's own (docs/topics.md). */
export function offersReboot(config: Config, node: ResolvedNode): boolean {
  if (!node.protected) return true;
  return config.power.reboot_mode === 'graceful' && node.agent === true;
}

export function buildNodeDevice(input: DiscoveryInput, node: ResolvedNode): DiscoveryMessage {
  const { config, board } = input;
  const id = config.board.id;
  const n = node.number;
  const { t, bridge, board: boardOnline } = sourcesOf(config);
  const agentOnline = onlineOffline(t.agentState(n));
  const uid = (key: string) => `${id}_node${n}_${key}`;
  const powerAvailability = availability(bridge, boardOnline);
  const agentAvailability = availability(bridge, agentOnline);
  const components: Record<string, ComponentConfig> = {};

  // A protected node refuses OFF from every source (docs/topics.md), so HA gets no switch to flip.
  const power = { uniqueId: uid('power'), name: 'Power', stateTopic: t.nodePower(n), availability: powerAvailability };
  components.power = node.protected
    ? onOffBinarySensor({ ...power, options: { device_class: 'power' } })
    : onOffSwitch({ ...power, options: { icon: 'mdi:power' }, commandTopic: t.nodeSet(n) });

  components.state = {
    platform: 'sensor',
    unique_id: uid('state'),
    name: 'State',
    icon: 'mdi:state-machine',
    device_class: 'enum',
    options: [...NODE_STATES],
    state_topic: t.nodeState(n),
    value_template: '{{ value_json.state }}',
    json_attributes_topic: t.nodeState(n),
    json_attributes_template:
      "{{ {'since': value_json.since, 'source': value_json.source, 'reason': value_json.reason} | tojson }}",
    ...powerAvailability,
  };

  const button = (key: string, name: string, payload: string, extra: Record<string, unknown>): ComponentConfig => ({
    platform: 'button',
    unique_id: uid(key),
    name,
    ...extra,
    command_topic: t.nodeSet(n),
    payload_press: payload,
    retain: false,
    ...powerAvailability,
  });

  if (offersReboot(config, node)) {
    components.reboot = button('reboot', 'Reboot', 'REBOOT', { device_class: 'restart' });
  }
  if (node.agent === true && !node.protected) {
    components.shutdown = button('shutdown', 'Shut down', 'SHUTDOWN', { icon: 'mdi:power-standby' });
  }
  if (!node.protected) {
    // Cuts power under a running OS: there for emergencies, hidden until a person enables it.
    components.force_off = button('force_off', 'Force off', 'FORCE_OFF', {
      icon: 'mdi:power-plug-off',
      entity_category: 'config',
      enabled_by_default: false,
    });
  }

  if (board.canTellPresence) {
    components.present = onOffBinarySensor({
      uniqueId: uid('present'),
      name: 'Present',
      options: { icon: 'mdi:expansion-card', entity_category: 'diagnostic' },
      stateTopic: t.nodePresent(n),
      availability: availability(bridge),
    });
  }

  if (node.agent === true) {
    components.agent = onOffBinarySensor({
      uniqueId: uid('agent'),
      name: 'Agent',
      options: { device_class: 'connectivity', entity_category: 'diagnostic' },
      stateTopic: t.agentState(n),
      // Connected only while the agent says `online`: once `shutting_down` it takes no commands.
      valueTemplate: "{{ 'ON' if value == 'online' else 'OFF' }}",
      availability: availability(bridge),
    });
    const telemetry = (key: string, name: string, field: string, extra: Record<string, unknown>): ComponentConfig => ({
      platform: 'sensor',
      unique_id: uid(key),
      name,
      ...extra,
      state_topic: t.agentTelemetry(n),
      value_template: `{{ value_json.${field} }}`,
      ...agentAvailability,
    });
    const percent = { unit_of_measurement: '%', state_class: 'measurement', entity_category: 'diagnostic' };
    components.temperature = telemetry('temperature', 'Temperature', 'temperature', {
      device_class: 'temperature',
      unit_of_measurement: '°C',
      state_class: 'measurement',
    });
    components.cpu_load = telemetry('cpu_load', 'CPU load', 'cpu_load', { icon: 'mdi:cpu-64-bit', ...percent });
    components.memory_used = telemetry('memory_used', 'Memory used', 'memory_used', { icon: 'mdi:memory', ...percent });
    components.disk_used = telemetry('disk_used', 'Disk used', 'disk_used', { icon: 'mdi:harddisk', ...percent });
    components.booted = telemetry('booted', 'Booted', 'boot_time', {
      device_class: 'timestamp',
      entity_category: 'diagnostic',
    });
  } else if (board.reportsPowerOnTime) {
    // Without an agent the board itself says when it switched the slot on (docs/hardware.md, tpi2
    // node_info); the bridge publishes that as an ISO 8601 time on `<b>/node/<n>/booted`.
    components.booted = {
      platform: 'sensor',
      unique_id: uid('booted'),
      name: 'Booted',
      device_class: 'timestamp',
      entity_category: 'diagnostic',
      state_topic: t.nodeBooted(n),
      value_template: "{{ None if value == 'unknown' else value }}",
      ...availability(bridge),
    };
  }

  const device: DeviceInfo = {
    identifiers: [`${boardIdentifier(id)}_node${n}`],
    name: `${config.board.name} ${nodeDisplayName(config, board, node)}`,
    model: `${board.model} node ${n}`,
    via_device: boardIdentifier(id),
  };
  return deviceMessage(input, nodeObjectId(id, n), device, components);
}
