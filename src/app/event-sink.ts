import type { MqttConnection } from '../mqtt/connection.js';
import type { BridgeEvent, EventInput } from '../power/types.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { isoTime } from '../util/iso-time.js';

/** Levels at which an info line is not written (pino's own; any other level gets the line built). */
const QUIET_LEVELS: ReadonlySet<string> = new Set(['warn', 'error', 'fatal', 'silent']);

/** Where every part reports what it did: one line in the log and one message on `bridge/event`. */
export type EventSink = (input: EventInput) => void;

export interface EventSinkDeps {
  clock: Clock;
  logger: Logger;
  connection: MqttConnection;
  /** `<b>/bridge/event`. */
  topic: string;
}

/**
 * The one event sink of the bridge (docs/topics.md, `bridge/event`): stamps the time, logs (a
 * warning for an error), publishes (not retained; a broker away loses it, the log keeps it).
 */
export function eventSink({ clock, logger, connection, topic }: EventSinkDeps): EventSink {
  return (input) => {
    // A `transaction` left undefined is not in the JSON.
    const event: BridgeEvent = { time: isoTime(clock.now()), ...input };
    if (event.result === 'error') logger.warn(logLine(event));
    // The line is built only where it is written: a service logs at warn, and this runs for
    // every command.
    else if (!QUIET_LEVELS.has(logger.level)) logger.info(logLine(event));
    // Not awaited (MqttConnection.send); a copy the broker never got is not reported again:
    // the event is in the log line above.
    connection.send(topic, JSON.stringify(event), {}, () => undefined);
  };
}

/** `node 2 on (mqtt): switched on`, `schedule (schedule): ...` */
function logLine(event: BridgeEvent): string {
  const where = event.node !== undefined ? `node ${event.node}` : event.type;
  const what = event.error ?? event.message ?? event.result;
  return `${where}${event.action ? ` ${event.action}` : ''} (${event.source}): ${what}`;
}
