import type { Clock } from '../../util/clock.js';
import { TpmError, errorMessage } from '../../util/errors.js';
import type { Logger } from '../../util/logger.js';
import { Mutex } from '../../util/mutex.js';
import { acquireBusLock, defaultBusLockPath, type ReleaseLock } from '../lock.js';
import type { BoardDriver, BoardInfo, PowerReading, RtcReading } from '../types.js';
import { readRtcRegisters, writeRtcRegisters } from './clock-setting.js';
import { EepromWriteBudget, fileBudgetStore, memoryBudgetStore, type EepromBudgetStore } from './eeprom-budget.js';
import type { I2cBus } from './i2c.js';
import { HWCLOCK_SYSTOHC_ARGV, kernelOwnsRtc, runArgv } from './kernel-rtc.js';
import { Ds4520PowerControl } from './power-control.js';
import { MASTER_NODE, TPI1_NODE_COUNT, hex, isTpi1Node } from './registers.js';
import { decodeRtcReading } from './rtc.js';
import { BusTransactions, DEFAULT_TPI1_TIMING, type Tpi1Timing } from './transactions.js';
import { isoTime } from '../../util/iso-time.js';

export interface Tpi1DriverOptions {
  /** An open bus (openI2cBus with forceAccess, the simulator, or a program's own). */
  bus: I2cBus;
  clock: Clock;
  logger: Logger;
  /** false: SEE = 1, 0xF2 writes stay in shadow SRAM; true: SEE = 0, writes go to EEPROM. */
  persistPowerState: boolean;
  /** EEPROM writes of 0xF2 allowed in any rolling 24 hours (persist mode only). */
  eepromWritesPerDay: number;
  /** Nodes whose bit is never cleared while writes go to EEPROM. Node 1 always is (docs/hardware.md). */
  protectedNodes: number[];
  /** The bus number, for the lock path, the kernel check and messages. Default 1. */
  busNumber?: number;
  /**
   * The bus lock: a path, null for none (the simulator), or omitted for the default, which is
   * /run/lock/turingpi-mqtt/i2c-<bus>.lock (a folder of this user's in /tmp where /run/lock cannot be used).
   */
  lock?: { path: string } | null;
  /** Whether Linux's rtc-ds1307 owns 0x6F. Default: /sys/bus/i2c/devices/<bus>-006f/driver exists. */
  rtcOwnedByKernel?: () => Promise<boolean>;
  /** Runs an argv such as ['hwclock', '--systohc', '--utc']. Default: execFile. */
  runHwclock?: (argv: readonly string[]) => Promise<void>;
  /** Where the EEPROM write times are kept. Default: a file in stateDir, else memory. */
  budgetStore?: EepromBudgetStore;
  /** Directory for tpi1-eeprom-writes.json (the bridge's state_dir). */
  stateDir?: string;
  /** Close the bus in close() (when the driver's creator hands the bus over). Default false. */
  closeBus?: boolean;
  /** Overrides of the reported board info (e.g. type 'simulator', model "Turing Pi 1 (simulated)"). */
  info?: Partial<BoardInfo>;
  timing?: Partial<Tpi1Timing>;
}

/**
 * Turing Pi 1: node power through the DS4520 at 0x57 (power-control.ts), the clock through the
 * MCP7940N at 0x6F (clock-setting.ts; docs/hardware.md "DS4520 at 0x57" and "MCP7940N at 0x6F").
 * The driver owns the bus lock and the queue that puts every bus operation in one line.
 */
export class Tpi1Driver implements BoardDriver {
  readonly info: BoardInfo;

  private readonly bus: I2cBus;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly persist: boolean;
  private readonly busNumber: number;
  private readonly io: BusTransactions;
  private readonly power: Ds4520PowerControl;
  private readonly rtcOwnedByKernel: () => Promise<boolean>;
  private readonly runHwclock: (argv: readonly string[]) => Promise<void>;

  /** One operation at a time: the read-modify-write of 0xF2 must not interleave with anything. */
  private readonly operations = new Mutex();
  private opened = false;
  private releaseLock: ReleaseLock | null = null;

  constructor(private readonly options: Tpi1DriverOptions) {
    this.bus = options.bus;
    this.clock = options.clock;
    this.logger = options.logger;
    this.persist = options.persistPowerState;
    this.busNumber = options.busNumber ?? 1;
    const timing: Tpi1Timing = { ...DEFAULT_TPI1_TIMING, ...options.timing };
    this.io = new BusTransactions(this.bus, this.clock, this.logger, timing, this.busNumber);
    const store =
      options.budgetStore ??
      (options.stateDir ? fileBudgetStore(options.stateDir, options.logger) : memoryBudgetStore());
    this.power = new Ds4520PowerControl(this.io, {
      persist: this.persist,
      // A persisted 0xF2 with node 1 clear leaves a master that never boots (docs/hardware.md).
      protectedInEeprom: new Set([MASTER_NODE, ...options.protectedNodes]),
      budget: new EepromWriteBudget(store, options.eepromWritesPerDay, options.clock),
    });
    this.rtcOwnedByKernel = options.rtcOwnedByKernel ?? kernelOwnsRtc(this.busNumber);
    this.runHwclock = options.runHwclock ?? ((argv) => runArgv(argv));
    this.info = {
      type: 'tpi1',
      model: 'Turing Pi 1',
      nodes: TPI1_NODE_COUNT,
      hasRtc: true,
      canTellPresence: true,
      nativeReset: false,
      reportsPowerOnTime: false,
      hasFans: false,
      ...options.info,
    };
  }

