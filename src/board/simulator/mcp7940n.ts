import type { Clock } from '../../util/clock.js';
import { readRegisters, registerAt, type I2cDevice } from './i2c-bus.js';

/**
 * The Microchip MCP7940N real-time clock of a Turing Pi 1, at register level (docs/hardware.md
 * "MCP7940N at 0x6F"). The time ticks on the injected clock while ST is set: the registers
 * read the time last written plus the time elapsed since. OSCRUN follows ST (with optional
 * start and stop delays), LPYR follows the year, PWRFAIL is cleared only by writing 0, and
 * the hour register keeps the 12- or 24-hour format it was written in.
 *
 * Encoding is written out here rather than shared with the driver, so that a BCD or 12-hour
 * mistake in one is caught by the other's tests.
 */

const ST = 0x80;
const HOUR_12 = 0x40;
const PM = 0x20;
const OSCRUN = 0x20;
const PWRFAIL = 0x10;
const VBATEN = 0x08;
const LPYR = 0x20;
const SIZE = 0x60; // 0x00-0x5F: time keeping, control, alarms, time stamps, 64 B SRAM
const TIMESTAMP_START = 0x18;
const TIMESTAMP_END = 0x1f;
const DAY_MS = 86_400_000;

export interface Mcp7940nOptions {
  clock: Clock;
  /** The time the chip holds at creation (UTC). Default: the clock's now. null: power-on reset (all 0, stopped). */
  startTime?: Date | number | null;
  /** ST set at creation. Default true. */
  running?: boolean;
  /** VBATEN set at creation. Default true. */
  batteryBackup?: boolean;
  /** Hold the hour in 12-hour format at creation. Default false. */
  hour12?: boolean;
  /** Time from setting ST until OSCRUN reads 1. Default 0. */
  oscillatorStartMs?: number;
  /** Time from clearing ST until OSCRUN reads 0. Default 0. */
  oscillatorStopMs?: number;
}

export class Mcp7940n implements I2cDevice {
  private readonly clock: Clock;
  private readonly startMs: number;
  private readonly stopMs: number;
  private readonly regs = new Array<number>(SIZE).fill(0);
  /** Clock time the registers were last brought up to date. */
  private baseClock: number;
  /** Part of a second already counted towards the next tick. */
  private carryMs = 0;
  private stChangedAt: number;
  private crystalFailed = false;

  constructor(options: Mcp7940nOptions) {
    this.clock = options.clock;
    this.startMs = options.oscillatorStartMs ?? 0;
    this.stopMs = options.oscillatorStopMs ?? 0;
    const now = this.clock.now();
    this.baseClock = now;
    this.stChangedAt = now - Math.max(this.startMs, this.stopMs); // settled at creation
    if (options.startTime !== null) {
      const start =
        options.startTime === undefined
          ? now
          : typeof options.startTime === 'number'
            ? options.startTime
            : options.startTime.getTime();
      this.setTimeRegisters(new Date(start), options.hour12 ?? false);
      this.carryMs = ((start % 1000) + 1000) % 1000;
      this.regs[3] = ((this.regs[3] ?? 0) & 0x07) | (options.batteryBackup === false ? 0 : VBATEN);
      if (options.running !== false) this.regs[0] = (this.regs[0] ?? 0) | ST;
    }
  }

  // ---- I2cDevice -----------------------------------------------------------------------

  read(register: number, length: number): number[] {
    this.catchUp();
    return readRegisters(register, length, (reg) => this.readRegister(reg));
  }

  write(register: number, bytes: readonly number[]): void {
    this.catchUp();
    let timeWritten = false;
    bytes.forEach((byte, i) => {
      const reg = registerAt(register, i);
      if (reg <= 0x06 && reg !== 0x03) timeWritten = true;
      this.writeRegister(reg, byte & 0xff);
    });
    // Writing the time restarts the count of the current second.
    if (timeWritten) this.carryMs = 0;
  }

  // ---- inspection and board events -------------------------------------------------------

  /** The time the chip would report now, or null when its registers hold no valid date. */
  time(): Date | null {
    this.catchUp();
    const fields = this.fields();
    return fields ? new Date(fields.ms) : null;
  }

  /** Registers 0x00-0x06 as a read returns them (flags included). */
  timeRegisters(): number[] {
    return this.read(0x00, 7);
  }

  get oscillatorRunning(): boolean {
    return this.oscRun(this.clock.now());
  }

  /** A dead crystal: OSCRUN stays 0 and the time stands still, whatever ST says. */
  setCrystalFailed(failed: boolean): void {
    this.catchUp();
    this.crystalFailed = failed;
  }

  /**
   * Main power fails and returns. With VBATEN the clock runs on the battery: PWRFAIL is set
   * and both time stamps record now, unless PWRFAIL is still set from an earlier failure (the
   * datasheet: it "must be cleared to log new time-stamp data"). Without VBATEN the chip loses
   * everything (power-on reset).
   */
  mainPowerFailure(): void {
    this.catchUp();
    if ((this.regs[3] ?? 0) & VBATEN) {
      if ((this.regs[3] ?? 0) & PWRFAIL) return;
      this.regs[3] = (this.regs[3] ?? 0) | PWRFAIL;
      const stamp = [this.regs[1] ?? 0, (this.regs[2] ?? 0) & 0x7f, this.regs[4] ?? 0, (this.regs[5] ?? 0) & 0x1f];
      for (let i = 0; i < 4; i++) {
        this.regs[TIMESTAMP_START + i] = stamp[i] ?? 0; // power-down
        this.regs[TIMESTAMP_START + 4 + i] = stamp[i] ?? 0; // power-up
      }
    } else {
      this.regs.fill(0);
      this.carryMs = 0;
      this.stChangedAt = this.clock.now() - Math.max(this.startMs, this.stopMs);
    }
  }

