import type { BoardFacts } from './board-facts.js';
import type { ResolvedNode } from '../config/nodes.js';
import type { Config } from '../config/schema.js';
import { topics, type Topics } from '../mqtt/topics.js';

/**
 * The pieces every discovery device is built from (discovery.ts): the payload types, object ids
 * and topics, availability lists and the origin. Shared by the board and the node devices.
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
  /** Shared by every component: state subscriptions and commands at QoS 1; each also says it (docs/topics.md). */
  qos: 1;
  components: Record<string, ComponentConfig>;
}

export interface DiscoveryMessage {
  topic: string;
  payload: DeviceDiscoveryPayload;
}

export interface DiscoveryInput {
  config: Config;
  /**
   * Every slot (resolveNodes); disabled ones get no device. Agent entities only where `agent` is
   * true: an auto node is passed as true once its agent has been seen (power/agent-nodes.ts).
   */
  nodes: ResolvedNode[];
  board: BoardFacts;
  /** This package's version, shown as the board's and the origin's software version. */
  version: string;
  schedules: { name: string }[];
  /** Shown by HA as the origin's support link. */
  supportUrl?: string;
}

export const MANUFACTURER = 'Turing Machines';
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

// ---------------------------------------------------------------------------------------------
// Availability

export function onlineOffline(topic: string): AvailabilityTopic {
  return { topic, payload_available: 'online', payload_not_available: 'offline' };
}

/**
 * `availability_mode: all`: the entity is available only while every listed topic says online
 * (docs/topics.md). The agent's `shutting_down` matches neither payload, so HA keeps the agent's
 * measurements as they were until the agent says `offline`.
 */
export function availability(...sources: AvailabilityTopic[]) {
  return { availability: sources, availability_mode: 'all' as const };
}

export interface Sources {
  t: Topics;
  bridge: AvailabilityTopic;
  board: AvailabilityTopic;
}

export function sourcesOf(config: Config): Sources {
  const t = topics(config.mqtt.base_topic);
  return { t, bridge: onlineOffline(t.bridgeState), board: onlineOffline(t.boardState) };
}

function originOf(input: DiscoveryInput): OriginInfo {
  const origin: OriginInfo = { name: ORIGIN_NAME, sw_version: input.version };
  if (input.supportUrl) origin.support_url = input.supportUrl;
  return origin;
}

export function boardIdentifier(boardId: string): string {
  return `turingpi-mqtt_${boardId}`;
}

/**
 * The discovery message of one device: `<prefix>/device/<objectId>/config` with QoS 1 for all.
 * Each component says `qos: 1` itself too: Home Assistant 2024.11 to 2026.5.1 at least does not hand
 * the device's `qos` down to its components and uses QoS 0 for them (docs/topics.md).
 */
export function deviceMessage(
  input: DiscoveryInput,
  objectId: string,
  device: DeviceInfo,
  components: Record<string, ComponentConfig>,
): DiscoveryMessage {
  const withQos: Record<string, ComponentConfig> = {};
  for (const [key, component] of Object.entries(components)) withQos[key] = { ...component, qos: 1 };
  return {
    topic: deviceDiscoveryTopic(input.config.homeassistant.discovery_prefix, objectId),
    payload: { device, origin: originOf(input), qos: 1, components: withQos },
  };
}

// ---------------------------------------------------------------------------------------------
// Entities on ON/OFF payloads

/** An entity whose state topic carries ON or OFF (or JSON that valueTemplate turns into ON/OFF). */
export interface OnOffEntity {
  uniqueId: string;
  name: string;
  /** device_class, icon, entity_category...: written between the name and the state topic. */
  options?: Record<string, unknown>;
  stateTopic: string;
  valueTemplate?: string;
  /** The JSON on this topic becomes the entity's attributes. */
  attributesTopic?: string;
  availability: ReturnType<typeof availability>;
}

export function onOffBinarySensor(entity: OnOffEntity): ComponentConfig {
  return {
    platform: 'binary_sensor',
    unique_id: entity.uniqueId,
    name: entity.name,
    ...entity.options,
    state_topic: entity.stateTopic,
    ...(entity.valueTemplate === undefined ? {} : { value_template: entity.valueTemplate }),
    payload_on: 'ON',
    payload_off: 'OFF',
    ...(entity.attributesTopic === undefined ? {} : { json_attributes_topic: entity.attributesTopic }),
    ...entity.availability,
  };
}

/** A switch: state as for onOffBinarySensor, and ON / OFF (not retained) on commandTopic. */
export function onOffSwitch(entity: OnOffEntity & { commandTopic: string }): ComponentConfig {
  return {
    platform: 'switch',
    unique_id: entity.uniqueId,
    name: entity.name,
    ...entity.options,
    state_topic: entity.stateTopic,
    ...(entity.valueTemplate === undefined ? {} : { value_template: entity.valueTemplate }),
    state_on: 'ON',
    state_off: 'OFF',
    command_topic: entity.commandTopic,
    payload_on: 'ON',
    payload_off: 'OFF',
    retain: false,
    ...(entity.attributesTopic === undefined ? {} : { json_attributes_topic: entity.attributesTopic }),
    ...entity.availability,
  };
}
