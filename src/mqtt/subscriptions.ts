import type { IClientSubscribeOptions, IPublishPacket } from 'mqtt';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { levelsMatch } from './match.js';

export type MessageHandler = (topic: string, payload: Buffer, packet: IPublishPacket) => void;

/** A message dropped unread for its size (packet-limit.ts): its topic, payload size and retain flag. */
export type DroppedHandler = (topic: string, payloadBytes: number, retain: boolean) => void;

export interface SubscribeOptions {
  /**
   * A command topic: the broker keeps the retain flag of a message published retained while we
   * are subscribed (MQTT 5's Retain As Published). Otherwise it clears the flag of a live message,
   * and a retained command published now could not be told from a fresh one (docs/topics.md).
   * MQTT.js sends the option with MQTT 5 only: MQTT 3.1.1 has no such option.
   */
  retainAsPublished?: boolean;
  /**
   * Told of a message on the filter dropped unread for its size (a command must still be
   * answered). Only the dropped path looks for it: a message read costs nothing more.
   */
  dropped?: DroppedHandler;
}

interface Subscription {
  filter: string;
  levels: string[];
  handler: MessageHandler;
  options: SubscribeOptions;
}

/**
 * The subscriptions of one connection: what to ask the broker for (at each connection: clean
 * sessions, docs/topics.md) and the handlers an incoming message goes to, by topic filter.
 */
export class Subscriptions {
  private readonly list: Subscription[] = [];

  constructor(private readonly logger: Logger) {}

  add(filter: string, handler: MessageHandler, options: SubscribeOptions = {}): void {
    this.list.push({ filter, levels: filter.split('/'), handler, options });
  }

  /**
   * The SUBSCRIBE of every filter (or of `only`), each once at QoS 1: with Retain As Published
   * when any of its handlers asks for it.
   */
  request(only?: string): Record<string, IClientSubscribeOptions> {
    const request: Record<string, IClientSubscribeOptions> = {};
    for (const { filter, options } of this.list) {
      if (only !== undefined && filter !== only) continue;
      const rap = request[filter]?.rap === true || options.retainAsPublished === true;
      request[filter] = rap ? { qos: 1, rap } : { qos: 1 };
    }
    return request;
  }

  /** Calls every handler whose filter matches `topic`. */
  route(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const levels = topic.split('/');
    for (const { levels: filter, handler } of this.list) {
      if (!levelsMatch(filter, levels)) continue;
      try {
        handler(topic, payload, packet);
      } catch (error) {
        // The bridge never crashes on input: a handler's bug is logged, not thrown.
        this.logger.error(`handling ${topic} failed: ${errorMessage(error)}`);
      }
    }
  }

  /** Tells the handlers that take them of a message dropped unread (SubscribeOptions.dropped). */
  dropped(topic: string, payloadBytes: number, retain: boolean): void {
    const levels = topic.split('/');
    for (const { levels: filter, options } of this.list) {
      if (!options.dropped || !levelsMatch(filter, levels)) continue;
      try {
        options.dropped(topic, payloadBytes, retain);
      } catch (error) {
        this.logger.error(`handling the dropped message on ${topic} failed: ${errorMessage(error)}`);
      }
    }
  }
}
