/**
 * A diagnostic run, not a figure for the README: one bridge (simulated Turing Pi 1) through a
 * real mosquitto with set_tcp_nodelay, COMMANDS commands to one node (and as many echoes of
 * the floor client, interleaved), then where the bridge's memory is. Node flags for the
 * bridge go in PROFILE_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", "--trace-gc").
 *
 *   node dist/test/bench/profile.js [COMMANDS]
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeBridgeConfig } from './configs.js';
import { commanders, interleaved, startBridge, startFloor, type Commander } from './harness.js';
import { startMosquitto } from '../support/mosquitto.js';
import { countCpu, rssKiB, type Child } from './process.js';
import { Probe } from './probe.js';
import { percentile, round } from './stats.js';
import { delay } from '../support/wait.js';

const here = dirname(fileURLToPath(import.meta.url));
const commands = Number(process.argv[2] ?? 2000);
const nodeArgs = (process.env.PROFILE_NODE_ARGS ?? '').split(' ').filter(Boolean);

async function memory(child: Child, file: string): Promise<unknown> {
  process.kill(child.pid, 'SIGUSR2');
  await delay(300);
  return { rss_mib: round(rssKiB(child.pid) / 1024, 1), ...(JSON.parse(readFileSync(file, 'utf8')) as object) };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'tpm-profile-'));
  const broker = await startMosquitto({ tcpNoDelay: true, maxQueuedMessages: 100_000 });
  const probe = await Probe.connect(broker.url);
  const diagOut = join(work, 'diag.json');
  process.env.DIAG_OUT = diagOut;
  process.env.DIAG_LATENCY = '/set:/power';
  const run = writeBridgeConfig(work, broker.url, { model: 'tpi1' });
  const bridge = await startBridge(probe, run, ['--require', resolve(here, 'diag.cjs'), ...nodeArgs]);
  // The floor client gets the same preload, for its own time from ping in to pong out.
  const floorDiag = join(work, 'floor-diag.json');
  process.env.DIAG_OUT = floorDiag;
  process.env.DIAG_LATENCY = '/ping:/pong';
  const floor = await startFloor(probe, 'bench/floor', broker.url, ['--require', resolve(here, 'diag.cjs')]);
  let commander: Probe | undefined;
  try {
    process.stdout.write(`start-up ${round(bridge.startupMs, 1)} ms\n`);
    await delay(1000);
    const atStart = await memory(bridge.child, diagOut);
    const timing = await commanders(probe, broker.url, run, 'bench/floor');
    commander = timing.probe;
    const { bridge: bc, floor: fc } = timing;
    await interleaved(bc, fc, Number(process.env.PROFILE_WARMUP ?? 1000));
    const t0 = performance.now();
    await memory(bridge.child, diagOut); // resets the inside-the-process latencies
    await memory(floor.child, floorDiag);
    const cpuSince = countCpu({ bridge: bridge.child.pid, floor: floor.child.pid });
    // PROFILE_SPACING_MS=N: a pause before each command, as the bench's "apart" row.
    const spacing = Number(process.env.PROFILE_SPACING_MS ?? 0);
    const spaced = (c: Commander): Commander =>
      spacing > 0 ? { command: async () => (await delay(spacing), c.command()) } : c;
    const lat = await interleaved(spaced(bc), spaced(fc), commands);
    const us = cpuSince(commands);
    const cpu = { bridge: round(us.bridge, 0), floor: round(us.floor, 0) };
    const seconds = (performance.now() - t0) / 1000;
    await delay(1000);
    const after = await memory(bridge.child, diagOut);
    const floorAfter = (await memory(floor.child, floorDiag)) as object;
    // DIAG_ALLOC=1: what each allocated during the commands, kept for a look after the run.
    if (existsSync(`${diagOut}.heapprofile`))
      copyFileSync(`${diagOut}.heapprofile`, join(tmpdir(), 'bridge-commands.heapprofile'));
    if (existsSync(`${floorDiag}.heapprofile`))
      copyFileSync(`${floorDiag}.heapprofile`, join(tmpdir(), 'floor-echoes.heapprofile'));
    const insideOf = (file: string): string =>
      existsSync(`${file}.latency`) ? readFileSync(`${file}.latency`, 'utf8') : 'n/a';
    const inside = `bridge ${insideOf(diagOut)}, floor ${insideOf(floorDiag)}`;
    const floorRss = round(rssKiB(floor.child.pid) / 1024, 1);
    const p = (xs: number[], q: number): number => round(percentile(xs, q), 3);
    const quantiles = (xs: number[]) => ({ p50: p(xs, 50), p90: p(xs, 90), p99: p(xs, 99) });
    const ratio = round(percentile(lat.bridge, 50) / percentile(lat.floor, 50), 2);
    const rssMib = (m: unknown): number => (m as { rss_mib: number }).rss_mib;
    const summary =
      `p50 ${p(lat.bridge, 50)} vs ${p(lat.floor, 50)} ms (${ratio}x), ` +
      `p99 ${p(lat.bridge, 99)} vs ${p(lat.floor, 99)} ms; CPU ${cpu.bridge} vs ${cpu.floor} us/command; ` +
      `RSS ${rssMib(atStart)} -> ${rssMib(after)} MiB, floor ${floorRss} MiB`;
    if (process.env.PROFILE_BRIEF) {
      const brief = (m: unknown): string => {
        const { usage, spaces } = m as { usage: Record<string, number>; spaces: Record<string, { physical: number }> };
        const physical = Object.entries(spaces)
          .filter(([, v]) => v.physical > 0)
          .map(([k, v]) => `${k.replace('_space', '')} ${v.physical}`);
        return `rss ${usage.rss} heapUsed ${usage.heapUsed} external ${usage.external} | ${physical.join(', ')}`;
      };
      process.stdout.write(`${summary}\ninside the process (us): ${inside}\n`);
      process.stdout.write(
        `bridge at start: ${brief(atStart)}\nbridge after:    ${brief(after)}\nfloor after:     ${brief(floorAfter)}\n`,
      );
      return;
    }
    process.stdout.write(
      JSON.stringify(
        {
          commands,
          seconds: round(seconds, 1),
          bridge: quantiles(lat.bridge),
          floor: quantiles(lat.floor),
          busy: bc.busyRefusals,
          floorRss,
          atStart,
          after,
        },
        null,
        1,
      ) + '\n',
    );
  } finally {
    await bridge.child.stop();
    await floor.child.stop();
    await probe.close();
    await commander?.close();
    await broker.stop();
    if (!process.env.PROFILE_BRIEF) process.stdout.write(bridge.child.output().slice(-3000));
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `profile failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
