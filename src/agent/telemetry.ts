import type { Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { SystemInfoSource } from './system-info.js';
import { decodeThrottled, parseThrottled, type ThrottleFlags } from './throttle.js';
import { isoTime } from '../util/iso-time.js';

/** The payload of `<b>/node/<n>/agent/telemetry` (docs/topics.md). Units: °C, %, %, %, s. */
export interface Telemetry {
  temperature: number | null;
  cpu_load: number | null;
  memory_used: number | null;
  disk_used: number | null;
  uptime: number | null;
  boot_time: string | null;
  hostname: string | null;
  throttled: ThrottleFlags | null;
}

/**
 * What counts as a change worth a message. Between these steps the agent publishes nothing
 * (docs/topics.md: with nothing changing, nothing is published): uptime alone never
 * triggers a message, since it changes every sample and `boot_time` already says it.
 */
const CHANGE_THRESHOLDS = { temperature: 1, cpu_load: 5, memory_used: 5, disk_used: 5 } as const;

/** Whether `next` differs from what was last published enough to publish it. */
export function changedMeaningfully(previous: Telemetry | undefined, next: Telemetry): boolean {
  if (!previous) return true;
  for (const [key, threshold] of Object.entries(CHANGE_THRESHOLDS) as [keyof typeof CHANGE_THRESHOLDS, number][]) {
    const a = previous[key];
    const b = next[key];
    if (a === null || b === null) {
      if (a !== b) return true; // a value appearing or disappearing is news
      continue;
    }
    if (Math.abs(a - b) >= threshold) return true;
  }
  if (previous.hostname !== next.hostname || previous.boot_time !== next.boot_time) return true;
  return previous.throttled?.raw !== next.throttled?.raw;
}

/** A move of now - uptime beyond this is a step of the wall clock, not the jitter of two reads. */
const CLOCK_STEP_MS = 30_000;

type Field = 'temperature' | 'cpu_load' | 'memory_used' | 'disk_used' | 'uptime' | 'hostname' | 'throttled';

const UNAVAILABLE_REASON: Record<Field, string> = {
  temperature: 'no readable thermal zone',
  cpu_load: 'CPU load not readable',
  memory_used: 'memory not readable',
  disk_used: 'root file system (/) not found',
  uptime: 'uptime not readable',
  hostname: 'hostname not readable',
  throttled: 'no Raspberry Pi firmware throttle flags on this machine',
};

/**
 * Reads one sample at a time. A value that cannot be read becomes null and is logged once
 * (and once more when it becomes readable again), never an error per sample.
 */
export class TelemetrySampler {
  private readonly unavailable = new Set<Field>();
  private bootTime: string | null = null;
  private bootMs: number | null = null;

  constructor(
    private readonly source: SystemInfoSource,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  async sample(): Promise<Telemetry> {
    const [temperature, cpu_load, memory_used, disk_used, uptime, hostname, throttled] = await Promise.all([
      this.read('temperature', async () => finite((await this.source.cpuTemperature()).main)),
      this.read('cpu_load', async () => percent((await this.source.currentLoad()).currentLoad)),
      this.read('memory_used', async () => {
        // Active memory, not "used": Linux counts its page cache as used (docs/topics.md: memory used).
        const { active, total } = await this.source.mem();
        return total > 0 ? percent((active / total) * 100) : null;
      }),
      this.read('disk_used', async () =>
        percent((await this.source.fsSize()).find((fs) => fs.mount === '/')?.use ?? null),
      ),
      this.read('uptime', async () => {
        const seconds = finite((await this.source.time()).uptime);
        return seconds === null ? null : Math.floor(seconds);
      }),
      this.read('hostname', async () => (await this.source.osInfo()).hostname || null),
      this.read('throttled', async () => {
        const text = this.source.getThrottled ? await this.source.getThrottled() : null;
        const value = text === null ? undefined : parseThrottled(text);
        return value === undefined ? null : decodeThrottled(value);
      }),
    ]);
    return {
      temperature: temperature === null ? null : round1(temperature),
      cpu_load,
      memory_used,
      disk_used,
      uptime,
      boot_time: this.bootTimeFrom(uptime),
      hostname,
      throttled,
    };
  }

  /**
   * Computed from the first uptime read, and again only when the wall clock was stepped: now -
   * uptime differs by a fraction of a second between samples, and a boot time that moved would
   * look like a reboot. A step is the first sync of a node without a real-time clock where the
   * agent started before it (its unit's After=time-sync.target waits only where
   * systemd-time-wait-sync is enabled): kept, the boot time would be days off until the next boot.
   */
  private bootTimeFrom(uptime: number | null): string | null {
    if (uptime === null) return this.bootTime;
    const bootMs = Math.round((this.clock.now() - uptime * 1000) / 1000) * 1000;
    if (this.bootMs === null || Math.abs(bootMs - this.bootMs) > CLOCK_STEP_MS) {
      this.bootMs = bootMs;
      this.bootTime = isoTime(bootMs).replace('.000Z', 'Z');
    }
    return this.bootTime;
  }

  private async read<T>(field: Field, reader: () => Promise<T | null>): Promise<T | null> {
    let value: T | null;
    let reason = UNAVAILABLE_REASON[field];
    try {
      value = await reader();
    } catch (error) {
      value = null;
      reason = `${reason}: ${errorMessage(error)}`;
    }
    if (value === null && !this.unavailable.has(field)) {
      this.unavailable.add(field);
      const message = `telemetry: ${field} is not available (${reason}); it is published as null`;
      // Throttle flags exist only on a Raspberry Pi: their absence elsewhere is expected.
      if (field === 'throttled') this.logger.info(message);
      else this.logger.warn(message);
    } else if (value !== null && this.unavailable.delete(field)) {
      this.logger.info(`telemetry: ${field} is readable again`);
    }
    return value;
  }
}

function finite(value: number | null | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function percent(value: number | null | undefined): number | null {
  const v = finite(value);
  return v === null ? null : round1(Math.min(100, Math.max(0, v)));
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
