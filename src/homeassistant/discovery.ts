import type { BoardInfo } from '../board/types.js';
import type { ResolvedNode } from '../config/nodes.js';
import type { Config } from '../config/schema.js';
import { topics, type Topics } from '../mqtt/topics.js';
import { boardControlComponents, boardVersions, nodeDisplayName } from './board-controls.js';
import { bmcLoginComponents } from './bmc-entities.js';

/**
 * Home Assistant device-based discovery (docs/topics.md, HA 2024.11+): one retained message per
 * device on `<prefix>/device/<object_id>/config`, holding `device`, `origin`, a shared `qos` and
 * the `components`. Pure: a function of config and board facts only, no MQTT here (ARCHITECTURE
 * habit 4); the publisher sends these messages and plans removals with cleanup.ts.
 *
 * Availability is written per component, not shared at the top level, because the entities need
 * different lists (the Bridge entity none at all; power entities also the board; agent
 * measurements also the agent) and a component without the key is simply always available.
 * Full option names are used, not HA's abbreviations, so that a person can read the payloads.
 */

export type Platform = 'binary_sensor' | 'sensor' | 'switch' | 'button' | 'fan' | 'select';

export interface AvailabilityTopic {
  topic: string;
  payload_available: string;
  payload_not_available: string;
}

/** One entity under `components`: `platform` and `unique_id` are required by HA, the rest per platform. */
export interface ComponentConfig {
  platform: Platform;
  unique_id: string;
  name: string;
  [option: string]: unknown;
}

export interface DeviceInfo {
  identifiers: string[];
  name: string;
  manufacturer?: string;
  model?: string;
  sw_version?: string;
  hw_version?: string;
  via_device?: string;
  configuration_url?: string;
}

export interface OriginInfo {
  name: string;
  sw_version: string;
  support_url?: string;
}

export interface DeviceDiscoveryPayload {
  device: DeviceInfo;
  origin: OriginInfo;
  /** Shared by every component: state subscriptions and commands at QoS 1 (docs/topics.md). */
  qos: 1;
  components: Record<string, ComponentConfig>;
}

export interface DiscoveryMessage {
  topic: string;
  payload: DeviceDiscoveryPayload;
}

export interface DiscoveryInput {
  config: Config;
  /** Every slot (resolveNodes); disabled ones get no device. */
  nodes: ResolvedNode[];
  board: BoardInfo;
  /** This package's version, shown as the board's and the origin's software version. */
  version: string;
  schedules: { name: string }[];
  /** Shown by HA as the origin's support link. */
  supportUrl?: string;
}

/** The values of `<b>/node/<n>/state`'s `state` (docs/topics.md), the enum sensor's options. */
export const NODE_STATES = ['off', 'starting', 'on', 'shutting_down', 'rebooting', 'unknown'] as const;

const MANUFACTURER = 'Turing Machines';
const ORIGIN_NAME = 'turingpi-mqtt';

/** The device discovery topics: the board is `<board.id>`, node n is `<board.id>_node<n>`. */
export function boardObjectId(boardId: string): string {
  return boardId;
}

export function nodeObjectId(boardId: string, node: number): string {
  return `${boardId}_node${node}`;
}

export function deviceDiscoveryTopic(prefix: string, objectId: string): string {
  return `${prefix}/device/${objectId}/config`;
}

/**
 * Every discovery message for this bridge: the board first, then each enabled node in order.
 * With `homeassistant.enabled: false` there are none (cleanup then clears what was published).
 */
export function buildDiscovery(input: DiscoveryInput): DiscoveryMessage[] {
  if (!input.config.homeassistant.enabled) return [];
  const messages = [buildBoardDevice(input)];
  for (const node of input.nodes) {
    if (node.enabled) messages.push(buildNodeDevice(input, node));
  }
  return messages;
}

// ---------------------------------------------------------------------------------------------
// Availability

function onlineOffline(topic: string): AvailabilityTopic {
  return { topic, payload_available: 'online', payload_not_available: 'offline' };
}

/**
 * `availability_mode: all`: the entity is available only while every listed topic says online
 * (docs/topics.md). The agent's `shutting_down` matches neither payload, so HA keeps the agent's
 * measurements as they were until the agent says `offline`.
 */
