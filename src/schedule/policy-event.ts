import type { Clock } from '../util/clock.js';
import { isoTime } from '../util/iso-time.js';

/**
 * A decision of the watchdog or thermal policy, in the shape of `bridge/event` (source
 * `policy`); `reason` says why, for the node's `state` and the log.
 */
export interface PolicyEvent {
  time: string;
  type: 'watchdog' | 'thermal';
  node: number;
  action: 'power_cycle' | 'shutdown' | 'off';
  source: 'policy';
  result: 'ok' | 'error';
  reason: string;
  error?: string;
}

/** The event of one decision, stamped with the clock's now and source `policy`. */
export function policyEvent(
  clock: Clock,
  fields: Pick<PolicyEvent, 'type' | 'node' | 'action' | 'result' | 'reason'> & { error?: string | undefined },
): PolicyEvent {
  const event: PolicyEvent = {
    time: isoTime(clock.now()),
    type: fields.type,
    node: fields.node,
    action: fields.action,
    source: 'policy',
    result: fields.result,
    reason: fields.reason,
  };
  if (fields.error !== undefined) event.error = fields.error;
  return event;
}
