import { boardControlComponents, boardVersions } from './board-controls.js';
import {
  MANUFACTURER,
  availability,
  boardIdentifier,
  boardObjectId,
  deviceMessage,
  onOffBinarySensor,
  onOffSwitch,
  sourcesOf,
  type ComponentConfig,
  type DeviceInfo,
  type DiscoveryInput,
  type DiscoveryMessage,
} from './device-parts.js';
import { buildNodeDevice } from './node-device.js';
import { bmcLoginComponents } from './bmc-entities.js';
import { linkUrl } from '../util/redact.js';

/**
 * Home Assistant device-based discovery (docs/topics.md, HA 2024.11+): one retained message per
 * device on `<prefix>/device/<object_id>/config`, holding `device`, `origin`, a shared `qos` and
 * the `components`. Pure: a function of config and board facts only, no MQTT here
 * (docs/ARCHITECTURE.md, "The parts"); the publisher sends these messages and plans removals with cleanup.ts.
 *
 * Availability is written per component, not shared at the top level, because the entities need
 * different lists (the Bridge entity none at all; power entities also the board; agent
 * measurements also the agent) and a component without the key is simply always available.
 * Full option names are used, not HA's abbreviations, so that a person can read the payloads.
 */

export type {
  AvailabilityTopic,
  ComponentConfig,
  DeviceDiscoveryPayload,
  DeviceInfo,
  DiscoveryInput,
  DiscoveryMessage,
  OriginInfo,
  Platform,
} from './device-parts.js';
export { boardObjectId, deviceDiscoveryTopic, nodeObjectId } from './device-parts.js';
export { NODE_STATES, offersReboot } from './node-device.js';

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
// The board device

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
  // A real Turing Pi 2 has a web UI of its own; HA links it as "Visit". Retained on the broker for
  // every reader: a password written into board.bmc.url stays out of it.
  if (config.board.type === 'tpi2') device.configuration_url = linkUrl(config.board.bmc.url);
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
  components.maintenance = onOffSwitch({
    uniqueId: uid('maintenance'),
    name: 'Maintenance',
    options: { icon: 'mdi:wrench-clock', entity_category: 'config' },
    stateTopic: t.maintenance,
    commandTopic: t.maintenanceSet,
    availability: availability(bridge),
  });

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
    const rtcProblem = (key: string, name: string, valueTemplate: string): ComponentConfig =>
      onOffBinarySensor({
        uniqueId: uid(key),
        name,
        options: { device_class: 'problem', entity_category: 'diagnostic' },
        stateTopic: t.rtc,
        valueTemplate,
        availability: availability(bridge),
      });
    // A problem is ON: a stopped oscillator means the clock does not keep time.
    components.rtc_oscillator = rtcProblem(
      'rtc_oscillator',
      'RTC oscillator',
      "{{ 'OFF' if value_json.oscillator_running else 'ON' }}",
    );
    components.rtc_power_failure = rtcProblem(
      'rtc_power_failure',
      'RTC power failure',
      "{{ 'ON' if value_json.power_failed else 'OFF' }}",
    );
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
    components[key] = onOffSwitch({
      uniqueId: uid(key),
      name: `Schedule ${name}`,
      options: { icon: 'mdi:calendar-clock', entity_category: 'config' },
      stateTopic: t.schedule(name),
      valueTemplate: "{{ 'ON' if value_json.enabled else 'OFF' }}",
      commandTopic: t.scheduleSet(name),
      // The whole schedule JSON (cron, timezone, action, nodes, next_run, last_run, last_result).
      attributesTopic: t.schedule(name),
      availability: availability(bridge),
    });
  }

  return deviceMessage(input, boardObjectId(id), boardDeviceInfo(input), components);
}
