import type { ScheduleConfig } from '../config/schema.js';
import type { CronExpression } from '../util/cron.js';
import { type Occurrence, latestOccurrence } from './cron.js';
import { REMEMBERED_OCCURRENCES, type ScheduleRecord } from './schedule-state.js';

/**
 * The bookkeeping behind "each occurrence once" and catch-up (docs/schedules.md): which
 * occurrences a schedule has handled, and since when the schedule, as configured now, has
 * been armed. Works on the record the scheduler keeps in `state_dir/schedules.json`.
 */

const HOUR = 3_600_000;

/**
 * After a small step of the clock backwards, occurrences up to this far before the one
 * handled last count as handled. A larger step back means the clock had been wrong (ahead);
 * then only the remembered keys protect, and the real occurrences run.
 */
const STEP_BACK_GUARD_MS = 24 * HOUR;

/**
 * What makes a schedule the same one across restarts. A changed cron, time zone or action is
 * a new schedule under the old name: its first arming starts again, so catch-up never makes
 * up an occurrence the schedule did not have at the time.
 */
export function scheduleIdentity(config: ScheduleConfig, timeZone: string): string {
  return JSON.stringify([config.cron, timeZone, config.action]);
}

/**
 * Notes that the schedule `identity` is armed at `now`, unless the record already says when it
 * was first armed. A first arming in the future (written while the clock was ahead) is moved to
 * now. Returns whether the record changed (to be saved).
 */
export function markArmed(record: ScheduleRecord, identity: string, now: number): boolean {
  if (record.armed_for === identity && record.armed_at !== null && record.armed_at <= now) return false;
  record.armed_for = identity;
  record.armed_at = now;
  return true;
}

/**
 * The occurrence a start makes up: the latest one in the catch_up window before `upTo`, and
 * after the schedule was first armed (an occurrence from before it existed is never made up;
 * a schedule armed for the first time now has nothing to make up).
 */
export function missedOccurrence(
  cron: CronExpression,
  timeZone: string,
  record: ScheduleRecord,
  catchUpMs: number,
  upTo: number,
): Occurrence | null {
  const from = Math.max(upTo - catchUpMs - 1, record.armed_at ?? upTo);
  if (from >= upTo) return null;
  const missed = latestOccurrence(cron, timeZone, from, upTo);
  return missed && !alreadyHandled(record, missed) ? missed : null;
}

export function alreadyHandled(record: ScheduleRecord, occurrence: Occurrence): boolean {
  if (record.done.includes(occurrence.key)) return true;
  return (
    record.latest_at !== null &&
    occurrence.at <= record.latest_at &&
    record.latest_at - occurrence.at <= STEP_BACK_GUARD_MS
  );
}

/** Marks the occurrence handled (run, skipped or passed while disabled); the newest keys are kept. */
export function remember(record: ScheduleRecord, occurrence: Occurrence): void {
  record.done = [...record.done.filter((key) => key !== occurrence.key), occurrence.key].slice(-REMEMBERED_OCCURRENCES);
  record.latest_at = occurrence.at;
}
