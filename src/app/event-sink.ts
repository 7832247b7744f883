import type { MqttConnection } from '../mqtt/connection.js';
import type { BridgeEvent, EventInput } from '../power/types.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { isoTime } from '../util/iso-time.js';

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
    const where = event.node !== undefined ? `node ${event.node}` : event.type;
    const what = event.error ?? event.message ?? event.result;
    const text = `${where}${event.action ? ` ${event.action}` : ''} (${event.source}): ${what}`;
    if (event.result === 'error') logger.warn(text);
    else logger.info(text);
    // Not awaited (MqttConnection.send); a copy the broker never got is not reported again:
    // the event is in the log line above.
    connection.send(topic, JSON.stringify(event), {}, () => undefined);
  };
}
