import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createBridge, type BridgeApp } from '../../src/app/bridge.js';
import { createSimulatedTpi1, type SimulatedTpi1 } from '../../src/board/simulator/tpi1.js';
import { parseConfig } from '../../src/config/parse.js';
import { systemClock, type Clock } from '../../src/util/clock.js';
import { captureLogger, type CapturedLog } from '../support/log-capture.js';

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

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `test` every 20 ms until it holds, or fails after `timeoutMs` saying what was awaited. */
export async function until(test: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(20);
  }
}

// ---- an in-process bridge on the simulated Turing Pi 1 -------------------------------------


export interface LibraryBridge {
  bridge: BridgeApp;
  sim: SimulatedTpi1;
  log: CapturedLog;
  dir: string;
}

/**
 * createBridge with the REAL Tpi1Driver on the simulated bus (deps.i2cBus), connected to
 * `url`, base topic `tp`, a fresh state_dir, debug logs captured. `sections` are merged
 * one level deep over the defaults.
 */
export async function startLibraryBridge(
  url: string,
  options: { clock?: Clock; sections?: Record<string, Record<string, unknown>>; sim?: SimulatedTpi1 } = {},
): Promise<LibraryBridge> {
  const clock = options.clock ?? systemClock;
  const dir = mkdtempSync(path.join(tmpdir(), 'tpm-faults-'));
  const sections: Record<string, Record<string, unknown>> = {
    mqtt: { url, base_topic: 'tp', keepalive: 30 },
    homeassistant: { enabled: false },
    board: { type: 'tpi1', id: 'lab', poll_interval: '1s' },
    power: { reboot_off_time: '500ms', min_off_time: 0, on_stagger: 0, settle_time: 0, graceful_timeout: '5s' },
  };
  for (const [key, value] of Object.entries(options.sections ?? {})) sections[key] = { ...sections[key], ...value };
  const config = parseConfig({ ...sections, state_dir: path.join(dir, 'state') });
  const sim = options.sim ?? createSimulatedTpi1({ clock });
  const log = captureLogger('debug');
  const bridge = createBridge(config, { i2cBus: sim.bus, clock, logger: log.logger });
  await bridge.start();
  return { bridge, sim, log, dir };
}
