import { sleep, type Clock } from '../../util/clock.js';
import { TpmError, errorMessage } from '../../util/errors.js';
import type { Logger } from '../../util/logger.js';
import { Mutex } from '../../util/mutex.js';
import { acquireBusLock, defaultBusLockPath, type ReleaseLock } from '../lock.js';
import type { BoardDriver, BoardInfo, PowerReading, RtcReading } from '../types.js';
import { EepromWriteBudget, fileBudgetStore, memoryBudgetStore, type EepromBudgetStore } from './eeprom-budget.js';
import type { I2cBus } from './i2c.js';
import { HWCLOCK_SYSTOHC_ARGV, kernelOwnsRtc, runArgv } from './kernel-rtc.js';
import {
  DS4520,
  DS4520_ADDRESS,
  MCP7940N,
  MCP7940N_ADDRESS,
  SEE_BIT,
  TPI1_NODE_COUNT,
  UNUSED_POWER_BIT,
  hex,
  isTpi1Node,
  nodeMask,
} from './registers.js';
import { decodeRtcFields, decodeRtcReading, encodeRtcRegisters, fieldsToDate, weekdayFor } from './rtc.js';

/** Bounds of the driver's retries and waits. All waits run on the injected clock. */
export interface Tpi1Timing {
  /** Pairs of reads of a register before disagreeing reads are a bus fault. */
  readAttempts: number;
  /** Tries of one bus transaction that fails with an error (not a disagreement). */
  transferAttempts: number;
  /** Pause between retries. */
  retryDelayMs: number;
  /** How long the read-back after a write may be refused (DS4520 EEPROM write cycle: a few ms). */
  readBackTimeoutMs: number;
  /** How long to wait for OSCRUN to clear after clearing ST (datasheet: a few oscillator cycles). */
  oscillatorStopTimeoutMs: number;
}

export const DEFAULT_TPI1_TIMING: Tpi1Timing = {
  readAttempts: 4,
  transferAttempts: 3,
  retryDelayMs: 2,
  readBackTimeoutMs: 50,
  oscillatorStopTimeoutMs: 100,
};

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
  /** The bus lock: a path, null for none (the simulator), or omitted for /run/lock/turingpi-mqtt-i2c-<bus>.lock. */
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

const NODES = Array.from({ length: TPI1_NODE_COUNT }, (_, i) => i + 1);

/**
 * Turing Pi 1: node power through the DS4520 at 0x57, the clock through the MCP7940N at
 * 0x6F (docs/hardware.md "DS4520 at 0x57" and "MCP7940N at 0x6F").
 */
export class Tpi1Driver implements BoardDriver {
  readonly info: BoardInfo;

  private readonly bus: I2cBus;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly persist: boolean;
  private readonly busNumber: number;
  private readonly protectedInEeprom: ReadonlySet<number>;
  private readonly timing: Tpi1Timing;
  private readonly budget: EepromWriteBudget;
  private readonly rtcOwnedByKernel: () => Promise<boolean>;
  private readonly runHwclock: (argv: readonly string[]) => Promise<void>;

  /** One operation at a time: the read-modify-write of 0xF2 must not interleave with anything. */
  private readonly operations = new Mutex();
  private opened = false;
  private releaseLock: ReleaseLock | null = null;
  /** The last value of 0xF2 we trust: what we read and confirmed, or read back after our write. */
  private lastKnown: number | null = null;

