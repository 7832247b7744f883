import type { Config } from '../config/schema.js';
import { TpmError, errorMessage } from '../util/errors.js';
import type { I2cBus } from './tpi1/i2c.js';
import type { FetchLike } from './tpi2/https-fetch.js';
import type { BoardContext, BoardDriver } from './types.js';
import type { GpioFactory } from './gpio/lines.js';

/** Hardware a program may hand to createBridge instead of the real devices (its `deps`, docs/library.md). */
export interface BoardDeps {
  /** An i2c-bus PromisifiedBus-compatible object (tpi1). */
  i2cBus?: I2cBus;
  /** WHATWG fetch (tpi2). */
  fetch?: FetchLike;
  /** onoff-like line factory (gpio). */
  gpio?: GpioFactory;
}

export type { BoardContext } from './types.js';

/** A board driver plus what the bridge needs around it: retrying a failed open, the simulation. */
export interface OpenedBoard {
  driver: BoardDriver;
  /** Opens the driver if the last attempt failed (a BMC that was down at start). */
  ensureOpen(): Promise<void>;
  /** Power of a simulated node as the simulated hardware has it (for simulated agents). */
  simulatedPower?: (node: number) => boolean | null;
  close(): Promise<void>;
}

/**
 * Errors that retrying in this process cannot fix: the bridge refuses to start with their reason
 * (a PERMISSION is onoff's, which looks at sysfs once per process: a restart may fix it). A refused BMC
 * login or certificate is not among them: exiting would make a service manager's restart loop
 * a login loop (docs/turing-pi-2.md, "Logins and bans"); the bridge stays up, board offline,
 * and says why.
 */
const FATAL = new Set(['BUS_LOCKED', 'BMC_UNSUPPORTED', 'CONFIG', 'PERMISSION', 'UNSUPPORTED']);

/**
 * Picks and opens the driver for board.type (docs/ARCHITECTURE.md "The parts"). Each hardware module is
 * imported lazily, so a host without the i2c-bus or onoff addon still runs the other boards.
 */
export async function openBoard(config: Config, deps: BoardDeps, ctx: BoardContext): Promise<OpenedBoard> {
  const built = await buildDriver(config, deps, ctx);
  let open = false;
  const ensureOpen = async (): Promise<void> => {
    if (open) return;
    await built.driver.open();
    open = true;
  };
  try {
    await ensureOpen();
  } catch (error) {
    if (error instanceof TpmError && FATAL.has(error.code)) {
      await built.cleanup();
      throw error;
    }
    ctx.logger.warn(`the board does not answer yet (${errorMessage(error)}); retrying in the background`);
  }
  return {
    driver: built.driver,
    ensureOpen,
    ...(built.simulatedPower ? { simulatedPower: built.simulatedPower } : {}),
    close: async () => {
      try {
        await built.driver.close();
      } finally {
        await built.cleanup();
      }
    },
  };
}

interface BuiltDriver {
  driver: BoardDriver;
  simulatedPower?: (node: number) => boolean | null;
  cleanup(): Promise<void>;
}

async function buildDriver(config: Config, deps: BoardDeps, ctx: BoardContext): Promise<BuiltDriver> {
  const { board } = config;
  switch (board.type) {
    case 'tpi1':
      return buildTpi1(config, deps, ctx);
    case 'tpi2':
      return buildTpi2(config, deps, ctx);
    case 'gpio':
      return buildGpio(config, deps, ctx);
    case 'simulator': {
      const { buildSimulatedBoard } = await import('./simulator/board.js');
      return buildSimulatedBoard(config, ctx);
    }
  }
}

async function buildTpi1(config: Config, deps: BoardDeps, ctx: BoardContext): Promise<BuiltDriver> {
  const { Tpi1Driver, openI2cBus } = await import('./tpi1/index.js');
  const bus = deps.i2cBus ?? (await openI2cBus(config.board.i2c_bus, { forceAccess: true }));
  const driver = new Tpi1Driver({
    bus,
    clock: ctx.clock,
    logger: ctx.logger,
    persistPowerState: config.board.persist_power_state,
    eepromWritesPerDay: config.board.eeprom_writes_per_day,
    protectedNodes: ctx.nodes.filter((n) => n.protected).map((n) => n.number),
    busNumber: config.board.i2c_bus,
    stateDir: config.state_dir,
    closeBus: deps.i2cBus === undefined,
    // An injected bus is a program's own (tests, the library): no system-wide lock for it.
    ...(deps.i2cBus ? { lock: null } : {}),
  });
  return { driver, cleanup: async () => undefined };
}

async function buildTpi2(config: Config, deps: BoardDeps, ctx: BoardContext): Promise<BuiltDriver> {
  const { Tpi2Driver } = await import('./tpi2/index.js');
  const { bmc } = config.board;
  const driver = new Tpi2Driver({
    url: bmc.url,
    username: bmc.username,
    password: bmc.password,
    fingerprint: bmc.fingerprint,
    ca: bmc.ca,
    insecure: bmc.insecure,
    stateDir: config.state_dir,
    clock: ctx.clock,
    logger: ctx.logger,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    configFile: ctx.configFile,
  });
  return { driver, cleanup: async () => undefined };
}

async function buildGpio(config: Config, deps: BoardDeps, ctx: BoardContext): Promise<BuiltDriver> {
  const { GpioDriver } = await import('./gpio/index.js');
  const driver = new GpioDriver({
    lines: config.board.gpio,
    clock: ctx.clock,
    logger: ctx.logger,
    ...(deps.gpio ? { gpio: deps.gpio } : {}),
  });
  return { driver, cleanup: async () => undefined };
}
