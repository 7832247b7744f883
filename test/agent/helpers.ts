import { Writable } from 'node:stream';
import { connectAsync, type MqttClient } from 'mqtt';
import type { SystemInfoSource } from '../../src/agent/system-info.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { createLogger, type Logger } from '../../src/util/logger.js';
import { delay, until } from '../support/wait.js';

/** A logger whose lines a test can read: `lines` holds {level, msg} of every line. */
export function recordingLogger(): { logger: Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        const parsed = JSON.parse(line) as { level: number; msg: string };
        lines.push({ level: parsed.level, msg: parsed.msg });
      }
      callback();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), lines };
}

export function agentConfig(url: string, agent: Record<string, unknown> = {}, power?: Record<string, unknown>): Config {
  return configSchema.parse({
    mqtt: { url, base_topic: 'tp' },
    ...(power ? { power } : {}),
    board: { id: 'lab' },
    agent: {
      node: 3,
      interval: '15s',
      shutdown_command: ['/usr/local/bin/drain-and-poweroff', '--now'],
      reboot_command: ['systemctl', 'reboot'],
      ...agent,
    },
  });
}

/** A node whose readings the test sets; uptime follows the injected clock, with jitter. */
export class FakeSystem implements SystemInfoSource {
  temperature: number | null = 50;
  load = 10;
  active = 2_000;
  total = 8_000;
  disk = 40;
  hostname = 'node3';
  throttled: string | null = 'throttled=0x0';
  calls = 0;

  constructor(
    private readonly now: () => number,
    private readonly bootedAt: number,
  ) {}

  cpuTemperature() {
    return Promise.resolve({ main: this.temperature });
  }
  currentLoad() {
    return Promise.resolve({ currentLoad: this.load });
  }
  mem() {
    return Promise.resolve({ total: this.total, active: this.active });
  }
  fsSize() {
    return Promise.resolve([
      { mount: '/boot/firmware', use: 12 },
      { mount: '/', use: this.disk },
    ]);
  }
  time() {
    this.calls++;
    // systeminformation reads /proc/uptime: a few hundredths off the wall clock each time.
    const jitter = (this.calls % 3) * 0.37;
    return { uptime: (this.now() - this.bootedAt) / 1000 + jitter };
  }
  osInfo() {
    return Promise.resolve({ hostname: this.hostname });
  }
  getThrottled() {
    return Promise.resolve(this.throttled);
  }
}

export interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}

/** A watching client that records every message on the filters it subscribes to. */
export async function watch(url: string, filters: string[]): Promise<{ client: MqttClient; messages: Received[] }> {
  const client = await connectAsync(url, {
    clientId: `watcher-${Math.random().toString(16).slice(2)}`,
    reconnectPeriod: 0,
  });
  const messages: Received[] = [];
  client.on('message', (topic, payload, packet) =>
    messages.push({ topic, payload: payload.toString(), retain: packet.retain }),
  );
  await client.subscribeAsync(filters, { qos: 1 });
  return { client, messages };
}

/** Polls in real time (network delivery) until the predicate holds; the agent tests allow 3 s. */
export function waitFor(predicate: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  return until(predicate, what, timeoutMs);
}

/** Lets in-flight messages arrive, to assert that nothing more was published. */
export function settle(ms = 150): Promise<void> {
  return delay(ms);
}
