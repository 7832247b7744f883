import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { BridgeApp } from '../../src/app/bridge.js';
import { createSimulatedTpi1, type SimulatedTpi1 } from '../../src/board/simulator/tpi1.js';
import { systemClock, type Clock } from '../../src/util/clock.js';
import { tempDir, type CliProcess } from '../support/cli.js';
import { runBridge, stateDirOf } from '../support/in-process-bridge.js';
import type { CapturedLog } from '../support/log-capture.js';
import type { Mosquitto } from '../support/mosquitto.js';
import type { Recorder } from '../support/recorder.js';

/**
 * DS4520 SRAM 0xF2 (the power register) of the simulated board the built bridge keeps in
 * `dir`/simulator.json (`simulate.state_file` of testBridgeConfig; docs/hardware.md masks: node n
 * is bit n).
 */
export function simulatedPowerRegister(dir: string): number {
  const state = JSON.parse(readFileSync(path.join(dir, 'simulator.json'), 'utf8')) as { control: number[] };
  return state.control[2] ?? 0;
}

/** mulberry32: a small, seedable PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Small figures for the fault suite's summary lines. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

export { delay, until } from '../support/wait.js';

// ---- an in-process bridge on the simulated Turing Pi 1 -------------------------------------

export interface LibraryBridge {
  bridge: BridgeApp;
  sim: SimulatedTpi1;
  log: CapturedLog;
  dir: string;
}

/**
 * createBridge with the REAL Tpi1Driver on the simulated bus (deps.i2cBus), connected to
 * `url`, base topic `tp`, a fresh state_dir, debug logs captured, polls every second.
 * `sections` are merged one level deep over the defaults.
 */
export async function startLibraryBridge(
  url: string,
  options: { clock?: Clock; sections?: Record<string, Record<string, unknown>>; sim?: SimulatedTpi1 } = {},
): Promise<LibraryBridge> {
  const clock = options.clock ?? systemClock;
  const dir = tempDir('tpm-faults-');
  const { board, ...others } = options.sections ?? {};
  const sections = { ...others, board: { poll_interval: '1s', ...board } };
  const sim = options.sim ?? createSimulatedTpi1({ clock });
  const { bridge, log } = await runBridge(url, stateDirOf(dir), { clock, bus: sim.bus, sections });
  return { bridge, sim, log, dir };
}

// ---- the BUILT bridge on a real mosquitto ----------------------------------------------------

/**
 * Takes down what a process-level fault test started, whatever it got to: the bridge process
 * (with `signal`, if it still runs), the recorder, then mosquitto.
 */
export async function stopProcesses(
  started: { bridge?: CliProcess; rec?: Recorder; mosquitto?: Mosquitto },
  signal: NodeJS.Signals,
): Promise<void> {
  if (started.bridge?.running) await started.bridge.stop(signal);
  await started.rec?.close();
  await started.mosquitto?.stop();
}
