import { constants as fsConstants, promises as fs } from 'node:fs';
import { TpmError, errorMessage } from '../../util/errors.js';
import { ALLOW_ADDON_SCRIPTS, addonLoadProblem } from '../native-addon.js';

/**
 * The subset of `i2c-bus`'s PromisifiedBus the Turing Pi 1 driver uses (docs/library.md:
 * no other methods), so that a real bus, the simulator or a program's own fake all fit.
 */
export interface I2cBus {
  readByte(address: number, register: number): Promise<number>;
  writeByte(address: number, register: number, byte: number): Promise<void>;
  readI2cBlock(
    address: number,
    register: number,
    length: number,
    buffer: Buffer,
  ): Promise<{ bytesRead: number; buffer: Buffer }>;
  writeI2cBlock(
    address: number,
    register: number,
    length: number,
    buffer: Buffer,
  ): Promise<{ bytesWritten: number; buffer: Buffer }>;
  close?(): Promise<void>;
}

export interface OpenI2cBusOptions {
  /**
   * Talk to addresses a kernel driver has claimed (I2C_SLAVE_FORCE). Needed on a Turing Pi 1
   * with `dtoverlay=i2c-rtc,mcp7940x`, where rtc-ds1307 owns 0x6F (docs/hardware.md "MCP7940N at 0x6F").
   */
  forceAccess: boolean;
  /** Loads the `i2c-bus` module; tests replace it. */
  importModule?: () => Promise<I2cBusModule>;
  /** The device file to check; default /dev/i2c-<busNumber>. */
  devicePath?: string;
}

/** The part of the `i2c-bus` module this file uses. */
export interface I2cBusModule {
  openPromisified(busNumber: number, options?: { forceAccess: boolean }): Promise<I2cBus>;
}

/**
 * Opens /dev/i2c-<busNumber> with the `i2c-bus` native addon. The addon is imported lazily
 * (docs/ARCHITECTURE.md "The parts") so that hosts without it still run every other board type.
 */
export async function openI2cBus(busNumber: number, options: OpenI2cBusOptions): Promise<I2cBus> {
  const importModule = options.importModule ?? importI2cBus;
  let module: I2cBusModule;
  try {
    module = await importModule();
  } catch (error) {
    throw new TpmError(
      'BUS',
      `the i2c-bus native addon could not be loaded (${addonLoadProblem(error)}); board type tpi1 needs it: ` +
        'install turingpi-mqtt on the Raspberry Pi with its optional dependencies, which npm compiles ' +
        `(build-essential and python3 needed; an npm that skips install scripts needs ${ALLOW_ADDON_SCRIPTS})`,
      { cause: error },
    );
  }
  const devicePath = options.devicePath ?? `/dev/i2c-${busNumber}`;
  const cannotOpen = (error: unknown): TpmError =>
    new TpmError(
      'BUS',
      `cannot open ${devicePath}: ${errorMessage(error)}; enable the Cluster Management Bus with ` +
        '"dtoverlay=i2c1,pins_44_45" (and "dtoverlay=i2c-rtc,mcp7940x" for the clock) in /boot/config.txt, reboot, ' +
        `and make sure this user may use ${devicePath} (group i2c)`,
      { cause: error },
    );
  // i2c-bus opens the device file only at the first transfer: check it now, for a clear error at start.
  try {
    await fs.access(devicePath, fsConstants.R_OK | fsConstants.W_OK);
  } catch (error) {
    throw cannotOpen(error);
  }
  try {
    return await module.openPromisified(busNumber, { forceAccess: options.forceAccess });
  } catch (error) {
    throw cannotOpen(error);
  }
}

async function importI2cBus(): Promise<I2cBusModule> {
  const module = await import('i2c-bus');
  // The addon is CommonJS: depending on the loader its functions sit on the namespace or on default.
  const candidate = (module as unknown as { openPromisified?: unknown; default?: I2cBusModule }).openPromisified
    ? (module as unknown as I2cBusModule)
    : (module as unknown as { default: I2cBusModule }).default;
  return candidate;
}
