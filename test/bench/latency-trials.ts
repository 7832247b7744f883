import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeBridgeConfig, type BridgeRun } from './configs.js';
import {
  NODE,
  BridgeCommander,
  FloorCommander,
  commandProbe,
  interleavedMany,
  startBridge,
  startFloor,
  type Commander,
} from './harness.js';
import type { LatencyCounts } from './latency.js';
import { countCpu, type Child } from './process.js';
import { Probe } from './probe.js';
import { bounded, compare, median, percentile, round, type Comparison } from './stats.js';

/**
 * Command latency over several trials, each with processes of its own. Two copies of the same
 * contract floor, timed in the same interleaved blocks, differ at p50 by 0.84x-1.27x from one
 * pair of processes to the next on the bench machine (docs/performance-log.md, "How sure a
 * latency figure is"): what a process draws at its start moves its p50 by more than the 15 %
 * that issue 16 allows the bridge. So a trial starts its own processes, warms them up, times
 * them interleaved as the latency phase does and stops them, and a figure pools the commands
 * of several trials. The bench judges target 5 this way (measureLatencyTrials), and
 * side-by-side.ts compares two builds this way.
 */

/** One process of a trial: a bridge (as shipped, or another build's `cli`), the echo floor or a contract floor. */
export type Contestant = { kind: 'bridge'; nodeArgs: string[]; cli?: string } | { kind: 'echo' } | { kind: 'contract' };

export interface TrialResult<K extends string> {
  /** The timed commands' latencies, in ms. */
  ms: Record<K, number[]>;
  /** CPU per timed command of each process, in µs. */
  cpuUs: Record<K, number>;
}

/**
 * Starts `contestants` on the broker at `url` in their order (which is also the order of each
 * round of blocks), warms them up, times `counts.latency` commands of each and stops them.
 */
export async function runTrial<K extends string>(
  url: string,
  work: string,
  contestants: Record<K, Contestant>,
  counts: Pick<LatencyCounts, 'warmup' | 'latency'>,
): Promise<TrialResult<K>> {
  const keys = Object.keys(contestants) as K[];
  const watcher = await Probe.connect(url);
  const children: Child[] = [];
  let probe: Probe | undefined;
  try {
    mkdirSync(work, { recursive: true });
    const pids = {} as Record<K, number>;
    const bridges = new Map<K, BridgeRun>();
    for (const key of keys) {
      const c = contestants[key];
      let child: Child;
      if (c.kind === 'bridge') {
        const run = writeBridgeConfig(work, url, { model: 'tpi1' });
        bridges.set(key, run);
        child = (await startBridge(watcher, run, c.nodeArgs, c.cli)).child;
        await watcher.unwatch(run.base);
        await watcher.unwatch(run.discovery);
      } else {
        child = (await startFloor(watcher, floorPrefix(key), url, [], c.kind === 'contract' ? ['--contract'] : []))
          .child;
      }
      children.push(child);
      pids[key] = child.pid;
    }
    // One timing client for all, subscribed to what each answers (harness.ts, commandProbe).
    const floors = keys.filter((k) => !bridges.has(k)).map(floorPrefix);
    probe = await commandProbe(
      url,
      floors,
      [...bridges.values()].map((run) => ({ base: run.base, nodes: [NODE] })),
    );
    const commanders = {} as Record<K, Commander>;
    for (const key of keys) {
      const run = bridges.get(key);
      commanders[key] = run
        ? await new BridgeCommander(probe, run.base).init()
        : new FloorCommander(probe, floorPrefix(key));
    }
    await interleavedMany(commanders, counts.warmup);
    const since = countCpu(pids);
    const ms = await interleavedMany(commanders, counts.latency);
    return { ms, cpuUs: since(counts.latency) };
  } finally {
    for (const child of children) await child.stop();
    await probe?.close();
    await watcher.close();
  }
}

const floorPrefix = (key: string): string => `bench/trial-${key}`;

/** The p50 of `a` over that of `b`. */
export const p50Ratio = (a: number[], b: number[]): number => percentile(a, 50) / percentile(b, 50);

const TARGET_ORDER = ['bridge', 'echo', 'contract', 'control'] as const;
type TargetKey = (typeof TARGET_ORDER)[number];

/**
 * The target's four processes, in the order trial `trial` (from 0) starts them and times their
 * blocks: the order turns by one place from one trial to the next, so that over eight trials
 * each process starts and goes first, second, third and fourth twice, as side-by-side.ts
 * alternates its two bridges. With one fixed order, whatever a place in it costs or saves
 * (starting while the others warm up, following the busiest process's block) fell on the same
 * process in every trial.
 */
