import { z } from 'zod';
import { JsonStateFile } from '../state/store.js';
import type { Logger } from '../util/logger.js';

/**
 * What the scheduler keeps in `state_dir` (docs/schedules.md): per schedule the enable
 * flag set over MQTT, the last run, and which occurrences were already handled, so that a
 * restart, a clock step or a catch-up never runs one twice.
 */

/** How many occurrence keys each schedule remembers (newest last). */
export const REMEMBERED_OCCURRENCES = 64;

const recordSchema = z.object({
  /**
   * Enable flag set at run time (`schedule/<name>/set`), with the config's `enabled` at that
   * moment: when the config file later changes `enabled`, the config wins again.
   */
  enabled: z.object({ value: z.boolean(), config_enabled: z.boolean() }).nullable().default(null),
  /** ISO 8601 with offset: when the last occurrence (or manual run) was handled. */
  last_run: z.string().nullable().default(null),
  last_result: z.enum(['ok', 'error', 'skipped']).nullable().default(null),
  /** Keys (cron.ts `Occurrence.key`) of the latest occurrences handled: run, skipped or passed while disabled. */
  done: z.array(z.string()).default([]),
  /** Instant (ms) of the occurrence handled most recently. */
  latest_at: z.number().nullable().default(null),
  /**
   * When the schedule as configured now (occurrence-book.ts `scheduleIdentity`: cron, zone,
   * action) was first armed: catch-up never makes up an occurrence from before it.
   */
  armed_at: z.number().nullable().default(null),
  armed_for: z.string().nullable().default(null),
});

const fileSchema = z.object({
  version: z.literal(1),
  schedules: z.record(z.string(), recordSchema).default({}),
});

export type ScheduleRecord = z.output<typeof recordSchema>;
export type SchedulesState = z.output<typeof fileSchema>;

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

/** Validator for the state file: throws with the reason when the content is not ours. */
function parseSchedulesState(raw: unknown): SchedulesState {
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${issue?.path.join('.') || 'document'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

const SCHEDULES_STATE_FILE = 'schedules.json';

/** The file `<state_dir>/schedules.json`. */
export function schedulesStateFile(stateDir: string, logger?: Logger): JsonStateFile<SchedulesState> {
  return new JsonStateFile<SchedulesState>({
    dir: stateDir,
    name: SCHEDULES_STATE_FILE,
    defaults: emptySchedulesState,
    validate: parseSchedulesState,
    ...(logger ? { logger } : {}),
  });
}