function availability(...sources: AvailabilityTopic[]) {
  return { availability: sources, availability_mode: 'all' as const };
}

interface Sources {
  t: Topics;
  bridge: AvailabilityTopic;
  board: AvailabilityTopic;
}

function sourcesOf(config: Config): Sources {
  const t = topics(config.mqtt.base_topic);
  return { t, bridge: onlineOffline(t.bridgeState), board: onlineOffline(t.boardState) };
}

// ---------------------------------------------------------------------------------------------
// The board device

function originOf(input: DiscoveryInput): OriginInfo {
  const origin: OriginInfo = { name: ORIGIN_NAME, sw_version: input.version };
  if (input.supportUrl) origin.support_url = input.supportUrl;
  return origin;
}

function boardIdentifier(boardId: string): string {
  return `turingpi-mqtt_${boardId}`;
}

function boardDeviceInfo(input: DiscoveryInput): DeviceInfo {
  const { config, board, version } = input;
  const device: DeviceInfo = {
    identifiers: [boardIdentifier(config.board.id)],
    name: config.board.name,
    manufacturer: MANUFACTURER,
    model: board.model,
    // A Turing Pi 2's BMC firmware where the BMC said it (this package's version is the origin's).
    ...boardVersions(board, version),
  };
  // A real Turing Pi 2 has a web UI of its own; HA links it as "Visit".
  if (config.board.type === 'tpi2') device.configuration_url = config.board.bmc.url;
  return device;
}

function buildBoardDevice(input: DiscoveryInput): DiscoveryMessage {
  const { config, board } = input;
  const id = config.board.id;
  const { t, bridge } = sourcesOf(config);
  const uid = (key: string) => `${id}_${key}`;
  const components: Record<string, ComponentConfig> = {};

  // The one entity without availability: it *is* the bridge's availability, and should read
  // "Disconnected" rather than "Unavailable" when the bridge is gone.
  components.bridge = {
    platform: 'binary_sensor',
    unique_id: uid('bridge'),
    name: 'Bridge',
    device_class: 'connectivity',
    entity_category: 'diagnostic',
    state_topic: t.bridgeState,
    payload_on: 'online',
    payload_off: 'offline',
  };
  components.board = {
    platform: 'binary_sensor',
    unique_id: uid('board'),
    name: 'Board',
    device_class: 'connectivity',
    entity_category: 'diagnostic',
    state_topic: t.boardState,
    payload_on: 'online',
    payload_off: 'offline',
    ...availability(bridge),
  };
  components.maintenance = {
    platform: 'switch',
    unique_id: uid('maintenance'),
    name: 'Maintenance',
    icon: 'mdi:wrench-clock',
    entity_category: 'config',
    state_topic: t.maintenance,
    state_on: 'ON',
    state_off: 'OFF',
    command_topic: t.maintenanceSet,
    payload_on: 'ON',
    payload_off: 'OFF',
    retain: false,
    ...availability(bridge),
  };

  if (board.hasRtc) {
    // `<b>/rtc` is JSON {time, drift, oscillator_running, battery_backup, power_failed} (docs/topics.md).
    components.rtc_drift = {
      platform: 'sensor',
      unique_id: uid('rtc_drift'),
      name: 'RTC drift',
      icon: 'mdi:clock-alert-outline',
      entity_category: 'diagnostic',
      state_topic: t.rtc,
      value_template: '{{ value_json.drift }}',
      unit_of_measurement: 's',
      state_class: 'measurement',
      ...availability(bridge),
    };
    components.rtc_oscillator = {
      platform: 'binary_sensor',
      unique_id: uid('rtc_oscillator'),
      name: 'RTC oscillator',
      device_class: 'problem',
      entity_category: 'diagnostic',
      state_topic: t.rtc,
      // A problem is ON: a stopped oscillator means the clock does not keep time.
      value_template: "{{ 'OFF' if value_json.oscillator_running else 'ON' }}",
      payload_on: 'ON',
      payload_off: 'OFF',
      ...availability(bridge),
    };
    components.rtc_power_failure = {
      platform: 'binary_sensor',
      unique_id: uid('rtc_power_failure'),
      name: 'RTC power failure',
      device_class: 'problem',
      entity_category: 'diagnostic',
      state_topic: t.rtc,
      value_template: "{{ 'ON' if value_json.power_failed else 'OFF' }}",
      payload_on: 'ON',
      payload_off: 'OFF',
      ...availability(bridge),
    };
    components.rtc_sync = {
      platform: 'button',
      unique_id: uid('rtc_sync'),
      name: 'Sync RTC',
      icon: 'mdi:clock-check-outline',
      entity_category: 'config',
      command_topic: t.rtcSet,
      payload_press: 'SYNC',
      retain: false,
      ...availability(bridge),
    };
  }

  Object.assign(components, boardControlComponents(board, uid, sourcesOf(config)));
  Object.assign(components, bmcLoginComponents(config, t, bridge, uid));

  for (const { name } of input.schedules) {
    const key = `schedule_${name}`;
    components[key] = {
      platform: 'switch',
      unique_id: uid(key),
      name: `Schedule ${name}`,
      icon: 'mdi:calendar-clock',
      entity_category: 'config',
      state_topic: t.schedule(name),
      value_template: "{{ 'ON' if value_json.enabled else 'OFF' }}",
      state_on: 'ON',
      state_off: 'OFF',
      command_topic: t.scheduleSet(name),
      payload_on: 'ON',
      payload_off: 'OFF',
      retain: false,
      // The whole schedule JSON (cron, timezone, action, nodes, next_run, last_run, last_result).
      json_attributes_topic: t.schedule(name),
      ...availability(bridge),
    };
  }

  return {
    topic: deviceDiscoveryTopic(config.homeassistant.discovery_prefix, boardObjectId(id)),
    payload: { device: boardDeviceInfo(input), origin: originOf(input), qos: 1, components },
  };
}

