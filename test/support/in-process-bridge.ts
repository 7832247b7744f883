import path from 'node:path';
import { createBridge, type BridgeApp } from '../../src/app/bridge.js';
import type { I2cBus } from '../../src/board/tpi1/i2c.js';
import { parseConfig } from '../../src/config/parse.js';
import type { Clock } from '../../src/util/clock.js';
import { captureLogger, type CapturedLog } from './log-capture.js';

/**
 * The bridge as a library, in this process (createBridge, not the CLI): what the bridge feature
 * tests and the fault tests start on an in-process broker.
 */

export const BASE = 'tp';
export const BOARD_ID = 'lab';

/** Where a bridge keeps its files in a temporary folder of the test's (tempDir). */
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
 * captured, polls only when the test asks (poll_interval 1h) unless `sections` say otherwise.
 * Started before it resolves.
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
  const bridge = createBridge(config, {
    clock: options.clock,
    logger: log.logger,
    ...(options.bus ? { i2cBus: options.bus } : {}),
  });
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