  constructor(private readonly options: Tpi1DriverOptions) {
    this.bus = options.bus;
    this.clock = options.clock;
    this.logger = options.logger;
    this.persist = options.persistPowerState;
    this.busNumber = options.busNumber ?? 1;
    this.timing = { ...DEFAULT_TPI1_TIMING, ...options.timing };
    // A persisted 0xF2 with node 1 clear leaves a master that never boots (docs/hardware.md).
    this.protectedInEeprom = new Set([1, ...options.protectedNodes]);
    const store =
      options.budgetStore ??
      (options.stateDir ? fileBudgetStore(options.stateDir, options.logger) : memoryBudgetStore());
    this.budget = new EepromWriteBudget(store, options.eepromWritesPerDay, options.clock);
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
        await this.ensureSee('open');
        this.lastKnown = await this.readAgreeing(DS4520.IO_CONTROL_0, 'power control 0xF2');
        if (
          this.persist &&
          this.options.eepromWritesPerDay > 0 &&
          !this.options.stateDir &&
          !this.options.budgetStore
        ) {
          this.logger.warn('EEPROM write budget is kept in memory only: a restart resets the count');
        }
        this.logger.info(
          { control: hex(this.lastKnown), writesTo: this.persist ? 'EEPROM' : 'shadow SRAM' },
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
    return this.exclusive(async () => {
      const control = await this.readAgreeing(DS4520.IO_CONTROL_0, 'power control 0xF2');
      this.lastKnown = control;
      let status: number | null = null;
      try {
        status = await this.transfer('read of I/O status 0xF8', () =>
          this.bus.readByte(DS4520_ADDRESS, DS4520.IO_STATUS_0),
        );
      } catch (error) {
        // Power is what matters; presence can wait for the next poll.
        this.logger.warn({ err: errorMessage(error) }, 'reading module presence (0xF8) failed');
      }
      return readingFrom(control, status);
    });
  }

  setPower(node: number, on: boolean): Promise<boolean> {
    if (!isTpi1Node(node)) {
      return Promise.reject(new TpmError('USAGE', `a Turing Pi 1 has nodes 1-${TPI1_NODE_COUNT}, not ${String(node)}`));
    }
    return this.exclusive(() => this.switchNode(node, on));
  }

  /** Whole RTC reading: one 7-byte block read from 0x00 (single reads would straddle a roll-over). */
  readRtc(): Promise<RtcReading> {
    return this.exclusive(async () => decodeRtcReading(await this.readRtcRegisters()));
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
            { requested: time.toISOString(), skewMs },
            'the kernel owns the RTC: hwclock writes the system time, not the requested time',
          );
        }
        await this.runHwclock(HWCLOCK_SYSTOHC_ARGV);
        this.logger.info('RTC set from the system clock with hwclock --systohc --utc');
        return;
      }
      await this.writeRtcRegisters(time);
    });
  }

  // ---- power -------------------------------------------------------------------------

  private async switchNode(node: number, on: boolean): Promise<boolean> {
    if (!this.opened) throw new TpmError('USAGE', 'the Turing Pi 1 driver is not open');
    const mask = nodeMask(node);
    const current = await this.readControlConfirmed();
    this.lastKnown = current;
    if (((current & mask) !== 0) === on) return on; // already so: a bit is written only when it changes

    if (!on && this.persist && this.protectedInEeprom.has(node)) {
      throw new TpmError(
        'PROTECTED',
        `node ${node} is protected: its power bit is never cleared while writes go to EEPROM ` +
          '(persist_power_state: true); a persisted off master cannot boot again (docs/hardware.md)',
      );
    }

    // A board power cycle while we run resets 0xF4: check SEE before every write.
    await this.ensureSee('write');

    const wanted = on ? current | mask : current & ~mask & 0xff;
    // Exactly the target bit changes and bit 0 never does: asserted, not trusted.
    if ((wanted ^ current) !== mask || (wanted & UNUSED_POWER_BIT) !== (current & UNUSED_POWER_BIT)) {
      throw new Error(`internal: ${hex(wanted)} differs from ${hex(current)} in more than node ${node}'s bit`);
    }

    const writeAttempts = 2;
    for (let attempt = 1; ; attempt++) {
      if (this.persist) await this.budget.reserve();
      let writeError: unknown = null;
      try {
        await this.bus.writeByte(DS4520_ADDRESS, DS4520.IO_CONTROL_0, wanted);
      } catch (error) {
        writeError = error;
      }
      const readBack = await this.readBackControl(wanted);
      this.lastKnown = readBack;
      const nodeIsOn = (readBack & mask) !== 0;
      if (nodeIsOn === on) {
        if (writeError)
          this.logger.warn({ node, err: errorMessage(writeError) }, 'write of 0xF2 reported an error but took');
        if (readBack !== wanted) {
          this.logger.warn(
            { node, wrote: hex(wanted), readBack: hex(readBack) },
            'other power bits of 0xF2 differ from what was written (changed by someone else?)',
          );
        }
        this.logger.debug({ node, on, control: hex(readBack) }, 'node power switched');
        return nodeIsOn;
      }
      if (writeError && readBack === current && attempt < writeAttempts) {
        // The write did not reach the chip: nothing changed, so the same write is safe again.
        this.logger.warn({ node, err: errorMessage(writeError) }, 'write of 0xF2 failed; trying once more');
        await sleep(this.clock, this.timing.retryDelayMs);
        continue;
      }
      if (writeError) {
        throw new TpmError(
          'BUS',
          `switching node ${node} ${on ? 'on' : 'off'} failed: writing 0xF2 = ${hex(wanted)} to 0x57 gave ` +
            `"${errorMessage(writeError)}", and 0xF2 reads ${hex(readBack)}`,
          { cause: writeError },
        );
      }
      throw new TpmError(
        'VERIFY',
        `node ${node} did not switch ${on ? 'on' : 'off'}: wrote 0xF2 = ${hex(wanted)} (was ${hex(current)}), ` +
          `read back ${hex(readBack)}`,
      );
    }
  }

  /**
   * 0xF2 as a base for a read-modify-write (docs/hardware.md): two agreeing reads, and when the
   * value differs from the last known one (bits we did not change) it is confirmed by a
   * second pair before it is used.
   */
  private async readControlConfirmed(): Promise<number> {
    for (let attempt = 1; attempt <= this.timing.readAttempts; attempt++) {
      const value = await this.readAgreeing(DS4520.IO_CONTROL_0, 'power control 0xF2');
      if (this.lastKnown === null || value === this.lastKnown) return value;
      const confirmation = await this.readAgreeing(DS4520.IO_CONTROL_0, 'power control 0xF2');
      if (confirmation === value) {
        this.logger.warn(
          { was: hex(this.lastKnown), now: hex(value) },
          '0xF2 changed outside this bridge (another tool, or a board power cycle)',
        );
        return value;
      }
      this.logger.warn({ first: hex(value), second: hex(confirmation) }, 'unstable reads of 0xF2; reading again');
    }
    throw new TpmError('BUS', `reads of 0xF2 on I2C bus ${this.busNumber} do not settle; nothing was written`);
  }

  /** Two reads of a DS4520 register that agree; a glitch on the bus never becomes a base value. */
  private async readAgreeing(register: number, what: string): Promise<number> {
    const seen: string[] = [];
    for (let attempt = 1; attempt <= this.timing.readAttempts; attempt++) {
      const first = await this.transfer(`read of ${what}`, () => this.bus.readByte(DS4520_ADDRESS, register));
      const second = await this.transfer(`read of ${what}`, () => this.bus.readByte(DS4520_ADDRESS, register));
      if (first === second) return first;
      seen.push(`${hex(first)}/${hex(second)}`);
      this.logger.debug({ register: hex(register), first: hex(first), second: hex(second) }, 'reads disagree');
    }
    throw new TpmError(
      'BUS',
      `reads of ${what} on I2C bus ${this.busNumber} disagree (${seen.join(', ')}); nothing was written`,
    );
  }

  /**
   * The read-back after a write. While the DS4520 writes its EEPROM it does not acknowledge
   * (docs/hardware.md "DS4520 at 0x57"), so errors are retried until readBackTimeoutMs. A value unlike what was
   * written is read once more, so a glitch neither fails a good write nor passes a bad one.
   */
  private async readBackControl(written: number): Promise<number> {
    const value = await this.readAfterWrite(DS4520.IO_CONTROL_0);
    if (value === written) return value;
    return this.readAfterWrite(DS4520.IO_CONTROL_0);
  }

  private async readAfterWrite(register: number): Promise<number> {
    const deadline = this.clock.now() + this.timing.readBackTimeoutMs;
    for (;;) {
      try {
        return await this.bus.readByte(DS4520_ADDRESS, register);
      } catch (error) {
        if (this.clock.now() >= deadline) {
          throw new TpmError(
            'BUS',
            `the DS4520 at 0x57 did not answer for ${this.timing.readBackTimeoutMs} ms after a write of ` +
              `${hex(register)}: ${errorMessage(error)}`,
            { cause: error },
          );
        }
        await sleep(this.clock, this.timing.retryDelayMs);
      }
    }
  }

  /** Sets bit 0 (SEE) of 0xF4 per persist_power_state, keeping the other bits; verified. */
  private async ensureSee(when: 'open' | 'write'): Promise<void> {
    const wantSee = !this.persist; // SEE = 1: writes stay in shadow SRAM
    const matches = (config: number): boolean => ((config & SEE_BIT) !== 0) === wantSee;
    // One read is enough to see that all is well; a change is based on two agreeing reads.
    const quick = await this.transfer('read of configuration 0xF4', () =>
      this.bus.readByte(DS4520_ADDRESS, DS4520.CONFIG),
    );
    if (matches(quick)) return;
    const config = await this.readAgreeing(DS4520.CONFIG, 'configuration 0xF4');
    if (matches(config)) return;
    const wanted = wantSee ? config | SEE_BIT : config & ~SEE_BIT & 0xff;
    const log = when === 'open' ? this.logger.info.bind(this.logger) : this.logger.warn.bind(this.logger);
    log(
      { was: hex(config), now: hex(wanted) },
      when === 'open'
        ? `setting SEE so that power writes go to ${wantSee ? 'shadow SRAM' : 'EEPROM'}`
        : 'SEE in 0xF4 was reset (board power cycle?); setting it again before writing 0xF2',
    );
    try {
      await this.bus.writeByte(DS4520_ADDRESS, DS4520.CONFIG, wanted);
    } catch (error) {
      this.logger.debug({ err: errorMessage(error) }, 'write of 0xF4 reported an error; checking');
    }
    let readBack = await this.readAfterWrite(DS4520.CONFIG);
    if (readBack !== wanted) readBack = await this.readAfterWrite(DS4520.CONFIG);
    if (readBack !== wanted) {
      throw new TpmError(
        'VERIFY',
        `setting SEE in 0xF4 of the DS4520 failed: wrote ${hex(wanted)} (was ${hex(config)}), read back ` +
          `${hex(readBack)}; ` +
          'no power bit was written',
      );
    }
  }

  // ---- clock -------------------------------------------------------------------------

  private async readRtcRegisters(): Promise<Buffer> {
    const { bytesRead, buffer } = await this.transfer('read of the RTC registers 0x00-0x06', () =>
      this.bus.readI2cBlock(MCP7940N_ADDRESS, MCP7940N.RTCSEC, 7, Buffer.alloc(7)),
    );
    if (bytesRead !== 7) throw new TpmError('BUS', `the RTC returned ${bytesRead} of 7 time registers`);
    return buffer;
  }

  /**
   * The datasheet's set sequence (docs/hardware.md "MCP7940N at 0x6F"): clear ST, wait for OSCRUN = 0, write the
   * registers (24-hour mode, VBATEN set, PWRFAIL written back as read so it is not cleared
   * by accident, weekday kept in its convention), then set ST. The registers get the next
   * whole second and ST is set when that second begins, so the clock is not half a second late.
   */
  private async writeRtcRegisters(time: Date): Promise<void> {
    const offsetMs = time.getTime() - this.clock.now();
    const target = new Date(Math.ceil(time.getTime() / 1000) * 1000);
    const before = await this.readRtcRegisters();
    const previous = decodeRtcFields(before);
    const seconds = before[MCP7940N.RTCSEC] ?? 0;

    await this.transfer('write of RTCSEC (stop the oscillator)', () =>
      this.bus.writeByte(MCP7940N_ADDRESS, MCP7940N.RTCSEC, seconds & ~MCP7940N.ST & 0xff),
    );
    const weekdayRegister = await this.waitOscillatorStopped(seconds);

    const registers = encodeRtcRegisters(target, {
      start: false,
      weekday: weekdayFor(target, previous),
      batteryBackup: true,
      powerFailed: (weekdayRegister & MCP7940N.PWRFAIL) !== 0,
    });
    await this.transfer('write of the RTC registers 0x00-0x06', () =>
      this.bus.writeI2cBlock(MCP7940N_ADDRESS, MCP7940N.RTCSEC, 7, Buffer.from(registers)),
    );
    const waitMs = target.getTime() - (this.clock.now() + offsetMs);
    if (waitMs > 0) await sleep(this.clock, waitMs);
    await this.transfer('write of RTCSEC (start the oscillator)', () =>
      this.bus.writeByte(MCP7940N_ADDRESS, MCP7940N.RTCSEC, (registers[0] ?? 0) | MCP7940N.ST),
    );

    const after = await this.readRtcRegisters();
    const fields = decodeRtcFields(after);
    const readTime = fields ? fieldsToDate(fields).getTime() : Number.NaN;
    const stSet = ((after[MCP7940N.RTCSEC] ?? 0) & MCP7940N.ST) !== 0;
    const vbatSet = ((after[MCP7940N.RTCWKDAY] ?? 0) & MCP7940N.VBATEN) !== 0;
    if (!stSet || !vbatSet || !(readTime >= target.getTime() && readTime <= target.getTime() + 2000)) {
      throw new TpmError(
        'VERIFY',
        `setting the RTC failed: wrote ${target.toISOString()} with ST and VBATEN set, read back ` +
          `${Number.isNaN(readTime) ? 'no valid time' : new Date(readTime).toISOString()}` +
          ` (ST ${stSet ? 1 : 0}, VBATEN ${vbatSet ? 1 : 0})`,
      );
    }
    this.logger.info({ time: target.toISOString() }, 'RTC set');
  }

  /** Polls RTCWKDAY until OSCRUN clears; on time-out restarts the oscillator and gives up. */
  private async waitOscillatorStopped(originalSeconds: number): Promise<number> {
    const deadline = this.clock.now() + this.timing.oscillatorStopTimeoutMs;
    for (;;) {
      const weekday = await this.transfer('read of RTCWKDAY', () =>
        this.bus.readByte(MCP7940N_ADDRESS, MCP7940N.RTCWKDAY),
      );
      if ((weekday & MCP7940N.OSCRUN) === 0) return weekday;
      if (this.clock.now() >= deadline) {
        await this.bus.writeByte(MCP7940N_ADDRESS, MCP7940N.RTCSEC, originalSeconds).catch(() => undefined);
        throw new TpmError(
          'TIMEOUT',
          `the RTC oscillator did not stop within ${this.timing.oscillatorStopTimeoutMs} ms of clearing ST ` +
            '(OSCRUN still set); the clock was not changed',
        );
      }
      await sleep(this.clock, 1);
    }
  }

  // ---- plumbing ----------------------------------------------------------------------

  /** One bus transaction, retried a few times when it fails with an error. */
  private async transfer<T>(what: string, operation: () => Promise<T>): Promise<T> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.timing.transferAttempts; attempt++) {
      try {
        return await operation();
      } catch (error) {
        lastError = error;
        this.logger.debug({ what, attempt, err: errorMessage(error) }, 'I2C transaction failed');
        if (attempt < this.timing.transferAttempts) await sleep(this.clock, this.timing.retryDelayMs);
      }
    }
    throw new TpmError(
      'BUS',
      `${what} failed ${this.timing.transferAttempts} times on I2C bus ${this.busNumber}: ${errorMessage(lastError)}`,
      { cause: lastError },
    );
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

/** Power and presence from 0xF2 and 0xF8 (docs/hardware.md: status 1 = present and powered). */
export function readingFrom(control: number, status: number | null): PowerReading {
  const power = NODES.map((node) => (control & nodeMask(node)) !== 0);
  const present = NODES.map((node, index) => {
    if (!power[index] || status === null) return null; // an unpowered slot tells nothing
    return (status & nodeMask(node)) !== 0;
  });
  return { power, present };
}
