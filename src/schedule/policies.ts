import { expandNodeList, resolveNodes } from '../config/nodes.js';
import type { Config } from '../config/schema.js';

/**
 * The watchdog and thermal policies (docs/configuration.md `policies`): watchdog.ts and
 * thermal.ts, pure logic that the bridge feeds with what it sees on MQTT and the board and
 * that calls back to act; each decision is a PolicyEvent (policy-event.ts).
 */
export { Watchdog, type WatchdogOptions } from './watchdog.js';
export { Thermal, type ThermalOptions } from './thermal.js';
export type { PolicyEvent } from './policy-event.js';

/**
 * The nodes a policy may watch: its `nodes` list among the enabled nodes not set to
 * `agent: false` (only an agent reports liveness and temperature; an `auto` node is watched
 * once its agent has been seen, see WatchdogOptions.isAgentNode).
 */
export function policyNodes(config: Config, policy: 'watchdog' | 'thermal'): number[] {
  const nodes = resolveNodes(config);
  const withAgent = new Set(nodes.filter((n) => n.agent !== false && n.enabled).map((n) => n.number));
  return expandNodeList(config.policies[policy].nodes, nodes).filter((n) => withAgent.has(n));
}
