import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createBridge, type BridgeApp } from '../../src/app/bridge.js';
import type { BridgeStateData } from '../../src/app/bridge-state.js';
import { createSimulatedTpi1, type SimulatedTpi1 } from '../../src/board/simulator/tpi1.js';
import { TPI1_SLOT_PINS } from '../../src/board/simulator/ds4520.js';
import type { I2cBus } from '../../src/board/tpi1/i2c.js';
import { parseConfig } from '../../src/config/parse.js';
import type { Clock } from '../../src/util/clock.js';
import type { FakeClock } from '../../src/util/fake-clock.js';
import { captureLogger, type CapturedLog } from '../support/log-capture.js';

/**
 * Pieces the bridge feature tests share: a bridge on a state_dir of the test's choosing (so a
 * second run sees what the first one left), a bus that counts power writes, and waiting that
 * interleaves fake time with the real I/O of MQTT.
 */

export const BASE = 'tp';
export const BOARD_ID = 'lab';
/** DS4520 0x57, register 0xF2: the power pins of a Turing Pi 1 (HARDWARE.md). */
const DS4520_ADDRESS = 0x57;
const IO_CONTROL_0 = 0xf2;

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `test` every 10 ms (real time) until it holds; fails after `timeoutMs` saying what was awaited. */
export async function until(test: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(10);
  }
}

/**
 * Moves fake time forward in `stepMs` steps, letting real I/O (the broker, the simulated bus)
 * catch up after each, until `test` holds; fails after `maxMs` of fake time.
 */
export async function advanceUntil(clock: FakeClock, test: () => boolean, what: string, stepMs = 250, maxMs = 60_000): Promise<void> {
  let passed = 0;
  while (!test()) {
    if (passed >= maxMs) throw new Error(`${what} did not happen within ${maxMs} ms of fake time`);
    await clock.advance(stepMs);
    passed += stepMs;
    await delay(5);
  }
}

/** A fresh temporary folder; `stateDir(folder)` is where a bridge keeps its files. */
export function tempFolder(prefix = 'tpm-bridge-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export function stateDirOf(folder: string): string {
  return path.join(folder, 'state');
}

export interface BridgeRun {
  bridge: BridgeApp;
  log: CapturedLog;
  stateDir: string;
}

export interface RunOptions {
  clock: Clock;
  /** The simulated Turing Pi 1 whose bus the REAL Tpi1Driver drives (omitted with board.type simulator). */
  bus?: I2cBus;
  /** Merged over the defaults one level deep; `nodes`, `schedules` and `policies` are taken as given. */
  sections?: Record<string, unknown>;
}

/**
 * createBridge on `url`, base topic `tp`, board id `lab`, state in `stateDir`, debug logs
 * captured, polls only when the test asks (poll_interval 1h). Started before it resolves.
 */
export async function runBridge(url: string, stateDir: string, options: RunOptions): Promise<BridgeRun> {
  const sections: Record<string, unknown> = {
    mqtt: { url, base_topic: BASE, keepalive: 30 },
    homeassistant: { enabled: false },
    board: { type: 'tpi1', id: BOARD_ID, poll_interval: '1h' },
    power: { reboot_off_time: '500ms', min_off_time: 0, on_stagger: 0, settle_time: 0, graceful_timeout: '5s' },
  };
  for (const [key, value] of Object.entries(options.sections ?? {})) {
    const current = sections[key];
    const mergeable = isPlainObject(current) && isPlainObject(value) && !['nodes', 'policies'].includes(key);
    sections[key] = mergeable ? { ...current, ...value } : value;
  }
  const config = parseConfig({ ...sections, state_dir: stateDir });
  const log = captureLogger('debug');
  const bridge = createBridge(config, { clock: options.clock, logger: log.logger, ...(options.bus ? { i2cBus: options.bus } : {}) });
  try {
    await bridge.start();
  } catch (error) {
    await bridge.stop().catch(() => undefined);
    throw error;
  }
  return { bridge, log, stateDir };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** state_dir/bridge.json as the bridge last wrote it. */
export function readBridgeState(stateDir: string): BridgeStateData {
  return JSON.parse(readFileSync(path.join(stateDir, 'bridge.json'), 'utf8')) as BridgeStateData;
}

export function filesIn(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** The simulated Turing Pi 1 plus a view of its bus that counts writes to the power register. */
export interface CountedBoard extends SimulatedTpi1 {
  /** The bus to hand to the bridge: the simulator's, with every 0xF2 write counted. */
  countingBus: I2cBus;
  /** Writes to DS4520 0xF2 so far, whatever they wrote. */
  powerWrites(): number;
  /** Every change of a node's power pin, in order. */
  changes: { node: number; on: boolean }[];
}

export function createCountedTpi1(clock: Clock): CountedBoard {
  const sim = createSimulatedTpi1({ clock });
  let writes = 0;
  const touchesPower = (address: number, register: number, length: number): boolean =>
    address === DS4520_ADDRESS && register <= IO_CONTROL_0 && IO_CONTROL_0 < register + length;
  const countingBus: I2cBus = {
    readByte: (address, register) => sim.bus.readByte(address, register),
    readI2cBlock: (address, register, length, buffer) => sim.bus.readI2cBlock(address, register, length, buffer),
    writeByte: (address, register, byte) => {
      if (touchesPower(address, register, 1)) writes++;
      return sim.bus.writeByte(address, register, byte);
    },
    writeI2cBlock: (address, register, length, buffer) => {
      if (touchesPower(address, register, length)) writes++;
      return sim.bus.writeI2cBlock(address, register, length, buffer);
    },
  };
  const changes: { node: number; on: boolean }[] = [];
  sim.ds4520.onPowerChange((control, previous) => {
    for (const [node, pin] of Object.entries(TPI1_SLOT_PINS)) {
      if ((control & pin) !== (previous & pin)) changes.push({ node: Number(node), on: (control & pin) !== 0 });
    }
  });
  return { ...sim, countingBus, powerWrites: () => writes, changes };
}

/** Which of nodes 1-7 the simulated chip powers now. */
export function poweredNodes(sim: SimulatedTpi1): number[] {
  return [1, 2, 3, 4, 5, 6, 7].filter((n) => sim.ds4520.nodePowered(n));
}
