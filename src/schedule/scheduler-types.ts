import type { ScheduleConfig } from '../config/schema.js';
import type { StateStore } from '../state/store.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { SchedulesState } from './schedule-state.js';

/** What the scheduler takes and gives (scheduler.ts): its options, a run's context and outcome, its payload. */

export type ScheduleResult = 'ok' | 'error' | 'skipped';

export interface RunContext {
  /** Key of the occurrence being run (cron.ts), null for a manual run. */
  occurrenceKey: string | null;
  /** When the occurrence was due (ms), null for a manual run. */
  scheduledAt: number | null;
  /** True when the run makes up an occurrence missed while the bridge was down or stalled. */
  catchUp: boolean;
  /** True for `runNow` (`schedule/<name>/set RUN`, `bridge/request/schedule/run`). */
  manual: boolean;
  /** The transaction of the `schedule/run` request that asked for this run, if it had one. */
  transaction?: string | number;
}

export interface RunOutcome {
  result: 'ok' | 'error';
  error?: string;
  /** Whatever the action reports per node; passed through untouched. */
  perNode?: unknown;
}

/** The `schedule/<name>` payload (docs/topics.md). */
export interface ScheduleStatePayload {
  enabled: boolean;
  cron: string;
  timezone: string;
  action: ScheduleConfig['action'];
  nodes: ScheduleConfig['nodes'];
  /** ISO 8601 with the zone's offset; null while disabled or before the clock is plausible. */
  next_run: string | null;
  last_run: string | null;
  last_result: ScheduleResult | null;
}

export interface SkipReport {
  occurrenceKey: string;
  scheduledAt: number;
  catchUp: boolean;
  /** For people, e.g. "maintenance is on". */
  reason: string;
}

export interface SchedulerOptions {
  schedules: readonly ScheduleConfig[];
  clock: Clock;
  logger: Logger;
  store: StateStore<SchedulesState>;
  /** Schedules are armed only once clock.now() >= buildTime (a plausible clock, docs/schedules.md). */
  buildTime: number;
  /** Carries out the schedule's action; its errors are reported, never thrown at the scheduler. */
  runAction: (schedule: ScheduleConfig, context: RunContext) => Promise<RunOutcome>;
  /** Maintenance (docs/topics.md): while true, occurrences are skipped and reported. */
  isPaused?: () => boolean;
  /** Called with the new payload whenever a schedule's `schedule/<name>` payload changes. */
  onStateChange?: (name: string, state: ScheduleStatePayload) => void;
  /** Called when an occurrence is not run (maintenance, missed, still running), for `bridge/event`. */
  onSkipped?: (schedule: ScheduleConfig, report: SkipReport) => void;
  /** Called at start for each schedule the state file knows and the config no longer has. */
  onRemoved?: (name: string) => void;
  /** A wake this late after an occurrence still counts as on time. Default 60 s. */
  lateGraceMs?: number;
  /** Longest a timer is armed, so a clock step is noticed. Default 60 s. */
  recheckMs?: number;
}
