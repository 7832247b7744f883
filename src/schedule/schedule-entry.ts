import type { ScheduleConfig } from '../config/schema.js';
import { TpmError, errorMessage } from '../util/errors.js';
import { parseCron, type CronExpression } from '../util/cron.js';
import type { Occurrence } from './cron.js';
import { type ScheduleRecord, emptyScheduleRecord } from './schedule-state.js';
import type { ScheduleStatePayload } from './scheduler-types.js';
import { formatInstant, hostTimeZone } from './time-zone.js';

/** One configured schedule as the scheduler holds it: its config, parsed cron, record and plan. */
export interface ScheduleEntry {
  config: ScheduleConfig;
  timeZone: string;
  cron: CronExpression;
  /** What state_dir keeps of it (schedule-state.ts). */
  record: ScheduleRecord;
  next: Occurrence | null;
  running: boolean;
  /** The `schedule/<name>` payload last published, to publish only changes. */
  published: string | null;
}

/** The entries of the configured schedules, by name; a bad cron or a name used twice throws. */
export function scheduleEntries(schedules: readonly ScheduleConfig[]): Map<string, ScheduleEntry> {
  const entries = new Map<string, ScheduleEntry>();
  for (const config of schedules) {
    if (entries.has(config.name)) throw new TpmError('CONFIG', `schedule "${config.name}" is defined twice`);
    let cron: CronExpression;
    try {
      cron = parseCron(config.cron);
    } catch (error) {
      throw new TpmError('CONFIG', `schedule "${config.name}": ${errorMessage(error)}`);
    }
    entries.set(config.name, {
      config,
      timeZone: config.timezone ?? hostTimeZone(),
      cron,
      record: emptyScheduleRecord(),
      next: null,
      running: false,
      published: null,
    });
  }
  return entries;
}

/** The flag set over MQTT wins over the config's `enabled` (until the config file changes it). */
export function isEnabled(entry: ScheduleEntry): boolean {
  return entry.record.enabled?.value ?? entry.config.enabled;
}

/** The `schedule/<name>` payload; next_run only while enabled and `armed` (a plausible clock). */
export function schedulePayload(entry: ScheduleEntry, armed: boolean): ScheduleStatePayload {
  const enabled = isEnabled(entry);
  return {
    enabled,
    cron: entry.config.cron,
    timezone: entry.timeZone,
    action: entry.config.action,
    nodes: entry.config.nodes,
    next_run: enabled && armed && entry.next ? formatInstant(entry.next.at, entry.timeZone) : null,
    last_run: entry.record.last_run,
    last_result: entry.record.last_result,
  };
}
