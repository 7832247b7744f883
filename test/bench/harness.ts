import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BridgeRun } from './configs.js';
import { spawnNode, whileAlive, type Child } from './process.js';
import type { Probe, Seen } from './probe.js';

/** Starting the measured processes and timing commands through the broker (run.ts, profile.ts). */

const here = dirname(fileURLToPath(import.meta.url));
export const CLI = resolve(here, '../../src/cli.js');
export const FLOOR = resolve(here, 'floor-client.js');
/** A node that is neither protected (tpi1 node 1 is) nor an agent node. */
export const NODE = 5;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Running {
  child: Child;
  startupMs: number;
}

/** Starts a bridge process and waits for its `bridge/state` online (published after discovery and states). */
export async function startBridge(probe: Probe, run: BridgeRun, nodeArgs: string[] = []): Promise<Running & { messages: { base: number; discovery: number; discoveryBytes: number } }> {
  await probe.watch(run.base);
  await probe.watch(run.discovery);
  const online = probe.next(`${run.base}/bridge/state`, 'online', 60_000);
  const t0 = performance.now();
  const child = spawnNode([...nodeArgs, CLI, '-c', run.file], { env: { NODE_ENV: 'production' } });
  const seen = await whileAlive(child, online, 'bridge start');
  const base = probe.count(run.base);
  const discovery = probe.count(run.discovery);
  return { child, startupMs: seen.at - t0, messages: { base: base.messages, discovery: discovery.messages, discoveryBytes: discovery.bytes } };
}

export async function startFloor(probe: Probe, prefix: string, url: string, nodeArgs: string[] = []): Promise<Running> {
  await probe.subscribe(`${prefix}/state`);
  await probe.subscribe(`${prefix}/pong`);
  const online = probe.next(`${prefix}/state`, 'online', 20_000);
  const t0 = performance.now();
  const child = spawnNode([...nodeArgs, FLOOR, url, prefix]);
  const seen = await whileAlive(child, online, 'floor client start');
  return { child, startupMs: seen.at - t0 };
}

/** One request/response through the broker, timed from the publish to the answer. */
export async function roundTrip(probe: Probe, sendTopic: string, payload: string, answerTopic: string, answer?: string): Promise<number> {
  const answered = probe.next(answerTopic, answer);
  const t0 = performance.now();
  void probe.publish(sendTopic, payload);
  const seen = await answered;
  return seen.at - t0;
}

/** Commands to one node alternately ON and OFF; each timed to its `node/<n>/power`. */
export class BridgeCommander {
  private next: 'ON' | 'OFF' = 'ON';
  constructor(
    private readonly probe: Probe,
    private readonly base: string,
    private readonly node = NODE,
  ) {}

  /** Starts with the opposite of what the bridge published at start (the probe watched it). */
  init(): this {
    const now = this.probe.last(`${this.base}/node/${this.node}/power`);
    if (now === undefined) throw new Error(`the bridge published no ${this.base}/node/${this.node}/power at start`);
    this.next = now === 'ON' ? 'OFF' : 'ON';
    return this;
  }

  /**
   * The bridge publishes the read-back power before it has finished the command (its state
   * file is written after): a command sent at once may be refused "busy". Such a refusal is
   * counted and the command sent again; the latency is that of the accepted command.
   */
  busyRefusals = 0;

  async command(): Promise<number> {
    const want = this.next;
    this.next = want === 'ON' ? 'OFF' : 'ON';
    const power = `${this.base}/node/${this.node}/power`;
    const event = `${this.base}/bridge/event`;
    for (;;) {
      const isPower = (m: Seen): boolean => m.topic === power && !m.retain && m.payload.toString() === want;
      const isBusy = (m: Seen): boolean => m.topic === event && m.payload.includes('"error"') && m.payload.includes('busy') && m.payload.includes(`"node":${this.node},`);
      const answered = this.probe.nextWhere(isPower, `${want} on ${power}`, 10_000, power);
      const refused = this.probe.nextWhere(isBusy, 'busy event', 10_000);
      refused.catch(() => undefined);
      const t0 = performance.now();
      void this.probe.publish(`${this.base}/node/${this.node}/set`, want);
      const seen = await Promise.race([answered, refused]);
      if (seen.topic === power) {
        this.probe.cancel(isBusy);
        return seen.at - t0;
      }
      this.probe.cancel(isPower);
      answered.catch(() => undefined);
      this.busyRefusals++;
      await sleep(1);
    }
  }
}

export class FloorCommander {
  private i = 0;
  constructor(
    private readonly probe: Probe,
    private readonly prefix: string,
  ) {}

  command(): Promise<number> {
    const payload = String(++this.i);
    return roundTrip(this.probe, `${this.prefix}/ping`, payload, `${this.prefix}/pong`, payload);
  }
}

/** Bridge and floor in alternating blocks, so a slow moment of the machine hits both alike. */
export async function interleaved(bridge: BridgeCommander, floor: FloorCommander, count: number, block = 50): Promise<{ bridge: number[]; floor: number[] }> {
  const result = { bridge: [] as number[], floor: [] as number[] };
  while (result.bridge.length < count) {
    for (let i = 0; i < block; i++) result.floor.push(await floor.command());
    for (let i = 0; i < block; i++) result.bridge.push(await bridge.command());
  }
  return result;
}
