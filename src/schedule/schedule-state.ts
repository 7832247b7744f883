import { JsonStateFile } from '../state/store.js';
import type { Logger } from '../util/logger.js';

/**
 * What the scheduler keeps in `state_dir` (docs/schedules.md): per schedule the enable
 * flag set over MQTT, the last run, and which occurrences were already handled, so that a
 * restart, a clock step or a catch-up never runs one twice.
 */

/** How many occurrence keys each schedule remembers (newest last). */
export const REMEMBERED_OCCURRENCES = 64;

export interface ScheduleRecord {
  /**
   * Enable flag set at run time (`schedule/<name>/set`), with the config's `enabled` at that
   * moment: when the config file later changes `enabled`, the config wins again.
   */
  enabled: { value: boolean; config_enabled: boolean } | null;
  /** ISO 8601 with offset: when the last occurrence (or manual run) was handled. */
  last_run: string | null;
  last_result: 'ok' | 'error' | 'skipped' | null;
  /** Keys (cron.ts `Occurrence.key`) of the latest occurrences handled: run, skipped or passed while disabled. */
  done: string[];
  /** Instant (ms) of the occurrence handled most recently. */
  latest_at: number | null;
  /**
   * When the schedule as configured now (occurrence-book.ts `scheduleIdentity`: cron, zone,
   * action) was first armed: catch-up never makes up an occurrence from before it.
   */
  armed_at: number | null;
  armed_for: string | null;
}

export interface SchedulesState {
  version: 1;
  schedules: Record<string, ScheduleRecord>;
}

export function emptyScheduleRecord(): ScheduleRecord {
  return {
    enabled: null,
    last_run: null,
    last_result: null,
    done: [],
    latest_at: null,
    armed_at: null,
    armed_for: null,
  };
}

export function emptySchedulesState(): SchedulesState {
  return { version: 1, schedules: {} };
}

export const SCHEDULES_STATE_FILE = 'schedules.json';

/** The file `<state_dir>/schedules.json`. */
export function schedulesStateFile(stateDir: string, logger?: Logger): JsonStateFile<SchedulesState> {
  return new JsonStateFile<SchedulesState>({
    dir: stateDir,
    name: SCHEDULES_STATE_FILE,
    defaults: emptySchedulesState,
    validate: parseSchedulesState,
    // A newer release's file is refused, left as it is (docs/configuration.md `state_dir`).
    version: 1,
    ...(logger ? { logger } : {}),
  });
}

/**
 * Validator for the state file: throws with the reason when the content is not ours. Checked
 * by hand: the file is small and flat, and with zod here the bridge would keep the schema
 * library loaded for the months it runs only to read this file at start (the config is read in
 * a process of its own). A missing field takes its default, as the file of an older version has
 * it; a field of the wrong type makes the whole file "not ours" (the store then starts from the
 * defaults).
 */
export function parseSchedulesState(raw: unknown): SchedulesState {
  const file = object(raw, 'document');
  if (file.version !== 1) throw new Error(`version: expected 1, got ${JSON.stringify(file.version)}`);
  const given = file.schedules === undefined ? {} : object(file.schedules, 'schedules');
  // fromEntries: a schedule may be called `__proto__`, which an assignment would take for the prototype.
  const schedules = Object.fromEntries(
    Object.entries(given).map(([name, record]) => [name, checkRecord(record, `schedules.${name}`)]),
  );
  return { version: 1, schedules };
}

const RESULTS = ['ok', 'error', 'skipped'] as const;

function checkRecord(raw: unknown, at: string): ScheduleRecord {
  const r = object(raw, at);
  let enabled: ScheduleRecord['enabled'] = null;
  if (r.enabled !== undefined && r.enabled !== null) {
    const e = object(r.enabled, `${at}.enabled`);
    enabled = {
      value: typed(e.value, 'boolean', `${at}.enabled.value`),
      config_enabled: typed(e.config_enabled, 'boolean', `${at}.enabled.config_enabled`),
    };
  }
  const result = nullable(r.last_result, 'string', `${at}.last_result`);
  if (result !== null && !(RESULTS as readonly string[]).includes(result))
    throw new Error(`${at}.last_result: expected one of ${RESULTS.join(', ')}, got ${JSON.stringify(result)}`);
  const done = r.done === undefined ? [] : r.done;
  if (!Array.isArray(done) || done.some((key) => typeof key !== 'string'))
    throw new Error(`${at}.done: expected an array of strings`);
  return {
    enabled,
    last_run: nullable(r.last_run, 'string', `${at}.last_run`),
    last_result: result as ScheduleRecord['last_result'],
    done: [...(done as string[])],
    latest_at: nullable(r.latest_at, 'number', `${at}.latest_at`),
    armed_at: nullable(r.armed_at, 'number', `${at}.armed_at`),
    armed_for: nullable(r.armed_for, 'string', `${at}.armed_for`),
  };
}

function object(value: unknown, at: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${at}: expected an object`);
  return value as Record<string, unknown>;
}

interface Types {
  string: string;
  number: number;
  boolean: boolean;
}

function typed<K extends keyof Types>(value: unknown, type: K, at: string): Types[K] {
  // A number must be one (JSON has no NaN or Infinity, but a hand-edited file may hold anything).
  if (typeof value !== type || (type === 'number' && !Number.isFinite(value)))
    throw new Error(`${at}: expected a ${type}`);
  return value as Types[K];
}

/** `value` of `type`, or null when it is null or missing (the default). */
function nullable<K extends keyof Types>(value: unknown, type: K, at: string): Types[K] | null {
  return value === undefined || value === null ? null : typed(value, type, at);
}
