import { join } from 'node:path';
import type { BridgeRun } from './configs.js';
import { FloorCommander, commanders, interleavedMany, type BridgeCommander, type Commander } from './harness.js';
import { measureStateWrites } from './in-process.js';
import { countCpu } from './process.js';
import type { Probe } from './probe.js';
import { compare, percentile, round, type Comparison } from './stats.js';
import { delay } from '../support/wait.js';

/**
 * Command latency (issue 16, target 5): the bridge beside the echo floor and the contract
 * floor, in the same blocks. run.ts runs it inside the whole bench, and alone with
 * `npm run bench -- latency` (see latencyOnly there).
 */

export interface LatencyCounts {
  warmup: number;
  latency: number;
  spaced: number;
}

/** The pause before each command of the "apart" latency figure. */
export const SPACED_MS = 2;

/** p50, p90, p99 and max of a latency sample in ms, as results JSON keeps them. */
export function quantiles(ms: number[]): { p50: number; p90: number; p99: number; max: number } {
  return {
    p50: round(percentile(ms, 50), 3),
    p90: round(percentile(ms, 90), 3),
    p99: round(percentile(ms, 99), 3),
    max: round(Math.max(...ms), 3),
  };
}

export interface LatencyPhase {
  rows: Comparison[];
  results: { latency: Record<string, unknown>; latency_spaced: Record<string, unknown> };
  /** The timing client and its commanders, still connected (the soak goes on with them). */
  timing: { probe: Probe; bridge: BridgeCommander; floor: FloorCommander };
  /** Commands the bridge got in this phase, warm-up included. */
  commands: number;
}

/**
 * As the issue asks: a client subscribed to the answer (the node's power; and events at QoS 0
 * to notice a "busy" refusal), like the floor's client to its pong. After a warm-up of all:
 * a service runs for months, the figure is its steady state. The contract floor runs in the
 * same blocks: the share of the ratio that the contract's messages alone take.
 */
export async function measureLatency(
  watcher: Probe,
  url: string,
  run: BridgeRun,
  work: string,
  nodes: number[],
  n: LatencyCounts,
  log: (text: string) => void,
  pids?: { bridge: number; contract: number },
): Promise<LatencyPhase> {
  log(
    `command latency: ${n.warmup} warm-up, then ${n.latency} commands to the bridge, ${n.latency} echoes ` +
      `and ${n.latency} contract echoes, interleaved ...`,
  );
  const timing = await commanders(watcher, url, run, 'bench/floor', { nodes, contractPrefix: 'bench/contract' });
  const { bridge, floor } = timing;
  const trio = { bridge, floor, contract: timing.contract as FloorCommander };
  // CPU per command of the bridge and the contract floor, as results JSON keeps it.
  const cpuCounter = (commands: number): (() => { bridge_us: number; contract_floor_us: number } | undefined) => {
    if (!pids) return () => undefined;
    const since = countCpu(pids);
    return () => {
      const us = since(commands);
      return { bridge_us: round(us.bridge, 0), contract_floor_us: round(us.contract, 0) };
    };
  };
  // The warm-up's last commands, as many as will be timed, are measured too: their CPU per
  // command beside the timed ones' tells whether the figure is the steady state (about 1x).
  const tail = Math.min(n.warmup, n.latency);
  await interleavedMany(trio, n.warmup - tail);
  const warmUpTail = cpuCounter(tail);
  await interleavedMany(trio, tail);
  const warmUpTailCpu = warmUpTail();
  const stateWrites = measureStateWrites(join(work, run.base.split('/')[1] ?? ''));
  const timed = cpuCounter(n.latency);
  const latency = await interleavedMany(trio, n.latency);
  const cpuPerCommand = timed();
  const writesPerCommand = stateWrites.stop() / latency.bridge.length;
  const rows: Comparison[] = [];
  const p = (xs: number[], q: number): number => percentile(xs, q);
  rows.push(
    compare('command latency p50', 'ms', p(latency.bridge, 50), p(latency.floor, 50), 'set -> power, set_tcp_nodelay'),
  );
  rows.push(compare('command latency p99', 'ms', p(latency.bridge, 99), p(latency.floor, 99)));
  rows.push(
    compare(
      'contract floor p50 (echo + contract messages)',
      'ms',
      p(latency.contract, 50),
      p(latency.floor, 50),
      'retained answer, event, retained state',
    ),
  );
  // One pair of processes: issue 16's target is judged over several (latency-trials.ts).
  rows.push(
    compare(
      'command latency p50 / contract floor, this bridge',
      'ms',
      p(latency.bridge, 50),
      p(latency.contract, 50),
      "the bridge's own share; one trial",
    ),
  );
  rows.push(compare('command latency p90 / contract floor', 'ms', p(latency.bridge, 90), p(latency.contract, 90)));
  if (cpuPerCommand) {
    rows.push(
      compare(
        'CPU per command / contract floor',
        'us',
        cpuPerCommand.bridge_us,
        cpuPerCommand.contract_floor_us,
        'own threads, during the timed commands',
      ),
    );
  }
  if (cpuPerCommand && warmUpTailCpu) {
    const floorCpu = `${cpuPerCommand.contract_floor_us} / ${warmUpTailCpu.contract_floor_us} us`;
    rows.push(
      compare(
        'bridge CPU per command: timed / end of warm-up',
        'us',
        cpuPerCommand.bridge_us,
        warmUpTailCpu.bridge_us,
        `about 1x once steady; contract floor ${floorCpu}`,
      ),
    );
  }

  // Back to back, each command reaches a bridge still busy with the tail of the one before
  // (its event and state, three acknowledgements): the same again with a pause before
  // each command, as commands from people and schedules arrive.
  log(`command latency, one command every ${SPACED_MS} ms: ${n.spaced} of each ...`);
  const spacedOut = (c: Commander): Commander => ({
    command: async () => {
      await delay(SPACED_MS);
      return c.command();
    },
  });
  const spaced = await interleavedMany(
    { bridge: spacedOut(trio.bridge), floor: spacedOut(trio.floor), contract: spacedOut(trio.contract) },
    n.spaced,
  );
  rows.push(
    compare(
      `command latency p50, ${SPACED_MS} ms apart`,
      'ms',
      p(spaced.bridge, 50),
      p(spaced.floor, 50),
      `contract floor ${round(p(spaced.contract, 50), 2)} ms`,
    ),
  );
  const brief = (ms: number[]): { p50: number; p99: number } => ({
    p50: round(p(ms, 50), 3),
    p99: round(p(ms, 99), 3),
  });
  return {
    rows,
    results: {
      latency: {
        commands: latency.bridge.length,
        warm_up_commands: n.warmup,
        bridge_ms: quantiles(latency.bridge),
        floor_ms: quantiles(latency.floor),
        contract_floor_ms: quantiles(latency.contract),
        state_file_writes_per_command: round(writesPerCommand, 2),
        busy_refusals: bridge.busyRefusals,
        ...(cpuPerCommand ? { cpu_per_command: cpuPerCommand } : {}),
        ...(warmUpTailCpu ? { cpu_per_command_end_of_warm_up: warmUpTailCpu } : {}),
      },
      latency_spaced: {
        pause_ms: SPACED_MS,
        commands: spaced.bridge.length,
        bridge_ms: brief(spaced.bridge),
        floor_ms: brief(spaced.floor),
        contract_floor_ms: brief(spaced.contract),
      },
    },
    timing: { probe: timing.probe, bridge, floor },
    commands: n.warmup + latency.bridge.length + spaced.bridge.length,
  };
}
