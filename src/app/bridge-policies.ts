import { formatDuration } from '../config/duration.js';
import type { Config } from '../config/schema.js';
import type { AgentNodes } from '../power/agent-nodes.js';
import type { PowerService } from '../power/power-service.js';
import { policyNodes, Thermal, Watchdog, type PolicyEvent } from '../schedule/policies.js';
import type { Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { BridgeState } from './bridge-state.js';
import type { EventSink } from './event-sink.js';

export interface PoliciesDeps {
  config: Config;
  clock: Clock;
  agentNodes: AgentNodes;
  power: PowerService;
  event: EventSink;
  /** Maintenance mode: the policies pause while it is on. */
  isPaused(): boolean;
  /** bridge.json: the watchdog's power cycles of the last hour are kept there across restarts. */
  state: BridgeState;
  logger: Logger;
}

/** The watchdog and the thermal policy as configured (docs/configuration.md, `policies`); each may be absent. */
export interface Policies {
  watchdog: Watchdog | undefined;
  thermal: Thermal | undefined;
}

/**
 * Builds the policies with what they act through: the power service (a hung OS cannot shut
 * itself down, so the watchdog's cycle is always a hard one), the agent nodes and the event sink.
 */
export function buildPolicies(deps: PoliciesDeps): Policies {
  const { config, clock, agentNodes, power, event, isPaused, state, logger } = deps;
  const { watchdog, thermal } = config.policies;
  const onEvent = (e: PolicyEvent): void =>
    event({
      type: e.type,
      node: e.node,
      action: e.action,
      source: 'policy',
      result: e.result,
      message: e.reason,
      ...(e.error ? { error: e.error } : {}),
    });
  return {
    watchdog: watchdog.enabled
      ? new Watchdog({
          nodes: policyNodes(config, 'watchdog'),
          isAgentNode: (n) => agentNodes.isAgentNode(n),
          agentLost: (n) => {
            const away = formatDuration(watchdog.offline_after);
            return agentNodes.forget(n, `the watchdog power-cycled node ${n} and its agent stayed offline for ${away}`);
          },
          offlineAfterMs: watchdog.offline_after,
          maxPerHour: watchdog.max_per_hour,
          earlierCycles: state.data.watchdog_cycles,
          saveCycles: (cycles) =>
            state
              .update((d) => {
                d.watchdog_cycles = [...cycles];
              })
              .catch((error: unknown) =>
                logger.warn(`saving the watchdog's power cycles failed: ${errorMessage(error)}`),
              ),
          clock,
          isPaused,
          powerCycle: async (n) => {
            const result = await power.powerCycle(n, 'policy');
            if (!result.ok) throw new Error(result.error);
          },
          onEvent,
        })
      : undefined,
    thermal: thermal.enabled
      ? new Thermal({
          nodes: policyNodes(config, 'thermal'),
          maxCelsius: thermal.max_celsius,
          clearCelsius: thermal.clear_celsius,
          action: thermal.action,
          isPaused,
          clock,
          act: async (n, action) => {
            const result = await power.execute(n, action, 'policy');
            if (!result.ok) throw new Error(result.error);
          },
          onEvent,
        })
      : undefined,
  };
}
