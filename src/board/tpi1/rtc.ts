import { TpmError } from '../../util/errors.js';
import type { RtcReading } from '../types.js';
import { MCP7940N, hex } from './registers.js';
import { isoTime } from '../../util/iso-time.js';

/**
 * Pure encoding and decoding of the MCP7940N's seven time-keeping registers (0x00-0x06).
 * docs/hardware.md "MCP7940N at 0x6F": mask the flag bits (ST, OSCRUN, PWRFAIL, VBATEN, LPYR, 12/24, PM) before
 * BCD decoding; the chip holds UTC.
 */

function fromBcd(byte: number): number {
  const tens = byte >> 4;
  const ones = byte & 0x0f;
  if (tens > 9 || ones > 9) return Number.NaN;
  return tens * 10 + ones;
}

function toBcd(value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 99) throw new RangeError(`${value} does not fit two BCD digits`);
  return ((Math.floor(value / 10) << 4) | (value % 10)) & 0xff;
}

/** The calendar fields held in registers 0x00-0x06, without flag bits. */
export interface RtcFields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** 1-7 as stored; its meaning (which day is 1) is the writer's convention. */
  weekday: number;
}

/** Decodes the calendar fields, honouring 12-hour mode. Returns null when a field is not a valid time. */
export function decodeRtcFields(registers: ArrayLike<number>): RtcFields | null {
  const at = (index: number): number => registers[index] ?? 0;
  const second = fromBcd(at(MCP7940N.RTCSEC) & 0x7f);
  const minute = fromBcd(at(MCP7940N.RTCMIN) & 0x7f);
  const hourByte = at(MCP7940N.RTCHOUR);
  let hour: number;
  if (hourByte & MCP7940N.HOUR_12) {
    const hour12 = fromBcd(hourByte & 0x1f);
    if (!(hour12 >= 1 && hour12 <= 12)) return null;
    // 12 AM is midnight, 12 PM is noon.
    hour = (hour12 % 12) + (hourByte & MCP7940N.PM ? 12 : 0);
  } else {
    hour = fromBcd(hourByte & 0x3f);
  }
  const weekday = at(MCP7940N.RTCWKDAY) & MCP7940N.WEEKDAY_MASK;
  const day = fromBcd(at(MCP7940N.RTCDATE) & 0x3f);
  const month = fromBcd(at(MCP7940N.RTCMTH) & 0x1f);
  const year = 2000 + fromBcd(at(MCP7940N.RTCYEAR));
  const valid =
    second >= 0 &&
    second <= 59 &&
    minute >= 0 &&
    minute <= 59 &&
    hour >= 0 &&
    hour <= 23 &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth(year, month) &&
    year >= 2000 &&
    year <= 2099;
  if (!valid) return null;
  return { year, month, day, hour, minute, second, weekday };
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export function fieldsToDate(fields: RtcFields): Date {
  return new Date(Date.UTC(fields.year, fields.month - 1, fields.day, fields.hour, fields.minute, fields.second));
}

/**
 * Decodes a 7-byte block read from 0x00 into the driver's RtcReading. Registers that hold no valid
 * date give time null and the reason, never a wrong date; the flags are still reported: a clock
 * that lost its date with its battery has a stopped oscillator, which is what the user must see.
 */
export function decodeRtcReading(registers: ArrayLike<number>): RtcReading {
  const fields = decodeRtcFields(registers);
  const flags = registers[MCP7940N.RTCWKDAY] ?? 0;
  const reading: RtcReading = {
    time: fields ? fieldsToDate(fields) : null,
    oscillatorRunning: (flags & MCP7940N.OSCRUN) !== 0,
    batteryBackup: (flags & MCP7940N.VBATEN) !== 0,
    powerFailed: (flags & MCP7940N.PWRFAIL) !== 0,
  };
  if (!fields) {
    const bytes = Array.from({ length: 7 }, (_, i) => hex(registers[i] ?? 0)).join(' ');
    reading.problem =
      `the RTC (MCP7940N at 0x6f) holds no valid date (registers 0x00-0x06: ${bytes}); ` +
      'set it with rtc/set SYNC (or the Sync RTC button)';
  }
  return reading;
}

export interface EncodeRtcOptions {
  /** Leave ST (bit 7 of 0x00) set; the set sequence writes with ST clear and starts it last. */
  start: boolean;
  /** 1-7 for RTCWKDAY. */
  weekday: number;
  /** VBATEN: keep the clock on the battery when main power fails. */
  batteryBackup: boolean;
  /** The PWRFAIL bit to write back: writing 0 clears it (and the time stamps), so pass what was read. */
  powerFailed: boolean;
}

/** Throws USAGE for a time the chip cannot hold: its year register counts 2000-2099 only. */
export function assertRtcYear(time: Date): void {
  const year = time.getUTCFullYear();
  if (!(year >= 2000 && year <= 2099)) {
    throw new TpmError('USAGE', `the RTC holds years 2000-2099 only, not ${isoTime(time)}`);
  }
}

/** Encodes a UTC time into registers 0x00-0x06, always in 24-hour mode. */
export function encodeRtcRegisters(time: Date, options: EncodeRtcOptions): number[] {
  assertRtcYear(time);
  const year = time.getUTCFullYear();
  if (!(options.weekday >= 1 && options.weekday <= 7))
    throw new RangeError(`weekday must be 1-7, not ${options.weekday}`);
  return [
    toBcd(time.getUTCSeconds()) | (options.start ? MCP7940N.ST : 0),
    toBcd(time.getUTCMinutes()),
    toBcd(time.getUTCHours()), // bit 6 clear: 24-hour mode
    options.weekday | (options.batteryBackup ? MCP7940N.VBATEN : 0) | (options.powerFailed ? MCP7940N.PWRFAIL : 0),
    toBcd(time.getUTCDate()),
    toBcd(time.getUTCMonth() + 1), // LPYR is read-only
    toBcd(year - 2000),
  ];
}

/**
 * The weekday to write with a new date. The chip's weekday is a free 1-7 counter whose
 * convention belongs to whoever set it; keep that convention by moving the stored weekday
 * by as many days as the date moves. Without a usable old value use Linux's rtc-ds1307
 * convention (tm_wday + 1: Sunday = 1), the documented set-up's reader and writer.
 */
export function weekdayFor(newTime: Date, previous: RtcFields | null): number {
  const linux = newTime.getUTCDay() + 1;
  if (!previous || previous.weekday < 1 || previous.weekday > 7) return linux;
  const dayMs = 86_400_000;
  const previousDay = Math.floor(Date.UTC(previous.year, previous.month - 1, previous.day) / dayMs);
  const newDay = Math.floor(newTime.getTime() / dayMs);
  const shift = (((newDay - previousDay) % 7) + 7) % 7;
  return ((previous.weekday - 1 + shift) % 7) + 1;
}
