import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeAgentConfig, writeBridgeConfig, type BridgeRun } from './configs.js';
import { anonKiB, cpuMs, rssKiB, spawnNode, whileAlive, type Child } from './process.js';
import { median } from './stats.js';
import { Probe, type Seen } from './probe.js';
import { delay } from '../support/wait.js';

/** Starting the measured processes and timing commands through the broker (run.ts, profile.ts). */

const here = dirname(fileURLToPath(import.meta.url));
export const CLI = resolve(here, '../../src/cli.cjs');
export const FLOOR = resolve(here, 'floor-client.js');
/** A node that is neither protected (tpi1 node 1 is) nor an agent node. */
export const NODE = 5;

export interface Running {
  child: Child;
  startupMs: number;
}

/**
 * Starts a bridge process and waits for its `bridge/state` online (published after discovery
 * and states). `cli`: another build's command (side-by-side.ts), this build's by default.
 */
export async function startBridge(
  probe: Probe,
  run: BridgeRun,
  nodeArgs: string[] = [],
  cli = CLI,
): Promise<Running & { messages: { base: number; discovery: number; discoveryBytes: number } }> {
  await probe.watch(run.base);
  await probe.watch(run.discovery);
  const online = probe.next(`${run.base}/bridge/state`, 'online', 60_000);
  const t0 = performance.now();
  const child = spawnNode([...nodeArgs, cli, '-c', run.file], { env: { NODE_ENV: 'production' } });
  const seen = await whileAlive(child, online, 'bridge start');
  const base = probe.count(run.base);
  const discovery = probe.count(run.discovery);
  return {
    child,
    startupMs: seen.at - t0,
    messages: { base: base.messages, discovery: discovery.messages, discoveryBytes: discovery.bytes },
  };
}

/**
 * Starts an agent for `node` under `base` (its argv fails on purpose, so each command ends in
 * an event) and waits for its first telemetry; `probe` watches (counts) its topics from then on.
 * `nodeArgs` go to node.
 */
export async function startAgent(
  probe: Probe,
  work: string,
  url: string,
  base: string,
  node: number,
  nodeArgs: string[] = [],
): Promise<Running & { telemetryBytes: number }> {
  await probe.watch(`${base}/node/${node}/agent`);
  const telemetry = probe.next(`${base}/node/${node}/agent/telemetry`, undefined, 30_000);
  const t0 = performance.now();
  const child = spawnNode([...nodeArgs, CLI, 'agent', '-c', writeAgentConfig(work, url, base, node, ['false'])], {
    env: { NODE_ENV: 'production' },
  });
  const seen = await whileAlive(child, telemetry, 'agent start');
  return { child, startupMs: seen.at - t0, telemetryBytes: seen.payload.length };
}

/**
 * `count` commands to the agent of `node` (REBOOT, failing on purpose), each waiting for its event; at most `capMs`.
 * Returns how many.
 */
export async function commandAgent(
  probe: Probe,
  base: string,
  node: number,
  count: number,
  capMs = 20_000,
): Promise<number> {
  let sent = 0;
  const t0 = performance.now();
  for (; sent < count && performance.now() - t0 < capMs; sent++) {
    await roundTrip(probe, `${base}/node/${node}/agent/command`, 'REBOOT', `${base}/node/${node}/agent/event`);
  }
  return sent;
}

/**
 * Starts a floor client; `mode`: its own arguments after the prefix (`--contract`: the one that
 * also sends a command's messages; `--sample MS BYTES`: the one that publishes like an idle
 * agent; see floor-client.ts).
 */
export async function startFloor(
  probe: Probe,
  prefix: string,
  url: string,
  nodeArgs: string[] = [],
  mode: string[] = [],
): Promise<Running> {
  await probe.subscribe(`${prefix}/state`);
  const online = probe.next(`${prefix}/state`, 'online', 20_000);
  const t0 = performance.now();
  const child = spawnNode([...nodeArgs, FLOOR, url, prefix, ...mode]);
  const seen = await whileAlive(child, online, 'floor client start');
  return { child, startupMs: seen.at - t0 };
}

