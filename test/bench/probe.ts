import { connectAsync, type MqttClient } from 'mqtt';

/** What the probe saw on one topic. */
export interface Seen {
  topic: string;
  payload: Buffer;
  retain: boolean;
  /** performance.now() when it arrived. */
  at: number;
}

type Waiter = { match: (m: Seen) => boolean; resolve: (m: Seen) => void };

/**
 * The benchmark's own MQTT client: sends commands, waits for answers, and counts every
 * message under the filters it watches (how much a process publishes, and when).
 */
export class Probe {
  private waiters: Waiter[] = [];
  private counters = new Map<string, { messages: number; bytes: number }>();

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      const seen: Seen = { topic, payload, retain: packet.retain, at: performance.now() };
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
    const client = await connectAsync(url, { clean: true, reconnectPeriod: 0, clientId: `bench-probe-${process.pid}-${Math.random().toString(16).slice(2, 8)}` });
    return new Probe(client);
  }

  /** Subscribes to `prefix/#` and counts what arrives under it from now on. */
  async watch(prefix: string): Promise<void> {
    this.counters.set(`${prefix}/`, { messages: 0, bytes: 0 });
    await this.client.subscribeAsync(`${prefix}/#`, { qos: 1 });
  }

  async subscribe(filter: string): Promise<void> {
    await this.client.subscribeAsync(filter, { qos: 1 });
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
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no ${payload ?? 'message'} on ${topic} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        match: (m) => m.topic === topic && !m.retain && (payload === undefined || m.payload.toString() === payload),
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** The retained message a fresh subscription returns, or undefined after `timeoutMs`. */
  async retained(topic: string, timeoutMs = 1000): Promise<string | undefined> {
    const seen = new Promise<Seen>((resolve) => this.waiters.push({ match: (m) => m.topic === topic && m.retain, resolve }));
    await this.client.subscribeAsync(topic, { qos: 1 });
    const result = await Promise.race([seen, new Promise<undefined>((resolve) => setTimeout(resolve, timeoutMs))]);
    return result?.payload.toString();
  }

  publish(topic: string, payload: string): Promise<unknown> {
    return this.client.publishAsync(topic, payload, { qos: 1 });
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
