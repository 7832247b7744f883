import { connectAsync, type MqttClient } from 'mqtt';

/** What the probe saw on one topic. */
export interface Seen {
  topic: string;
  payload: Buffer;
  retain: boolean;
  /** performance.now() when it arrived. */
  at: number;
}

type Waiter = { match: (m: Seen) => boolean; resolve: (m: Seen) => void; timer: NodeJS.Timeout };

/**
 * The benchmark's own MQTT client: sends commands, waits for answers, and counts every
 * message under the filters it watches (how much a process publishes, and when).
 */
export class Probe {
  private waiters: Waiter[] = [];
  private counters = new Map<string, { messages: number; bytes: number }>();
  private readonly latest = new Map<string, string>();

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      const seen: Seen = { topic, payload, retain: packet.retain, at: performance.now() };
      this.latest.set(topic, payload.toString());
      for (const [prefix, counter] of this.counters) {
        if (topic.startsWith(prefix)) {
          counter.messages++;
          counter.bytes += payload.length + Buffer.byteLength(topic);
        }
      }
      const index = this.waiters.findIndex((w) => w.match(seen));
      if (index >= 0) {
        const [waiter] = this.waiters.splice(index, 1);
        waiter?.resolve(seen);
      }
    });
  }

  static async connect(url: string): Promise<Probe> {
    const client = await connectAsync(url, {
      clean: true,
      reconnectPeriod: 0,
      clientId: `bench-probe-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    });
    // As the floor client: no Nagle delay of the benchmark's own on top of what it measures.
    (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    return new Probe(client);
  }

  /** Subscribes to `prefix/#` and counts what arrives under it from now on. */
  async watch(prefix: string): Promise<void> {
    this.counters.set(`${prefix}/`, { messages: 0, bytes: 0 });
    await this.client.subscribeAsync(`${prefix}/#`, { qos: 1 });
  }

  /** Stops counting under `prefix` and unsubscribes from `prefix/#`. */
  async unwatch(prefix: string): Promise<void> {
    this.counters.delete(`${prefix}/`);
    await this.client.unsubscribeAsync(`${prefix}/#`);
  }

  async subscribe(filter: string, qos: 0 | 1 = 1): Promise<void> {
    await this.client.subscribeAsync(filter, { qos });
  }

  async unsubscribe(filter: string): Promise<void> {
    await this.client.unsubscribeAsync(filter);
  }

  /** The last payload on `topic`, retained included, waiting for it if none came yet. */
  async lastOrNext(topic: string, timeoutMs = 10_000): Promise<string> {
    const seen = this.latest.get(topic);
    if (seen !== undefined) return seen;
    const message = await this.nextWhere((m) => m.topic === topic, `a message on ${topic}`, timeoutMs, topic);
    return message.payload.toString();
  }

  count(prefix: string): { messages: number; bytes: number } {
    return { ...(this.counters.get(`${prefix}/`) ?? { messages: 0, bytes: 0 }) };
  }

  resetCount(prefix: string): void {
    const counter = this.counters.get(`${prefix}/`);
    if (counter) {
      counter.messages = 0;
      counter.bytes = 0;
    }
  }

  /** The next live (not retained) message on `topic` with `payload` (any payload if omitted). */
  next(topic: string, payload?: string, timeoutMs = 10_000): Promise<Seen> {
    return this.nextWhere(
      (m) => m.topic === topic && !m.retain && (payload === undefined || m.payload.toString() === payload),
      `${payload ?? 'message'} on ${topic}`,
      timeoutMs,
      topic,
    );
  }

  /** The next message `match` accepts; `what` and `topic` only serve the time-out's message. */
  nextWhere(match: (m: Seen) => boolean, what: string, timeoutMs = 10_000, topic?: string): Promise<Seen> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const last = topic
          ? ` (last seen there: ${this.latest.get(topic) ?? 'nothing'}; last event: ` +
            `${this.latest.get(topic.replace(/\/node\/.*$/, '/bridge/event')) ?? 'none'})`
          : '';
        reject(new Error(`no ${what} within ${timeoutMs} ms${last}`));
      }, timeoutMs);
      const waiter: Waiter = {
        match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        timer,
      };
      this.waiters.push(waiter);
    });
  }

  /**
   * Stops waiting for what `nextWhere` returned (the other side of a race won), its timer too:
   * left running, every bridge command's "busy" watch stayed 10 s in the timer list and fired
   * during the commands timed after it.
   */
  cancel(match: (m: Seen) => boolean): void {
    for (const w of this.waiters) if (w.match === match) clearTimeout(w.timer);
    this.waiters = this.waiters.filter((w) => w.match !== match);
  }

  /** The last payload seen on `topic` under a watched prefix. */
  last(topic: string): string | undefined {
    return this.latest.get(topic);
  }

  publish(topic: string, payload: string): Promise<unknown> {
    return this.client.publishAsync(topic, payload, { qos: 1 });
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