// ---------------------------------------------------------------------------------------------
// A node device

/** Whether HA offers Reboot: protected nodes only when the reboot is the OS's own (docs/topics.md). */
export function offersReboot(config: Config, node: ResolvedNode): boolean {
  if (!node.protected) return true;
  return config.power.reboot_mode === 'graceful' && node.agent;
}

function buildNodeDevice(input: DiscoveryInput, node: ResolvedNode): DiscoveryMessage {
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
  components.power = node.protected
    ? {
        platform: 'binary_sensor',
        unique_id: uid('power'),
        name: 'Power',
        device_class: 'power',
        state_topic: t.nodePower(n),
        payload_on: 'ON',
        payload_off: 'OFF',
        ...powerAvailability,
      }
    : {
        platform: 'switch',
        unique_id: uid('power'),
        name: 'Power',
        icon: 'mdi:power',
        state_topic: t.nodePower(n),
        state_on: 'ON',
        state_off: 'OFF',
        command_topic: t.nodeSet(n),
        payload_on: 'ON',
        payload_off: 'OFF',
        retain: false,
        ...powerAvailability,
      };

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
  if (node.agent && !node.protected) {
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
    components.present = {
      platform: 'binary_sensor',
      unique_id: uid('present'),
      name: 'Present',
      icon: 'mdi:expansion-card',
      entity_category: 'diagnostic',
      state_topic: t.nodePresent(n),
      payload_on: 'ON',
      payload_off: 'OFF',
      ...availability(bridge),
    };
  }

  if (node.agent) {
    components.agent = {
      platform: 'binary_sensor',
      unique_id: uid('agent'),
      name: 'Agent',
      device_class: 'connectivity',
      entity_category: 'diagnostic',
      state_topic: t.agentState(n),
      // Connected only while the agent says `online`: once `shutting_down` it takes no commands.
      value_template: "{{ 'ON' if value == 'online' else 'OFF' }}",
      payload_on: 'ON',
      payload_off: 'OFF',
      ...availability(bridge),
    };
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
      ...availability(bridge),
    };
  }

  const device: DeviceInfo = {
    identifiers: [`${boardIdentifier(id)}_node${n}`],
    name: `${config.board.name} ${nodeDisplayName(config, board, node)}`,
    model: `${board.model} node ${n}`,
    via_device: boardIdentifier(id),
  };
  return {
    topic: deviceDiscoveryTopic(config.homeassistant.discovery_prefix, nodeObjectId(id, n)),
    payload: { device, origin: originOf(input), qos: 1, components },
  };
}
