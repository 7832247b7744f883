import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { TpmError, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { displayUrl } from '../util/redact.js';
import {
  MAX_INCOMING_PACKET_BYTES,
  describeDropped,
  limitIncomingPackets,
  type DroppedPacket,
} from './packet-limit.js';
import { describeMqttError } from './broker-errors.js';
import { Subscriptions, type MessageHandler, type SubscribeOptions } from './subscriptions.js';

export type { DroppedHandler, MessageHandler, SubscribeOptions } from './subscriptions.js';

export interface MqttConnectionOptions {
  url: string;
  options: IClientOptions;
  logger: Logger;
  clock?: Clock;
  /** Called after every (re)connection, once subscriptions are renewed: republish what must be there. */
  onConnect?: () => Promise<void> | void;
  /** Called once each time an established connection is lost (not on a stop). */
  onDisconnect?: () => void;
  /** Back-off between reconnection attempts: first and longest wait. */
  backoff?: { initialMs: number; maxMs: number };
}

export interface PublishOptions {
  retain?: boolean;
  qos?: 0 | 1;
  /** Hand it to the kernel at once (a command's answer): see MqttConnection.flush(). */
  flush?: boolean;
}

export interface StateOptions {
  force?: boolean;
  flush?: boolean;
}

/**
 * One MQTT.js client with what every role needs: reconnection with back-off (never a tight
 * loop, even on refused credentials), retained state published only when it changed and
 * republished after a reconnection, and incoming messages routed by topic filter.
 */
export class MqttConnection {
  private client: MqttClient | undefined;
  private readonly subscriptions: Subscriptions;
  private readonly retained = new Map<string, string>();
  private readonly clock: Clock;
  private readonly backoff: { initialMs: number; maxMs: number };
  private reconnectTimer: TimerHandle | undefined;
  private attempt = 0;
  private stopping = false;
  private lastError = '';
  private connectedOnce = false;
  /** Whether the connection was up when the last 'close' came: a failed attempt is no loss. */
  private up = false;
  private inFlight = 0;
  /** PUBACKs of incoming messages not yet sent (holdAcknowledgement). */
  private heldAcknowledgements: (() => void)[] = [];
  /** Rejects the start() still waiting for its first connection: a stop() gives that wait up. */
  private giveUpStart: ((error: TpmError) => void) | undefined;
  private stopped: Promise<void> | undefined;
  /** Messages published, for benchmarks and tests. */
  published = 0;

  constructor(private readonly opts: MqttConnectionOptions) {
    this.clock = opts.clock ?? systemClock;
    this.backoff = opts.backoff ?? { initialMs: 1000, maxMs: 60_000 };
    this.subscriptions = new Subscriptions(opts.logger);
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  /** Publishes not yet acknowledged nor failed: none is left waiting for ever. */
  get pending(): number {
    return this.inFlight;
  }

  /**
   * Connects. With `failFast` the first failure rejects (the CLI client); without it the
   * first connection is awaited through retries, like every later one, until stop() (or an
   * abort of `signal`) rejects it with STOPPED.
   */
  start(failFast = false, signal?: AbortSignal): Promise<void> {
    if (this.stopping || signal?.aborted) return Promise.reject(this.stoppedError());
    const client = connect(this.opts.url, { ...this.opts.options, manualConnect: true });
    limitIncomingPackets(client, MAX_INCOMING_PACKET_BYTES, (packet) => this.dropped(packet));
    client.connect();
    this.client = client;
    client.on('message', (topic, payload, packet) => this.subscriptions.route(topic, payload, packet));
    // The PUBACK of an incoming message is held back (holdAcknowledgement): MQTT.js would
    // otherwise write it at once, ahead of the command's answer.
    client.handleMessage = (_packet, callback) => this.holdAcknowledgement(callback);
    const onAbort = (): void => void this.stop();
    signal?.addEventListener('abort', onAbort, { once: true });
    return new Promise<void>((resolve, reject) => {
      this.giveUpStart = reject;
      client.on('connect', () => {
        // MQTT.js leaves Nagle on: a publish right after our PUBACK would wait for the
        // broker's delayed ACK (~40 ms per command). Small messages go out at once.
        (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
        this.attempt = 0;
        this.up = true;
        if (this.lastError) this.opts.logger.info({ url: displayUrl(this.opts.url) }, 'MQTT reconnected');
        this.lastError = '';
        void this.afterConnect().then(() => {
          if (!this.connectedOnce && !this.stopping) {
            this.connectedOnce = true;
            this.giveUpStart = undefined;
            resolve();
          }
        });
      });
      client.on('error', (error) => {
        const reason = describeMqttError(error, displayUrl(this.opts.url), !this.up);
        if (failFast && !this.connectedOnce) {
          this.stopping = true;
          client.end(true);
          reject(new TpmError('BROKER', reason));
          return;
        }
        // Publishes racing a stop end with "write after end": nothing a person must act on.
        if (this.stopping) return;
        if (reason !== this.lastError) this.opts.logger.error(reason);
        this.lastError = reason;
      });
      client.on('close', () => {
        this.failUnacknowledged(client);
        if (this.up) {
          this.up = false;
          if (!this.stopping) this.opts.onDisconnect?.();
        }
        if (failFast && !this.connectedOnce && !this.stopping) {
          this.stopping = true;
          reject(new TpmError('BROKER', `cannot connect to MQTT broker ${displayUrl(this.opts.url)}`));
          return;
        }
        this.scheduleReconnect();
      });
    }).finally(() => signal?.removeEventListener('abort', onAbort));
  }

  private stoppedError = (): TpmError =>
    new TpmError('STOPPED', `stopped before connecting to the MQTT broker ${displayUrl(this.opts.url)}`);

  private async afterConnect(): Promise<void> {
    const client = this.client;
    if (!client) return;
    // Clean sessions (docs/topics.md): the broker forgets subscriptions, so we renew them.
    const request = this.subscriptions.request();
    try {
      if (Object.keys(request).length > 0) await client.subscribeAsync(request);
      for (const [topic, payload] of this.retained) await client.publishAsync(topic, payload, { qos: 1, retain: true });
      await this.opts.onConnect?.();
    } catch (error) {
      this.opts.logger.warn(`MQTT: republishing after connect failed: ${errorMessage(error)}`);
    }
  }

  /**
   * A closed connection fails every QoS 1 publish still waiting for its acknowledgement.
   * MQTT.js keeps them in its outgoing store, which our reconnect() replaces with a fresh one
   * (a clean session: the broker keeps nothing for us either), so their callbacks would never
   * be called and their callers would wait for ever. Failing them is the honest answer: the
   * message may or may not have reached the broker.
   */
  private failUnacknowledged(client: MqttClient): void {
    for (const [id, entry] of Object.entries(client.outgoing)) {
      if (entry.cmd === 'publish') client.removeOutgoingMessage(Number(id));
    }
  }

  /**
   * A PUBACK waits for the command's answer (a flushed publish) or, failing that, for the check
   * phase of this turn of the event loop. A command that needs no I/O (a simulated board: a
   * chain of microtasks) then sends its answer first, as a plain MQTT.js client answering in
   * its handler does, and the PUBACK goes out in one write with the event and state that
   * follow the answer. Held for one microtask, as it was, its write (10-14 us of a 45 us
   * command here) came between the command's first two bus transactions, ahead of the answer;
   * held for the check phase alone, it took a socket write of its own (docs/performance-log.md).
   * A command waiting for I/O gets its acknowledgement in the same turn, as before.
   */
  private holdAcknowledgement(send: () => void): void {
    this.heldAcknowledgements.push(send);
    if (this.heldAcknowledgements.length === 1) setImmediate(() => this.releaseAcknowledgements());
  }

  private releaseAcknowledgements(): void {
    const held = this.heldAcknowledgements;
    if (held.length === 0) return;
    this.heldAcknowledgements = [];
    for (const send of held) send();
  }

  private scheduleReconnect(): void {
    if (this.stopping || this.reconnectTimer !== undefined || !this.client) return;
    const wait = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** this.attempt);
    this.attempt++;
    // "disconnected" only from a broker it was connected to: a first attempt that failed is no loss.
    const what = this.connectedOnce ? 'disconnected from' : 'not connected to';
    this.opts.logger.warn(`MQTT: ${what} ${displayUrl(this.opts.url)}; retrying in ${Math.round(wait / 1000)}s`);
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.stopping) this.client?.reconnect();
    }, wait);
  }

  /** A packet dropped for its size: logged, and a publish told to its topic's handlers that take it. */
  private dropped(packet: DroppedPacket): void {
    this.opts.logger.warn(describeDropped(packet));
    const { topic, payloadLength, length, retain } = packet;
    if (topic !== undefined) this.subscriptions.dropped(topic, payloadLength ?? length, retain);
  }

  async subscribe(filter: string, handler: MessageHandler, options: SubscribeOptions = {}): Promise<void> {
    this.subscriptions.add(filter, handler, options);
    if (this.client?.connected) await this.client.subscribeAsync(this.subscriptions.request(filter));
  }

  /** Resolves once the broker answered a request sent now (everything it sent before has arrived). */
  async roundTrip(unusedTopic: string): Promise<void> {
    if (!this.client) throw new TpmError('BROKER', 'MQTT connection not started');
    await this.client.unsubscribeAsync(unusedTopic);
  }

  /**
   * A one-off publish (events, responses, commands): never retained unless asked. It always
   * ends: acknowledged, or rejected at once while the broker is away, or when the connection
   * is lost before the acknowledgement (nothing is queued for a later connection).
   */
  publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): Promise<void> {
    return new Promise((resolve, reject) =>
      this.send(topic, payload, options, (error) => (error ? reject(error) : resolve())),
    );
  }

  /**
   * publish() without a promise, for the messages of every command (answers, states, events),
   * whose senders do not wait for the broker: `done` is called once, with the error publish()
   * would reject with, or none when acknowledged. Three promise chains per command, settled by
   * the acknowledgements that arrive with the next command, ran ahead of its first bus
   * transaction (docs/performance-log.md, "Command latency").
   */
  send(topic: string, payload: string | Buffer, options: PublishOptions, done: (error?: TpmError) => void): void {
    const client = this.client;
    if (!client) return done(new TpmError('BROKER', 'MQTT connection not started'));
    if (!client.connected)
      return done(new TpmError('BROKER', `not connected to the MQTT broker: the message to ${topic} was not sent`));
    this.published++;
    this.inFlight++;
    const acknowledged = (error?: Error): void => {
      this.inFlight--;
      // 'Message removed' is ours (failUnacknowledged); anything else MQTT.js said is kept.
      const detail = !error || error.message === 'Message removed' ? '' : ` (${error.message})`;
      const lost = `the connection to the MQTT broker was lost before the message to ${topic} was acknowledged`;
      done(error ? new TpmError('BROKER', `${lost}${detail}`) : undefined);
    };
    try {
      client.publish(topic, payload, { qos: options.qos ?? 1, retain: options.retain ?? false }, acknowledged);
    } catch (error) {
      acknowledged(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (options.flush) {
      this.flush();
      this.releaseAcknowledgements();
    }
  }

  /**
   * Hands what MQTT.js queued to the kernel now. MQTT.js corks the socket for each packet
   * and uncorks at the end of the tick, so an answer would wait for everything else the
   * same tick publishes (events, states); the answer of a command goes out on its own. (The
   * caller then releases the held PUBACKs: they go out with what follows the answer.)
   */
  private flush(): void {
    const socket = this.client?.stream as { writableCorked?: number; uncork?: () => void } | undefined;
    if (!socket?.uncork) return;
    for (let corked = socket.writableCorked ?? 0; corked > 0; corked--) socket.uncork();
  }

  /**
   * Retained state, QoS 1, published only when it differs from what this connection last
   * published on that topic ("with nothing changing, the bridge publishes nothing").
   * Resolves whether a message was sent. `force`: send even if unchanged (after our will may
   * have replaced it); `flush`: see flush().
   */
  publishState(topic: string, payload: string, options: StateOptions = {}): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const sent = this.sendState(topic, payload, options, (error) => (error ? reject(error) : resolve(true)));
      if (!sent) resolve(false);
    });
  }

  /** publishState() without a promise, as send() is publish(): returns whether a message was sent. */
  sendState(topic: string, payload: string, options: StateOptions, done: (error?: TpmError) => void): boolean {
    const { force = false, flush = false } = options;
    if (!force && this.retained.get(topic) === payload) return false;
    this.retained.set(topic, payload);
    if (!this.client?.connected) return false; // republished from `retained` on connect
    this.send(topic, payload, { retain: true, flush }, done);
    return true;
  }

  /** Forgets a retained topic and clears it on the broker (empty retained message). */
  async clearRetained(topic: string): Promise<void> {
    this.retained.delete(topic);
    await this.publish(topic, '', { retain: true });
  }

  /** Every retained state published so far, for a full republish (Home Assistant birth). */
  async republishAll(): Promise<void> {
    for (const [topic, payload] of this.retained) await this.publish(topic, payload, { retain: true });
  }

  /** Ends the connection, its retries and a start() still waiting; a second call waits for the first. */
  stop(): Promise<void> {
    return (this.stopped ??= this.end());
  }

  private async end(): Promise<void> {
    this.stopping = true;
    this.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.giveUpStart?.(this.stoppedError());
    const client = this.client;
    if (!client) return;
    if (!client.connected) {
      client.end(true);
      return;
    }
    // A broker that does not answer our DISCONNECT does not hold the stop up: 2 s, then forced.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        client.end(true);
        resolve();
      }, 2000);
      client.end(false, {}, (error) => {
        clearTimeout(timer);
        if (error) client.end(true);
        resolve();
      });
    });
  }
}