  // ---- registers -------------------------------------------------------------------------

  private readRegister(register: number): number {
    if (register >= SIZE) return 0x00;
    const value = this.regs[register] ?? 0;
    if (register === 0x03) return (value & 0x1f) | (this.oscRun(this.clock.now()) ? OSCRUN : 0);
    if (register === 0x05) {
      const year = fromBcd(this.regs[6] ?? 0);
      return (value & 0x1f) | (year % 4 === 0 ? LPYR : 0);
    }
    return value;
  }

  private writeRegister(register: number, byte: number): void {
    switch (register) {
      case 0x00: {
        const wasStarted = ((this.regs[0] ?? 0) & ST) !== 0;
        this.regs[0] = byte;
        if (((byte & ST) !== 0) !== wasStarted) this.stChangedAt = this.clock.now();
        return;
      }
      case 0x01:
      case 0x02:
        this.regs[register] = byte & 0x7f;
        return;
      case 0x03: {
        // OSCRUN is read-only; PWRFAIL can only be cleared, and clearing it clears the stamps.
        const pwrfail = (this.regs[3] ?? 0) & PWRFAIL & byte;
        if (((this.regs[3] ?? 0) & PWRFAIL) !== 0 && pwrfail === 0) {
          this.regs.fill(0, TIMESTAMP_START, TIMESTAMP_END + 1);
        }
        this.regs[3] = (byte & (VBATEN | 0x07)) | pwrfail;
        return;
      }
      case 0x04:
        this.regs[4] = byte & 0x3f;
        return;
      case 0x05:
        this.regs[5] = byte & 0x1f; // LPYR is read-only
        return;
      default:
        if (register >= TIMESTAMP_START && register <= TIMESTAMP_END) return; // read-only
        if (register < SIZE) this.regs[register] = byte;
    }
  }

  private started(): boolean {
    return ((this.regs[0] ?? 0) & ST) !== 0;
  }

  private oscRun(now: number): boolean {
    if (this.crystalFailed) return false;
    if (this.started()) return now - this.stChangedAt >= this.startMs;
    return now - this.stChangedAt < this.stopMs;
  }

  /** Brings the time registers up to now: whole seconds elapsed while ticking are added. */
  private catchUp(): void {
    const now = this.clock.now();
    if (this.started() && !this.crystalFailed) {
      const elapsed = now - this.baseClock + this.carryMs;
      const seconds = Math.floor(elapsed / 1000);
      this.carryMs = elapsed - seconds * 1000;
      if (seconds > 0) this.addSeconds(seconds);
    }
    this.baseClock = now;
  }

  private addSeconds(seconds: number): void {
    const fields = this.fields();
    if (!fields) return; // an invalid date does not count (simplification)
    const next = new Date(fields.ms + seconds * 1000);
    const daysCrossed = Math.floor(next.getTime() / DAY_MS) - Math.floor(fields.ms / DAY_MS);
    const weekday = (this.regs[3] ?? 0) & 0x07;
    const hour12 = ((this.regs[2] ?? 0) & HOUR_12) !== 0;
    this.setTimeRegisters(next, hour12);
    // The weekday counter steps at midnight in whatever convention it was set.
    const newWeekday = weekday >= 1 && weekday <= 7 ? ((weekday - 1 + daysCrossed) % 7) + 1 : weekday;
    this.regs[3] = ((this.regs[3] ?? 0) & ~0x07) | newWeekday;
  }

  /** Writes a time into 0x00-0x06 keeping ST, the flags of 0x03 and the given hour format. */
  private setTimeRegisters(time: Date, hour12: boolean): void {
    const hours = time.getUTCHours();
    this.regs[0] = ((this.regs[0] ?? 0) & ST) | toBcd(time.getUTCSeconds());
    this.regs[1] = toBcd(time.getUTCMinutes());
    this.regs[2] = hour12 ? HOUR_12 | (hours >= 12 ? PM : 0) | toBcd(hours % 12 === 0 ? 12 : hours % 12) : toBcd(hours);
    this.regs[3] = ((this.regs[3] ?? 0) & (PWRFAIL | VBATEN)) | (time.getUTCDay() + 1);
    this.regs[4] = toBcd(time.getUTCDate());
    this.regs[5] = toBcd(time.getUTCMonth() + 1);
    this.regs[6] = toBcd(time.getUTCFullYear() % 100);
  }

  private fields(): { ms: number } | null {
    const r = (i: number): number => this.regs[i] ?? 0;
    const second = fromBcd(r(0) & 0x7f);
    const minute = fromBcd(r(1) & 0x7f);
    let hour: number;
    if (r(2) & HOUR_12) {
      const h = fromBcd(r(2) & 0x1f);
      if (h < 1 || h > 12) return null;
      hour = (h === 12 ? 0 : h) + (r(2) & PM ? 12 : 0);
    } else {
      hour = fromBcd(r(2) & 0x3f);
    }
    const day = fromBcd(r(4) & 0x3f);
    const month = fromBcd(r(5) & 0x1f);
    const year = 2000 + fromBcd(r(6));
    if (!(second <= 59 && minute <= 59 && hour <= 23 && month >= 1 && month <= 12 && day >= 1)) return null;
    const ms = Date.UTC(year, month - 1, day, hour, minute, second);
    if (new Date(ms).getUTCDate() !== day) return null; // e.g. 31 February
    return { ms };
  }
}

function fromBcd(byte: number): number {
  const tens = byte >> 4;
  const ones = byte & 0x0f;
  return tens > 9 || ones > 9 ? Number.NaN : tens * 10 + ones;
}

function toBcd(value: number): number {
  return (Math.floor(value / 10) << 4) | (value % 10);
}
