import { randomUUID } from 'node:crypto';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';

/** One message as a subscriber saw it. */
export interface RecordedMessage {
  topic: string;
  payload: string;
  retain: boolean;
  /** Date.now() when it arrived. */
  at: number;
}

/** `<b>/bridge/event` (docs/topics.md), parsed. */
export interface EventPayload {
  time: string;
  type: string;
  node?: number;
  action?: string;
  source: string;
  result: 'ok' | 'error' | 'progress';
  error?: string;
  message?: string;
  transaction?: string | number;
}

export interface ResponsePayload {
  status: 'ok' | 'error';
  data?: unknown;
  error?: string;
  transaction?: string | number;
}

type TopicMatch = string | ((topic: string) => boolean);

/**
 * A test client that watches a bridge the way a user would: it subscribes to `<base>/#` and
 * `homeassistant/#`, records every message, and waits for the ones a test expects.
 */
export class Recorder {
  readonly messages: RecordedMessage[] = [];
  private readonly listeners = new Set<(message: RecordedMessage) => void>();

  private constructor(
    readonly client: MqttClient,
    readonly base: string,
  ) {
    client.on('message', (topic, payload, packet) => {
      const message = { topic, payload: payload.toString(), retain: packet.retain, at: Date.now() };
      this.messages.push(message);
      for (const listener of this.listeners) listener(message);
    });
  }

  static async connect(
    url: string,
    base: string,
    options: { filters?: string[]; client?: IClientOptions } = {},
  ): Promise<Recorder> {
    const client = await connectAsync(url, {
      clientId: `test-recorder-${randomUUID().slice(0, 8)}`,
      clean: true,
      reconnectPeriod: 200,
      connectTimeout: 5000,
      ...options.client,
    });
    const recorder = new Recorder(client, base);
    await client.subscribeAsync(options.filters ?? [`${base}/#`, 'homeassistant/#'], { qos: 1 });
    return recorder;
  }

  /** The index of the next message: pass it as `from` to look only at what comes after now. */
  mark(): number {
    return this.messages.length;
  }

  since(from: number, topic?: TopicMatch): RecordedMessage[] {
    return this.messages.slice(from).filter((m) => topic === undefined || matches(topic, m.topic));
  }

  /** The last message on a topic, if any. */
  last(topic: TopicMatch): RecordedMessage | undefined {
    return this.messages.filter((m) => matches(topic, m.topic)).at(-1);
  }

  /**
   * The first message (from index `from` on) on `topic` for which `predicate` holds; waits for
   * it up to `timeoutMs`. The error lists what did arrive, to make a failure readable.
   */
  waitFor(
    topic: TopicMatch,
    predicate: (message: RecordedMessage) => boolean = () => true,
    timeoutMs = 5000,
    from = 0,
  ): Promise<RecordedMessage> {
    const found = this.messages.slice(from).find((m) => matches(topic, m.topic) && predicate(m));
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const listener = (message: RecordedMessage): void => {
        if (!matches(topic, message.topic) || !predicate(message)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(message);
      };
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        const seen = this.since(from)
          .slice(-15)
          .map((m) => `  ${m.topic} ${m.payload.slice(0, 160)}`)
          .join('\n');
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ` +
              `${typeof topic === 'string' ? topic : 'a matching topic'}; last messages:\n${seen}`,
          ),
        );
      }, timeoutMs);
      this.listeners.add(listener);
    });
  }

  /** Waits for a payload on a topic, e.g. waitForPayload('tp/node/3/power', 'OFF'). */
  waitForPayload(topic: string, payload: string, timeoutMs = 5000, from = 0): Promise<RecordedMessage> {
    return this.waitFor(topic, (m) => m.payload === payload, timeoutMs, from);
  }

  get eventTopic(): string {
    return `${this.base}/bridge/event`;
  }

  /** Every bridge event from `from` on, parsed. */
  events(from = 0): EventPayload[] {
    return this.since(from, this.eventTopic).map((m) => JSON.parse(m.payload) as EventPayload);
  }

  async waitForEvent(predicate: (event: EventPayload) => boolean, timeoutMs = 5000, from = 0): Promise<EventPayload> {
    const message = await this.waitFor(
      this.eventTopic,
      (m) => predicate(JSON.parse(m.payload) as EventPayload),
      timeoutMs,
      from,
    );
    return JSON.parse(message.payload) as EventPayload;
  }

  async publish(topic: string, payload: string | Buffer, options: { retain?: boolean } = {}): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 1, retain: options.retain ?? false });
  }

  /** `<b>/node/<n>/set`, never retained unless asked (a test of stale commands). */
  command(node: number | string, word: string | Buffer, options: { retain?: boolean } = {}): Promise<void> {
    return this.publish(`${this.base}/node/${node}/set`, word, options);
  }

  /**
   * `<b>/bridge/request/<action>` with a fresh transaction id; resolves with the response that
   * carries it (and the index of that response, to check that no second one follows).
   */
  async request(
    action: string,
    body: Record<string, unknown> = {},
    timeoutMs = 10_000,
  ): Promise<ResponsePayload & { index: number }> {
    const transaction = randomUUID();
    const from = this.mark();
    const responseTopic = `${this.base}/bridge/response/${action}`;
    const waiting = this.waitFor(responseTopic, (m) => parse(m.payload)?.transaction === transaction, timeoutMs, from);
    await this.publish(`${this.base}/bridge/request/${action}`, JSON.stringify({ transaction, ...body }));
    const message = await waiting;
    return { ...(JSON.parse(message.payload) as ResponsePayload), index: this.messages.indexOf(message) };
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.client.endAsync(true).catch(() => undefined);
  }
}

function matches(topic: TopicMatch, actual: string): boolean {
  return typeof topic === 'string' ? topic === actual : topic(actual);
}

function parse(text: string): ResponsePayload | undefined {
  try {
    return JSON.parse(text) as ResponsePayload;
  } catch {
    return undefined;
  }
}
