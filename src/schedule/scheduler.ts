import { monotonicNow, type Clock, type TimerHandle } from '../util/clock.js';
import { TpmError, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { Mutex } from '../util/mutex.js';
import { keepUntilSettled } from '../util/under-way.js';
import { type Occurrence, latestOccurrence, nextOccurrence } from './cron.js';
import { alreadyHandled, markArmed, missedOccurrence, remember, scheduleIdentity } from './occurrence-book.js';
import { ScheduleBook } from './schedule-book.js';
import { type ScheduleEntry, isEnabled, schedulePayload } from './schedule-entry.js';
import type { RunContext, RunOutcome, ScheduleStatePayload, SchedulerOptions } from './scheduler-types.js';
import { formatInstant } from './time-zone.js';
import { isoTime } from '../util/iso-time.js';

export type { RunContext, RunOutcome } from './scheduler-types.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

type Entry = ScheduleEntry;

/**
 * Runs the configured schedules (docs/schedules.md): each occurrence once, in the
 * schedule's time zone, never twice across restarts, clock steps or catch-up.
 *
 * How it stays correct when the wall clock moves under it: timers are only wake-ups. On
 * every wake the scheduler compares the clock's now with the occurrences since its last
 * look, so a timer that fires early or late, or a clock stepped either way, cannot make it
 * run something twice or at the wrong moment. Timers are capped at `recheckMs` so a step
 * is noticed within that time. Before an occurrence runs, its key is saved in the state
 * file; a saved key is never run again. The schedules' records and their publication are
 * the book's (schedule-book.ts).
 */
export class Scheduler {
  private readonly options: SchedulerOptions;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly book: ScheduleBook;
  private readonly entries: Map<string, Entry>;
  private readonly lateGraceMs: number;
  private readonly recheckMs: number;
  private timer: TimerHandle | undefined;
  private started = false;
  private stopped = false;
  private armed = false;
  private warnedImplausible = false;
  /** Occurrences up to this instant have been looked at; `lookedAt` is when, on the monotonic clock. */
  private cursor = 0;
  private lookedAt = 0;
  /** Schedules first armed by this run: their armed_at moves with a step of the clock (shiftArmings). */
  private readonly armedNow = new Set<Entry>();
  /** Wakes run one after another: a wake that comes while one is going waits for it. */
  private readonly wakes = new Mutex();
  private readonly runs = new Set<Promise<unknown>>();

  constructor(options: SchedulerOptions) {
    this.options = options;
    this.logger = options.logger;
    this.clock = options.clock;
    this.lateGraceMs = options.lateGraceMs ?? MINUTE;
    this.recheckMs = options.recheckMs ?? MINUTE;
    this.book = new ScheduleBook(options);
    this.entries = this.book.entries;
  }

  /** Loads the state file, publishes every schedule, and arms them once the clock is plausible. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.book.load();
    await this.wake();
  }

  /** Stops arming timers. Runs already started finish; resolves when the scheduler is idle. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.wakes.idle();
  }

  /** Resolves when the runs started so far have finished and been recorded (for tests and shutdown). */
  async idle(): Promise<void> {
    await this.wakes.idle();
    await this.runsRecorded();
  }

  /** Resolves when every run under way has finished and its result is in state_dir. */
  async runsRecorded(): Promise<void> {
    while (this.runs.size > 0) await Promise.allSettled([...this.runs]);
  }

  names(): string[] {
    return this.book.names();
  }

  state(name: string): ScheduleStatePayload {
    return this.payload(this.entry(name));
  }

  /** Enables or disables a schedule (`schedule/<name>/set ON|OFF`); persisted. */
  async setEnabled(name: string, enabled: boolean): Promise<ScheduleStatePayload> {
    const entry = this.entry(name);
    await this.book.ready();
    entry.record.enabled = { value: enabled, config_enabled: entry.config.enabled };
    this.logger.info({ schedule: name, enabled }, `schedule ${name} ${enabled ? 'enabled' : 'disabled'}`);
    await this.book.save();
    // Re-plan at once, so an occurrence due within the next timer period is not late.
    if (this.started && this.armed && !this.stopped) await this.wake();
    else this.publish(entry);
    return this.payload(entry);
  }

  /**
   * Runs the schedule's action now (`RUN`): not an occurrence, so it changes nothing about
   * which occurrences run. Works while disabled or in maintenance, as any command does.
   */
  async runNow(name: string, transaction?: string | number): Promise<RunOutcome> {
    const entry = this.entry(name);
    await this.book.ready();
    if (entry.running) throw new TpmError('BUSY', `schedule "${name}" is still running; try again when it is done`);
    const context: RunContext = { occurrenceKey: null, scheduledAt: null, catchUp: false, manual: true };
    const run = this.run(entry, transaction === undefined ? context : { ...context, transaction });
    return keepUntilSettled(this.runs, run);
  }

  private entry(name: string): Entry {
    return this.book.get(name);
  }

  private payload(entry: Entry): ScheduleStatePayload {
    return schedulePayload(entry, this.armed);
  }

  private publish(entry: Entry): void {
    if (!this.stopped) this.book.publish(entry, this.armed);
  }

  // ---- the wake loop ----

  private arm(delayMs: number): void {
    if (this.stopped) return;
    this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        void this.wake();
      },
      Math.max(0, delayMs),
    );
  }

  /** One wake on the queue of wakes; a failed wake is logged and tried again later, never thrown. */
  private wake(): Promise<void> {
    return this.wakes.run(async () => {
      try {
        await this.wakeOnce();
      } catch (error) {
        this.logger.error({ err: errorMessage(error) }, 'scheduler wake failed; retrying later');
        this.arm(this.recheckMs);
      }
    });
  }

  private async wakeOnce(): Promise<void> {
    if (this.stopped) return;
    const now = this.clock.now();
    if (now < this.options.buildTime) {
      this.waitForPlausibleClock(now);
      return;
    }
    if (!this.armed) await this.armAt(now);
    else await this.shiftArmings(now - this.cursor - (monotonicNow(this.clock) - this.lookedAt));
    if (now < this.cursor) {
      this.logger.warn(
        { steppedBackMs: this.cursor - now },
        'system clock went back; occurrences already handled will not run again',
      );
      // The step happened at most one timer period ago: look at that stretch of the new time.
      this.cursor = now - this.recheckMs;
    }
    for (const entry of this.entries.values()) await this.handleDue(entry, this.cursor, now);
    this.cursor = now;
    this.lookedAt = monotonicNow(this.clock);
    this.rearm(now);
  }

  private waitForPlausibleClock(now: number): void {
    if (!this.warnedImplausible) {
      this.warnedImplausible = true;
      this.logger.warn(
        { now: isoTime(now), buildTime: isoTime(this.options.buildTime) },
        'system clock is before the build date of this program; schedules wait until the clock is set',
      );
    }
    if (this.armed) {
      this.armed = false;
      for (const entry of this.entries.values()) entry.next = null;
    }
    for (const entry of this.entries.values()) this.publish(entry);
    this.arm(this.recheckMs);
  }

  /**
   * First wake with a plausible clock: catch-up of what was missed before now, then normal
   * operation; an occurrence due exactly now is on time, not a catch-up. A schedule armed
   * for the first time (or changed) is noted in the state file and has nothing to make up.
   */
  private async armAt(now: number): Promise<void> {
    if (this.warnedImplausible) this.logger.info('system clock is plausible now; schedules armed');
    this.armed = true;
    let firstArmed = false;
    for (const entry of this.entries.values()) {
      if (!markArmed(entry.record, scheduleIdentity(entry.config, entry.timeZone), now)) continue;
      firstArmed = true;
      this.armedNow.add(entry);
    }
    if (firstArmed) await this.book.save();
    for (const entry of this.entries.values()) await this.catchUp(entry, now - 1);
    this.cursor = now - 1;
    this.lookedAt = monotonicNow(this.clock) - 1;
  }

  /**
   * The wall clock moved `stepMs` more than the monotonic one since the last look: stepped (NTP
   * setting a Pi that booted at its last shutdown's time). A schedule first armed by this run has
   * armed_at moved with it: nothing from before its real arming is made up, now or at a restart.
   */
  private async shiftArmings(stepMs: number): Promise<void> {
    if (Math.abs(stepMs) <= SECOND || this.armedNow.size === 0) return;
    for (const { record } of this.armedNow) record.armed_at = (record.armed_at ?? 0) + stepMs;
    await this.book.save();
  }

  /** Makes up the latest occurrence in [upTo - catch_up, upTo] not handled yet, if the schedule had it. */
  private async catchUp(entry: Entry, upTo: number): Promise<void> {
    const { config } = entry;
    if (config.catch_up <= 0) return;
    const missed = missedOccurrence(entry.cron, entry.timeZone, entry.record, config.catch_up, upTo);
    if (missed && isEnabled(entry)) await this.handleOccurrence(entry, missed, true);
    else if (missed) await this.passDisabled(entry, missed);
  }

  /**
   * Plans the next wake from `lookedAt` (the end of what was just handled); anything due
   * since then, while runs were being recorded, makes the timer fire at once.
   */
  private rearm(lookedAt: number): void {
    let earliest = Infinity;
    for (const entry of this.entries.values()) {
      if (this.armed) entry.next = nextOccurrence(entry.cron, entry.timeZone, lookedAt);
      if (entry.next) earliest = Math.min(earliest, entry.next.at);
      this.publish(entry);
    }
    this.arm(Math.min(earliest - this.clock.now(), this.recheckMs));
  }

  /** The occurrence due in (from, now], if any: the latest one (older ones were missed). */
  private async handleDue(entry: Entry, from: number, now: number): Promise<void> {
    if (now <= from) return;
    const due = latestOccurrence(entry.cron, entry.timeZone, from, now);
    if (!due || alreadyHandled(entry.record, due)) return;
    const armedAt = this.armedNow.has(entry) ? entry.record.armed_at : null;
    if (!isEnabled(entry) || (armedAt !== null && due.at < armedAt)) return this.passDisabled(entry, due);
    const lateMs = now - due.at;
    if (lateMs <= this.lateGraceMs) {
      await this.handleOccurrence(entry, due, false);
    } else if (entry.config.action !== 'reboot' && entry.config.catch_up > 0 && lateMs <= entry.config.catch_up) {
      await this.handleOccurrence(entry, due, true);
    } else {
      await this.book.skip(
        this.clock.now(),
        entry,
        due,
        false,
        `missed by ${Math.round(lateMs / SECOND)} s (the clock stepped forward or the bridge was stalled)` +
          (entry.config.action === 'reboot' ? '; reboots are never made up' : '; outside the catch_up window'),
      );
    }
  }

  /** Handled at once, saved: a restart soon after enabling must not make up an occurrence it was disabled for. */
  private async passDisabled(entry: Entry, occurrence: Occurrence): Promise<void> {
    remember(entry.record, occurrence);
    await this.book.save();
  }

  private async handleOccurrence(entry: Entry, occurrence: Occurrence, catchUp: boolean): Promise<void> {
    // Stopped meanwhile (during the start's catch-up): nothing run or recorded; the next start makes it up.
    if (this.stopped) return;
    if (catchUp && entry.config.action === 'reboot') {
      await this.book.skip(this.clock.now(), entry, occurrence, catchUp, 'reboots are never made up');
    } else if (this.options.isPaused?.()) {
      await this.book.skip(this.clock.now(), entry, occurrence, catchUp, 'maintenance is on');
    } else if (entry.running) {
      await this.book.skip(
        this.clock.now(),
        entry,
        occurrence,
        catchUp,
        'the previous run of this schedule is still going',
      );
    } else {
      // Recorded before it runs: a crash during the run must not make it run again.
      const before = { done: entry.record.done, latest_at: entry.record.latest_at };
      remember(entry.record, occurrence);
      await this.book.save();
      if (this.stopped) {
        Object.assign(entry.record, before); // stopped while it was written: never run, so not handled
        await this.book.save();
        return;
      }
      this.logger.info(
        { schedule: entry.config.name, occurrence: occurrence.key, catchUp },
        catchUp
          ? `schedule ${entry.config.name}: making up missed run of ${occurrence.wallTime}`
          : `schedule ${entry.config.name} runs`,
      );
      const run = this.run(entry, {
        occurrenceKey: occurrence.key,
        scheduledAt: occurrence.at,
        catchUp,
        manual: false,
      });
      // Not awaited: a graceful shutdown can take minutes, other schedules must not wait.
      void keepUntilSettled(this.runs, run);
    }
  }

  private async run(entry: Entry, context: RunContext): Promise<RunOutcome> {
    entry.running = true;
    const startedAt = this.clock.now();
    let outcome: RunOutcome;
    try {
      outcome = await this.options.runAction(entry.config, context);
    } catch (error) {
      outcome = { result: 'error', error: errorMessage(error) };
    } finally {
      entry.running = false;
    }
    entry.record.last_run = formatInstant(startedAt, entry.timeZone);
    entry.record.last_result = outcome.result;
    await this.book.save();
    if (outcome.result === 'error') {
      this.logger.warn({ schedule: entry.config.name, error: outcome.error }, `schedule ${entry.config.name} failed`);
    }
    this.publish(entry);
    return outcome;
  }
}