/** node's flags for `role` as its systemd unit ships them (Environment=NODE_OPTIONS=...). */
export function shippedNodeOptions(role: 'bridge' | 'agent'): string[] {
  const unit = readFileSync(resolve(here, `../../../config/systemd/turingpi-mqtt-${role}.service`), 'utf8');
  const line = /^Environment="?NODE_OPTIONS=([^"\n]*)"?$/m.exec(unit)?.[1] ?? '';
  return line.split(/\s+/).filter(Boolean);
}

/**
 * The floor the issue sets its memory and CPU targets against: a bare `node` process with
 * node's default flags, doing nothing (a timer keeps it alive).
 */
function startBareNode(): Child {
  return spawnNode(['-e', 'setInterval(() => {}, 1 << 30)']);
}

/**
 * That floor read from three bare nodes, each started at a moment of its own, as the median of
 * the three taken at the same moment. One bare node is one draw of how many of node's own file
 * pages the kernel maps around the first faults: in 2 full runs of 11 (2026-12-06 and -07) it
 * read 0.7-0.8 MiB lower than in the others, all of it file pages (its anonymous memory within
 * 8 KiB every time), while 16 bare nodes started alone read 40.34-40.46 MiB
 * (docs/performance.md, "How each is taken"). The JSON keeps each one's reading.
 */
export class BareNodes {
  private readonly started: Child[] = [];

  /** Starts one more (the caller keeps it with the processes to stop on failure). */
  start(): Child {
    const child = startBareNode();
    this.started.push(child);
    return child;
  }

  rssKiB(): number {
    return median(this.each('rss'));
  }

  anonKiB(): number {
    return median(this.each('anon'));
  }

  cpuMs(): number {
    return median(this.each('cpu'));
  }

  /** Each one's reading, in the order they were started. */
  each(what: 'rss' | 'anon' | 'cpu'): number[] {
    const read = what === 'rss' ? rssKiB : what === 'anon' ? anonKiB : cpuMs;
    return this.started.map((child) => read(child.pid));
  }

  async stop(): Promise<void> {
    for (const child of this.started) await child.stop();
  }
}

/**
 * The client that times commands and echoes, connected for that alone. It subscribes to the
 * answers it waits for, as a script or Home Assistant would: each floor's pong and each
 * commanded node's power (QoS 1), and the events at QoS 0 (the bridge's, only to notice a
 * command refused "busy"; a contract floor's, so that both cost the timing client alike).
 * A client subscribed to everything under the base topic also receives its own command,
 * the node's state and the event, and the time it spends reading them shows in its
 * figures: run.ts measures that case on its own row.
 */
export async function commandProbe(
  url: string,
  floorPrefixes: string[],
  bridges: { base: string; nodes: number[] }[] = [],
): Promise<Probe> {
  const probe = await Probe.connect(url);
  for (const prefix of floorPrefixes) {
    await probe.subscribe(`${prefix}/pong`);
    await probe.subscribe(`${prefix}/event`, 0);
  }
  for (const bridge of bridges) {
    await probe.subscribe(`${bridge.base}/bridge/event`, 0);
    for (const node of bridge.nodes) await probe.subscribe(`${bridge.base}/node/${node}/power`);
  }
  return probe;
}

/**
 * Stops `watcher` watching the bridge (what it would read costs the timing, see commandProbe)
 * and returns commanders for the bridge and the floors on a command probe of their own.
 */
