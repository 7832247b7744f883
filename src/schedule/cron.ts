import { parseCron, type CronExpression } from '../util/cron.js';
import { formatWallTime, instantOfWallTime, wallTimeOf } from './time-zone.js';

/**
 * When a cron expression fires, in a time zone, with the daylight-saving rules of
 * docs/schedules.md. croner matches the fields against wall-clock time (it is run in UTC, where
 * wall time and instants agree, so none of its own DST handling applies); this module maps
 * each matching wall time to the instant it fires (time-zone.ts), which is where the rules
 * live: a skipped time fires at the first valid instant after the gap, a repeated time
 * fires at its first occurrence only. Several wall times that map to the same instant
 * (everything in a gap, plus the first time after it) are one occurrence.
 */

export interface Occurrence {
  /** When it fires: milliseconds since the epoch (UTC). */
  at: number;
  /** The local wall time the expression names, e.g. `2026-03-29T02:30:00`. */
  wallTime: string;
  /**
   * Stable name of the occurrence, e.g. `2026-03-29T02:30:00[Europe/Berlin]`: the same
   * occurrence gets the same key whenever it is computed, so a restart recognises it.
   */
  key: string;
}

/** A wall time never repeats its fields for longer than this (29 Feb of 2096 -> 2104). */
const SEARCH_LIMIT_MS = 9 * 366 * 24 * 60 * 60 * 1000;

function compiled(expression: string | CronExpression): CronExpression {
  return typeof expression === 'string' ? parseCron(expression) : expression;
}

/** The next wall time matching the expression strictly after `wallMs`, or null. */
function nextMatchingWallTime(expression: CronExpression, wallMs: number): number | null {
  const next = expression.matcher.nextRun(new Date(wallMs));
  return next ? next.getTime() : null;
}

function occurrenceAt(wallMs: number, at: number, timeZone: string): Occurrence {
  const wallTime = formatWallTime(wallMs);
  return { at, wallTime, key: `${wallTime}[${timeZone}]` };
}

/**
 * The first occurrence that fires strictly after `afterMs`, or null when the expression
 * never fires again (e.g. 30 February).
 */
export function nextOccurrence(
  expression: string | CronExpression,
  timeZone: string,
  afterMs: number,
): Occurrence | null {
  const cron = compiled(expression);
  // Every wall time at or before the wall time of `afterMs` fires at or before `afterMs`
  // (the wall-time -> instant mapping never goes backwards), so start the search there.
  let wall = wallTimeOf(afterMs, timeZone);
  const limit = wall + SEARCH_LIMIT_MS;
  for (;;) {
    const next = nextMatchingWallTime(cron, wall);
    if (next === null || next > limit) return null;
    const at = instantOfWallTime(next, timeZone);
    // Repeated wall times in the second pass of a fall-back fire at their first pass,
    // which is already behind us: they are skipped here.
    if (at > afterMs) return occurrenceAt(next, at, timeZone);
    wall = next;
  }
}

/**
 * The latest occurrence firing in (fromMs, toMs], or null. Searches backwards from `toMs`
 * in growing steps, so a schedule firing every second costs little over a long window.
 */
export function latestOccurrence(
  expression: string | CronExpression,
  timeZone: string,
  fromMs: number,
  toMs: number,
): Occurrence | null {
  const cron = compiled(expression);
  let step = 60 * 1000;
  let end = toMs;
  while (end > fromMs) {
    const start = Math.max(fromMs, end - step);
    let latest: Occurrence | null = null;
    let after = start;
    for (;;) {
      const next = nextOccurrence(cron, timeZone, after);
      if (next === null || next.at > end) break;
      latest = next;
      after = next.at;
    }
    if (latest) return latest;
    end = start;
    step *= 4;
  }
  return null;
}
