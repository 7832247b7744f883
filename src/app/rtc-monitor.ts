import type { BoardDriver, RtcReading } from '../board/types.js';
import type { Clock } from '../util/clock.js';
import { TpmError } from '../util/errors.js';
import { isoTime } from '../util/iso-time.js';
import { BUILD_DATE } from './version.js';

/** `<b>/rtc` (docs/topics.md). */
export interface RtcPayload {
  /** null (and drift null) while the clock holds no valid date. */
  time: string | null;
  drift: number | null;
  oscillator_running: boolean;
  battery_backup: boolean;
  power_failed: boolean;
}

/** ISO 8601 with the host's offset, whole seconds: 2026-11-23T18:04:05+01:00. */
export function isoWithOffset(date: Date): string {
  const offsetMin = -date.getTimezoneOffset();
  const local = new Date(date.getTime() + offsetMin * 60_000);
  const sign = offsetMin >= 0 ? '+' : '-';
  const abs = Math.abs(offsetMin);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${isoTime(local).slice(0, 19)}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/**
 * The one RTC drift of the project: whole seconds, RTC minus system (docs/hardware.md, "RTC
 * drift"). The chip counts whole seconds: its true time lies in [t, t + 1 s), so t + 0.5 s
 * estimates it to within half a second, and that estimate rounded is what one reading can
 * say (it equals floor(t) - floor(system), the answer a second function used to give). But a
 * clock that is steadily, say, 0.3 s ahead then reads 0 or 1 depending on the moment of the
 * second it is read at: `<b>/rtc` would change with no change of the clock (docs/topics.md:
 * published on a change of the drift, not for the ticking time). So the previous drift is
 * kept while the estimate stays within a second of it: the published value ends within 1 s of
 * the true drift; a steady clock costs at most one correction after the first reading (when
 * that fell at an unlucky moment of the second), never a flip back and forth; a drifting
 * clock is published once per whole second it gains or loses (test/app/rtc-monitor.test.ts).
 */
export function rtcDrift(rtcTime: number, systemNow: number, previous?: number): number {
  const estimate = (rtcTime + 500 - systemNow) / 1000;
  if (previous !== undefined && Math.abs(estimate - previous) <= 1) return previous;
  // Halves round down: a clock in step, read on the very tick, has an estimate of exactly +0.5.
  return Math.ceil(estimate - 0.5) + 0; // + 0: never -0
}

export function rtcPayload(reading: RtcReading, systemNow: number, previousDrift?: number | null): RtcPayload {
  const { time } = reading;
  return {
    time: time ? isoWithOffset(new Date(Math.floor(time.getTime() / 1000) * 1000)) : null,
    drift: time ? rtcDrift(time.getTime(), systemNow, previousDrift ?? undefined) : null,
    oscillator_running: reading.oscillatorRunning,
    battery_backup: reading.batteryBackup,
    power_failed: reading.powerFailed,
  };
}

/**
 * Reads the board's clock and says whether what matters changed: a flag or the drift, never
 * the ticking time (docs/topics.md), so that an idle bridge publishes nothing.
 */
export class RtcMonitor {
  private last: RtcPayload | undefined;
  /** Why the last reading had no time (RtcReading.problem), for the log. */
  problem: string | undefined;

  constructor(
    private readonly driver: BoardDriver,
    private readonly clock: Clock,
  ) {}

  /** The payload to publish, or undefined when nothing but the time moved. */
  async poll(): Promise<RtcPayload | undefined> {
    if (!this.driver.readRtc) return undefined;
    const last = this.last;
    const reading = await this.driver.readRtc();
    const payload = rtcPayload(reading, this.clock.now(), last?.drift);
    this.last = payload;
    this.problem = reading.problem;
    if (
      last &&
      last.drift === payload.drift &&
      last.oscillator_running === payload.oscillator_running &&
      last.battery_backup === payload.battery_backup &&
      last.power_failed === payload.power_failed
    ) {
      return undefined;
    }
    return payload;
  }

  /**
   * Writes the system time to the clock, then reads it back. Not while the system clock is before
   * the build date (docs/hardware.md "Setting the clock"): a board that booted without network
   * time reads 1970 or a stale date, and writing that would spoil the clock that is probably right.
   */
  async sync(): Promise<RtcPayload> {
    if (!this.driver.writeRtc || !this.driver.readRtc) throw new Error('this board has no real-time clock');
    const now = this.clock.now();
    if (now < BUILD_DATE) {
      throw new TpmError(
        'USAGE',
        `the system clock reads ${isoTime(now)}, before this version was built ` +
          `(${isoTime(BUILD_DATE).slice(0, 10)}): ` +
          "it is not plausible (not set by network time yet?), so the board's clock was left as it is",
      );
    }
    await this.driver.writeRtc(new Date(now));
    // A fresh start: the drift of the clock just set, not one kept from before.
    const reading = await this.driver.readRtc();
    this.last = rtcPayload(reading, this.clock.now());
    this.problem = reading.problem;
    return this.last;
  }
}