  /** Takes the bus lock, then sets SEE per persist_power_state before any write to 0xF2. */
  open(): Promise<void> {
    return this.exclusive(async () => {
      if (this.opened) return;
      if (this.options.lock !== null) {
        const path = this.options.lock?.path ?? (await defaultBusLockPath(this.busNumber));
        this.releaseLock = await acquireBusLock(path, { bus: this.busNumber });
      }
      try {
        // docs/hardware.md: whether 0xF4 survives a power cut is not documented: set it at every start.
        await this.power.ensureSee('open');
        const control = await this.power.readControl();
        if (
          this.persist &&
          this.options.eepromWritesPerDay > 0 &&
          !this.options.stateDir &&
          !this.options.budgetStore
        ) {
          this.logger.warn('EEPROM write budget is kept in memory only: a restart resets the count');
        }
        this.logger.info(
          { control: hex(control), writesTo: this.persist ? 'EEPROM' : 'shadow SRAM' },
          'Turing Pi 1 power controller ready',
        );
        this.opened = true;
      } catch (error) {
        await this.releaseLockQuietly();
        throw error;
      }
    });
  }

  /** Releases the lock (and the bus when it was handed over). Never writes 0xF2. */
  close(): Promise<void> {
    return this.exclusive(async () => {
      this.opened = false;
      await this.releaseLockQuietly();
      if (this.options.closeBus && this.bus.close) {
        try {
          await this.bus.close();
        } catch (error) {
          this.logger.warn({ err: errorMessage(error) }, 'closing the I2C bus failed');
        }
      }
    });
  }

  readPower(): Promise<PowerReading> {
    return this.exclusive(() => this.power.read());
  }

  setPower(node: number, on: boolean): Promise<boolean> {
    if (!isTpi1Node(node)) {
      return Promise.reject(new TpmError('USAGE', `a Turing Pi 1 has nodes 1-${TPI1_NODE_COUNT}, not ${String(node)}`));
    }
    return this.exclusive(() => {
      if (!this.opened) throw new TpmError('USAGE', 'the Turing Pi 1 driver is not open');
      return this.power.switchNode(node, on);
    });
  }

  /**
   * Whole RTC reading: one 7-byte block read from 0x00 (single reads would straddle a roll-over).
   * A time that does not decode is read once more: a glitch on the bus is not a clock without a date.
   */
  readRtc(): Promise<RtcReading> {
    return this.exclusive(async () => {
      const reading = decodeRtcReading(await readRtcRegisters(this.io));
      return reading.time ? reading : decodeRtcReading(await readRtcRegisters(this.io));
    });
  }

  /**
   * Sets the RTC. When the kernel's rtc-ds1307 driver owns the chip this runs
   * `hwclock --systohc --utc`, which copies the SYSTEM time: the given time is then ignored
   * (a warning says so when the two differ). Otherwise it writes the registers itself.
   */
  writeRtc(time: Date): Promise<void> {
    if (!(time instanceof Date) || Number.isNaN(time.getTime())) {
      return Promise.reject(new TpmError('USAGE', 'writeRtc needs a valid Date'));
    }
    return this.exclusive(async () => {
      if (await this.rtcOwnedByKernel()) {
        const skewMs = time.getTime() - this.clock.now();
        if (Math.abs(skewMs) > 2000) {
          this.logger.warn(
            { requested: isoTime(time), skewMs },
            'the kernel owns the RTC: hwclock writes the system time, not the requested time',
          );
        }
        await this.runHwclock(HWCLOCK_SYSTOHC_ARGV);
        this.logger.info('RTC set from the system clock with hwclock --systohc --utc');
        return;
      }
      await writeRtcRegisters(this.io, time);
    });
  }

  private exclusive<T>(operation: () => Promise<T>): Promise<T> {
    return this.operations.run(operation);
  }

  private async releaseLockQuietly(): Promise<void> {
    const release = this.releaseLock;
    this.releaseLock = null;
    if (!release) return;
    try {
      await release();
    } catch (error) {
      this.logger.warn({ err: errorMessage(error) }, 'releasing the I2C bus lock failed');
    }
  }
}
