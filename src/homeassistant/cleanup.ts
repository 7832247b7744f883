import type { ComponentConfig, DeviceDiscoveryPayload, DiscoveryMessage } from './device-parts.js';

/**
 * Removing what is no longer configured, the way HA documents it for device-based discovery
 * (docs/topics.md): a component leaves a device by being published once with nothing but its
 * `platform`, and only then left out of the device's config; a device no longer configured is
 * cleared with an empty retained message. Pure: the bridge persists an index of what it
 * published (indexOf) and hands it back here at the next start.
 */

/** What was published: device discovery topic -> component key -> platform. JSON-safe, for state_dir. */
export type DiscoveryIndex = Record<string, Record<string, string>>;

/** A component reduced to its platform: HA removes it from the device. */
export interface ComponentRemoval {
  platform: string;
}

export type ReducedDevicePayload = Omit<DeviceDiscoveryPayload, 'components'> & {
  components: Record<string, ComponentConfig | ComponentRemoval>;
};

export type PlannedMessage =
  | DiscoveryMessage
  | { topic: string; payload: ReducedDevicePayload }
  /** Publish an empty retained payload: HA forgets the device and the broker the retained config. */
  | { topic: string; payload: null };

export interface DiscoveryPlan {
  /**
   * Publish first (retained): devices that lost components, with those reduced to `{platform}`.
   * Empty when nothing was removed; then there is no need to wait before `then`.
   */
  first: PlannedMessage[];
  /** Publish after `first` has been processed (retained): every current config, then the clears. */
  then: PlannedMessage[];
}

export function indexOf(messages: readonly DiscoveryMessage[]): DiscoveryIndex {
  const index: DiscoveryIndex = {};
  for (const { topic, payload } of messages) {
    const components: Record<string, string> = {};
    for (const [key, component] of Object.entries(payload.components)) components[key] = component.platform;
    index[topic] = components;
  }
  return index;
}

/** A persisted index as read back from disk, or undefined when it is not of that shape (start afresh). */
export function parseDiscoveryIndex(value: unknown): DiscoveryIndex | undefined {
  if (!isRecord(value)) return undefined;
  const index: DiscoveryIndex = {};
  for (const [topic, components] of Object.entries(value)) {
    if (!isRecord(components)) return undefined;
    const entry: Record<string, string> = {};
    for (const [key, platform] of Object.entries(components)) {
      if (typeof platform !== 'string' || platform === '') return undefined;
      entry[key] = platform;
    }
    index[topic] = entry;
  }
  return index;
}

/**
 * What to publish now, given what was published before (its messages or their persisted index)
 * and the messages built now. A component whose platform changed under the same key (e.g. a
 * node's Power switch becoming a binary_sensor when the node is made protected) counts as
 * removed: the old platform is retired first, then the new one is added.
 */
export function planDiscoveryChanges(
  previous: readonly DiscoveryMessage[] | DiscoveryIndex,
  next: readonly DiscoveryMessage[],
): DiscoveryPlan {
  const before = Array.isArray(previous) ? indexOf(previous) : (previous as DiscoveryIndex);
  const first: PlannedMessage[] = [];
  const nextTopics = new Set<string>();

  for (const message of next) {
    nextTopics.add(message.topic);
    const old = before[message.topic];
    if (old === undefined) continue;
    const removed: Record<string, ComponentRemoval> = {};
    for (const [key, platform] of Object.entries(old)) {
      if (message.payload.components[key]?.platform !== platform) removed[key] = { platform };
    }
    if (Object.keys(removed).length === 0) continue;
    // The reduced entries override same-key replacements: HA must see the old platform go first.
    first.push({
      topic: message.topic,
      payload: { ...message.payload, components: { ...message.payload.components, ...removed } },
    });
  }

  const cleared: PlannedMessage[] = Object.keys(before)
    .filter((topic) => !nextTopics.has(topic))
    .map((topic) => ({ topic, payload: null }));

  return { first, then: [...next, ...cleared] };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