export function targetOrder(trial: number): TargetKey[] {
  const turn = trial % TARGET_ORDER.length;
  return [...TARGET_ORDER.slice(turn), ...TARGET_ORDER.slice(0, turn)];
}

function targetContestants(bridgeNodeArgs: string[], trial: number): Record<TargetKey, Contestant> {
  const of: Record<TargetKey, Contestant> = {
    bridge: { kind: 'bridge', nodeArgs: bridgeNodeArgs },
    echo: { kind: 'echo' },
    contract: { kind: 'contract' },
    control: { kind: 'contract' },
  };
  // runTrial goes by the order of the keys.
  return Object.fromEntries(targetOrder(trial).map((key) => [key, of[key]])) as Record<TargetKey, Contestant>;
}

/**
 * Issue 16's target 5: `trials` trials of the bridge as shipped, the echo floor and two
 * contract floors. The second contract floor is the control: its p50 over the first's is what
 * the same program measures against itself, the resolution of the figure.
 */
export async function measureLatencyTrials(
  url: string,
  work: string,
  trials: number,
  bridgeNodeArgs: string[],
  n: Pick<LatencyCounts, 'warmup' | 'latency'>,
  log: (text: string) => void,
): Promise<{ rows: Comparison[]; results: Record<string, unknown> }> {
  log(
    `command latency, ${trials} trials, each with its own bridge, echo floor and two contract floors ` +
      `(${n.warmup} warm-up and ${n.latency} timed commands of each) ...`,
  );
  const results: TrialResult<TargetKey>[] = [];
  for (let i = 1; i <= trials; i++) {
    const t = await runTrial(url, join(work, `trial-${i}`), targetContestants(bridgeNodeArgs, i - 1), n);
    results.push(t);
    const ratio = p50Ratio(t.ms.bridge, t.ms.contract).toFixed(2);
    log(
      `  trial ${i} (${targetOrder(i - 1).join(', ')}): bridge / contract floor ${ratio}x, ` +
        `control ${p50Ratio(t.ms.control, t.ms.contract).toFixed(2)}x`,
    );
  }
  return latencyTrialRows(results);
}

/** The rows and the results JSON of the trials: their commands pooled, and each trial's ratios. */
export function latencyTrialRows(trials: TrialResult<TargetKey>[]): {
  rows: Comparison[];
  results: Record<string, unknown>;
} {
  const pooled = (key: TargetKey): number[] => trials.flatMap((t) => t.ms[key]);
  const each = (key: TargetKey): number[] => trials.map((t) => round(p50Ratio(t.ms[key], t.ms.contract), 2));
  const spread = (xs: number[]): string => `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}x`;
  const p50 = (key: TargetKey): number => percentile(pooled(key), 50);
  const rows = [
    bounded(
      `command latency p50 / contract floor, ${trials.length} trial${trials.length === 1 ? '' : 's'} pooled`,
      'ms',
      p50('bridge'),
      p50('contract'),
      1.15,
      `each trial alone: ${spread(each('bridge'))}, median ${median(each('bridge')).toFixed(2)}x`,
    ),
    compare(
      'control: contract floor again / contract floor, pooled',
      'ms',
      p50('control'),
      p50('contract'),
      `the same program twice; each trial alone: ${spread(each('control'))}`,
    ),
  ];
  const quantiles = (key: TargetKey): { p50: number; p90: number; p99: number } => ({
    p50: round(p50(key), 3),
    p90: round(percentile(pooled(key), 90), 3),
    p99: round(percentile(pooled(key), 99), 3),
  });
  return {
    rows,
    results: {
      latency_trials: {
        trials: trials.length,
        commands_per_trial: trials[0]?.ms.bridge.length ?? 0,
        order_per_trial: trials.map((_, i) => targetOrder(i)),
        bridge_ms: quantiles('bridge'),
        contract_floor_ms: quantiles('contract'),
        control_contract_floor_ms: quantiles('control'),
        echo_floor_ms: quantiles('echo'),
        ratio_per_trial: each('bridge'),
        control_ratio_per_trial: each('control'),
        cpu_us_per_command_per_trial: trials.map((t) => ({
          bridge: round(t.cpuUs.bridge, 0),
          contract_floor: round(t.cpuUs.contract, 0),
        })),
      },
    },
  };
}