export async function commanders(
  watcher: Probe,
  url: string,
  run: BridgeRun,
  floorPrefix: string,
  options: { nodes?: number[]; contractPrefix?: string } = {},
): Promise<{ probe: Probe; bridge: BridgeCommander; floor: FloorCommander; contract?: FloorCommander }> {
  await watcher.unwatch(run.base);
  await watcher.unwatch(run.discovery);
  const { nodes = [NODE], contractPrefix } = options;
  const probe = await commandProbe(url, contractPrefix ? [floorPrefix, contractPrefix] : [floorPrefix], [
    { base: run.base, nodes },
  ]);
  return {
    probe,
    bridge: await new BridgeCommander(probe, run.base).init(),
    floor: new FloorCommander(probe, floorPrefix),
    ...(contractPrefix ? { contract: new FloorCommander(probe, contractPrefix) } : {}),
  };
}

/** A bridge and a floor running side by side, with commanders for both. */
export interface BridgeAndFloor {
  bridge: Child;
  floor: Child;
  bridgeCommander: BridgeCommander;
  floorCommander: FloorCommander;
  /** Stops both processes and closes the clients. */
  close(): Promise<void>;
}

/**
 * Starts a bridge (simulated Turing Pi 1, `bridgeNodeArgs` for node) and a floor client on
 * the broker at `url`, with their own probes: the phases of run.ts that measure one case.
 */
export async function startBridgeAndFloor(
  work: string,
  url: string,
  floorPrefix: string,
  bridgeNodeArgs: string[] = [],
): Promise<BridgeAndFloor> {
  const watcher = await Probe.connect(url);
  const started: Child[] = [];
  try {
    const run = writeBridgeConfig(work, url, { model: 'tpi1' });
    const bridge = (await startBridge(watcher, run, bridgeNodeArgs)).child;
    started.push(bridge);
    // The floor keeps node's defaults: a bare client as anyone would run it.
    const floor = (await startFloor(watcher, floorPrefix, url)).child;
    started.push(floor);
    const timing = await commanders(watcher, url, run, floorPrefix);
    return {
      bridge,
      floor,
      bridgeCommander: timing.bridge,
      floorCommander: timing.floor,
      close: async () => {
        for (const child of started) await child.stop();
        await watcher.close();
        await timing.probe.close();
      },
    };
  } catch (error) {
    for (const child of started) await child.stop();
    await watcher.close();
    throw error;
  }
}

/** One request/response through the broker, timed from the publish to the answer. */
export async function roundTrip(
  probe: Probe,
  sendTopic: string,
  payload: string,
  answerTopic: string,
  answer?: string,
): Promise<number> {
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

  /** Starts with the opposite of the node's power now (retained: the probe has it once subscribed). */
  async init(): Promise<this> {
    const now = await this.probe.lastOrNext(`${this.base}/node/${this.node}/power`);
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
      const isBusy = (m: Seen): boolean =>
        m.topic === event &&
        m.payload.includes('"error"') &&
        m.payload.includes('busy') &&
        m.payload.includes(`"node":${this.node},`);
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
      await delay(1);
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

/** Anything timed one command at a time. */
export interface Commander {
  command(): Promise<number>;
}

/** Bridge and floor in alternating blocks, so a slow moment of the machine hits both alike. */
export async function interleaved(
  bridge: Commander,
  floor: Commander,
  count: number,
  block = 50,
): Promise<{ bridge: number[]; floor: number[] }> {
  const { bridge: b = [], floor: f = [] } = await interleavedMany({ bridge, floor }, count, block);
  return { bridge: b, floor: f };
}

/** Each commander in turn, `block` commands at a time, until each has `count`. */
export async function interleavedMany<K extends string>(
  commanders: Record<K, Commander>,
  count: number,
  block = 50,
): Promise<Record<K, number[]>> {
  const keys = Object.keys(commanders) as K[];
  const result = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<K, number[]>;
  for (let done = 0; done < count; done += block) {
    for (const key of keys) {
      for (let i = 0; i < Math.min(block, count - done); i++) result[key].push(await commanders[key].command());
    }
  }
  return result;
}
