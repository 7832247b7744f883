import type { DroppedHandler, MessageHandler, MqttConnection } from '../mqtt/connection.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { EventSink } from './event-sink.js';
import { payloadText, quote, UnreadPayload, type CommandPayload } from './input.js';

/** Acts on one command message; errors it does not report itself are logged by the table. */
export type CommandHandler = (topic: string, payload: CommandPayload) => Promise<unknown>;

/** Topic filter -> handler: every topic the bridge takes commands on (node/+/set, rtc/set, ...). */
export type CommandTable = Record<string, CommandHandler>;

export interface CommandTableDeps {
  connection: MqttConnection;
  event: EventSink;
  logger: Logger;
}

/**
 * Subscribes every command topic of `table`. The one place where retained commands are
 * refused: they are stale, never acted on, and one error event says so (docs/topics.md).
 * With MQTT 5 the broker keeps the flag of one published retained while we listen (Retain As
 * Published), so it is refused at once too; MQTT 3.1.1 brokers clear it for live subscribers.
 */
export async function subscribeCommands(table: CommandTable, { connection, event, logger }: CommandTableDeps) {
  const refuseRetained = (topic: string): void =>
    event({
      type: 'command',
      source: 'mqtt',
      result: 'error',
      error:
        `ignored a retained message on ${topic}: commands are never acted on from retained messages ` +
        `(clear it with: mosquitto_pub -r -n -t '${topic}')`,
    });
  const failed = (topic: string) => (error: unknown) =>
    logger.error(`command on ${topic} failed: ${errorMessage(error)}`);
  for (const [filter, handle] of Object.entries(table)) {
    const command: MessageHandler = (topic, payload, packet) => {
      // Empty: a retained command being cleared (what refuseRetained tells people to send; MQTT 5
      // hands it on with its flag, MQTT 3.1.1 without): nothing was asked, nothing is refused.
      if (payload.length === 0) return;
      if (packet.retain) return refuseRetained(topic);
      handle(topic, payload).catch(failed(topic));
    };
    // A message too big to read (src/mqtt/packet-limit.ts) is refused by its handler as one over
    // 1 KiB is: a script waiting for a response gets one.
    const dropped: DroppedHandler = (topic, bytes, retain) => {
      if (retain) return refuseRetained(topic);
      handle(topic, new UnreadPayload(bytes)).catch(failed(topic));
    };
    await connection.subscribe(filter, command, { retainAsPublished: true, dropped });
  }
}

/**
 * The command word of a plain topic (rtc/set, maintenance/set) if it is one of `words`;
 * otherwise one error event and undefined (docs/topics.md: bad input changes nothing).
 */
export function commandWord(
  payload: CommandPayload,
  type: string,
  words: string[],
  event: EventSink,
): string | undefined {
  let text: string;
  try {
    text = payloadText(payload).trim();
  } catch (error) {
    event({ type, source: 'mqtt', result: 'error', error: errorMessage(error) });
    return undefined;
  }
  const word = text.toUpperCase();
  if (words.includes(word)) return word;
  // The word as it was sent: `maybe`, not `MAYBE`.
  event({
    type,
    source: 'mqtt',
    result: 'error',
    error: `unknown ${type} command ${quote(text)}: use ${words.join(' or ')}`,
  });
  return undefined;
}

/** "a, b or c". */
export function alternatives(words: string[]): string {
  return words.length < 2 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} or ${words.at(-1)}`;
}
