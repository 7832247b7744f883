import { TpmError, errorMessage } from '../util/errors.js';
import { type ScheduleEntry, scheduleEntries, schedulePayload } from './schedule-entry.js';
import type { ScheduleRecord } from './schedule-state.js';
import type { Occurrence } from './cron.js';
import { remember } from './occurrence-book.js';
import { formatInstant } from './time-zone.js';
import type { SchedulerOptions } from './scheduler-types.js';

type BookOptions = Pick<
  SchedulerOptions,
  'schedules' | 'store' | 'logger' | 'onStateChange' | 'onRemoved' | 'onSkipped'
>;

/**
 * The configured schedules with what `state_dir/schedules.json` keeps of them (docs/schedules.md):
 * loading and saving the records, finding a schedule by name, and publishing a schedule's
 * payload when it changed. When occurrences run is the scheduler's business (scheduler.ts).
 */
export class ScheduleBook {
  readonly entries: Map<string, ScheduleEntry>;
  private loading: Promise<void> | undefined;

  constructor(private readonly options: BookOptions) {
    this.entries = scheduleEntries(options.schedules);
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  /** The schedule called `name`; an unknown name is refused with the known ones. */
  get(name: string): ScheduleEntry {
    const entry = this.entries.get(name);
    if (!entry) {
      const known = this.names();
      throw new TpmError(
        'BAD_COMMAND',
        `unknown schedule "${name}"${known.length ? ` (known: ${known.join(', ')})` : ''}`,
      );
    }
    return entry;
  }

  /**
   * Resolves once the saved records are in. A change before that (a command taken while the bridge
   * starts) would be saved over them, enable flags and first armings of every schedule lost:
   * it waits for the load, and is refused before the load began.
   */
  async ready(): Promise<void> {
    if (!this.loading) throw new TpmError('BUSY', 'the schedules have not started yet; try again in a moment');
    await this.loading;
  }

  /** Takes the saved records; saves again when the config overrode one or a schedule is gone. */
  load(): Promise<void> {
    this.loading ??= this.loadRecords();
    return this.loading;
  }

  private async loadRecords(): Promise<void> {
    const stored = await this.options.store.load();
    let changed = false;
    for (const entry of this.entries.values()) {
      // Own keys only: a schedule may be called `constructor` (a valid name), which every object has.
      const record = Object.hasOwn(stored.schedules, entry.config.name) ? stored.schedules[entry.config.name] : null;
      if (!record) continue;
      entry.record = record;
      if (record.enabled && record.enabled.config_enabled !== entry.config.enabled) {
        // The config file changed `enabled` since the flag was set over MQTT: the file wins.
        entry.record.enabled = null;
        changed = true;
      }
    }
    // A schedule taken out of the config: its record goes, and whoever published it is told.
    const removed = Object.keys(stored.schedules).filter((name) => !this.entries.has(name));
    for (const name of removed) this.options.onRemoved?.(name);
    if (changed || removed.length > 0) await this.save();
  }

  async save(): Promise<void> {
    // fromEntries: a schedule called `__proto__` is a key like any other (an assignment sets the prototype).
    const schedules: Record<string, ScheduleRecord> = Object.fromEntries(
      [...this.entries].map(([name, entry]) => [name, structuredClone(entry.record)]),
    );
    try {
      await this.options.store.save({ version: 1, schedules });
    } catch (error) {
      // Keep going: the records in memory still prevent repeats until the next restart.
      this.options.logger.error(
        { err: errorMessage(error) },
        'cannot save schedule state; a restart may not know the latest runs',
      );
    }
  }

  /** Hands the `schedule/<name>` payload to onStateChange when it differs from the one handed last. */
  publish(entry: ScheduleEntry, armed: boolean): void {
    const payload = schedulePayload(entry, armed);
    const text = JSON.stringify(payload);
    if (text === entry.published) return;
    entry.published = text;
    try {
      this.options.onStateChange?.(entry.config.name, payload);
    } catch (error) {
      this.options.logger.error(
        { schedule: entry.config.name, err: errorMessage(error) },
        'publishing schedule state failed',
      );
    }
  }

  /** Records an occurrence as handled and skipped at `now`, saved, logged and reported (onSkipped). */
  async skip(
    now: number,
    entry: ScheduleEntry,
    occurrence: Occurrence,
    catchUp: boolean,
    reason: string,
  ): Promise<void> {
    remember(entry.record, occurrence);
    entry.record.last_run = formatInstant(now, entry.timeZone);
    entry.record.last_result = 'skipped';
    await this.save();
    this.options.logger.warn(
      { schedule: entry.config.name, occurrence: occurrence.key, reason },
      `schedule ${entry.config.name}: ${occurrence.wallTime} not run: ${reason}`,
    );
    try {
      this.options.onSkipped?.(entry.config, {
        occurrenceKey: occurrence.key,
        scheduledAt: occurrence.at,
        catchUp,
        reason,
      });
    } catch (error) {
      this.options.logger.error({ err: errorMessage(error) }, 'reporting a skipped schedule run failed');
    }
    // Not published here: its next run is still the skipped one (or none yet, at the first arming).
    // Every skip happens in a wake, whose rearm publishes the schedule with its next run.
  }
}
