import type { BoardDriver, RtcReading } from '../board/types.js';
import type { Clock } from '../util/clock.js';

/** `<b>/rtc` (SPEC section 4). */
export interface RtcPayload {
  time: string;
  drift: number;
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
  return `${local.toISOString().slice(0, 19)}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

export function rtcPayload(reading: RtcReading, systemNow: number): RtcPayload {
  return {
    time: isoWithOffset(new Date(Math.floor(reading.time.getTime() / 1000) * 1000)),
    drift: Math.round((reading.time.getTime() - systemNow) / 1000),
    oscillator_running: reading.oscillatorRunning,
    battery_backup: reading.batteryBackup,
    power_failed: reading.powerFailed,
  };
}

/**
 * Reads the board's clock and says whether what matters changed: a flag or the drift, never
 * the ticking time (SPEC section 4), so that an idle bridge publishes nothing.
 */
export class RtcMonitor {
  private last: RtcPayload | undefined;

  constructor(
    private readonly driver: BoardDriver,
    private readonly clock: Clock,
  ) {}

  /** The payload to publish, or undefined when nothing but the time moved. */
  async poll(): Promise<RtcPayload | undefined> {
    if (!this.driver.readRtc) return undefined;
    const payload = rtcPayload(await this.driver.readRtc(), this.clock.now());
    const last = this.last;
    this.last = payload;
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

  /** Writes the system time to the clock, then reads it back. */
  async sync(): Promise<RtcPayload> {
    if (!this.driver.writeRtc || !this.driver.readRtc) throw new Error('this board has no real-time clock');
    await this.driver.writeRtc(new Date(this.clock.now()));
    this.last = undefined;
    const payload = await this.poll();
    return payload ?? (this.last as unknown as RtcPayload);
  }
}
