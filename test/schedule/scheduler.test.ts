import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScheduleConfig } from '../../src/config/schema.js';
import { type SchedulesState, emptySchedulesState, schedulesStateFile } from '../../src/schedule/schedule-state.js';
import { Scheduler } from '../../src/schedule/scheduler.js';
import type { RunContext, RunOutcome, ScheduleStatePayload, SkipReport } from '../../src/schedule/scheduler-types.js';
import type { StateStore } from '../../src/state/store.js';
import { MemoryState } from '../support/memory-state.js';
import { TpmError } from '../../src/util/errors.js';
import type { Logger } from '../../src/util/logger.js';
import { SteppingClock } from './stepping-clock.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const BUILD_TIME = Date.parse('2026-01-01T00:00:00Z');

function schedule(overrides: Partial<ScheduleConfig> = {}): ScheduleConfig {
  return {
    name: 'nightly-off',
    cron: '0 23 * * *',
    timezone: 'Europe/Berlin',
    action: 'off',
    nodes: [4, 5],
    enabled: true,
    catch_up: 15 * MINUTE,
    ...overrides,
  };
}

interface Run {
  name: string;
  at: string;
  context: RunContext;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

function recordingLogger(): { logger: Logger; warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  const lastString = (args: unknown[]): string => String(args.filter((a) => typeof a === 'string').pop() ?? '');
  const logger = {
    warn: (...args: unknown[]) => warnings.push(lastString(args)),
    info: (...args: unknown[]) => infos.push(lastString(args)),
    debug: () => undefined,
    error: () => undefined,
  } as unknown as Logger;
  return { logger, warnings, infos };
}

class Harness {
  readonly clock: SteppingClock;
  readonly runs: Run[] = [];
  readonly skips: (SkipReport & { name: string })[] = [];
  readonly published: { name: string; state: ScheduleStatePayload }[] = [];
  readonly log = recordingLogger();
  paused = false;
  /** What the next runs answer; a function may hold a run open. */
  action: (context: RunContext) => Promise<RunOutcome> = async () => ({ result: 'ok' });
  scheduler!: Scheduler;

  constructor(
    start: string,
    readonly store: StateStore<SchedulesState> = new MemoryState(emptySchedulesState()),
  ) {
    this.clock = new SteppingClock(Date.parse(start));
  }

  create(schedules: ScheduleConfig[], buildTime = BUILD_TIME): Scheduler {
    this.scheduler = new Scheduler({
      schedules,
      clock: this.clock,
      logger: this.log.logger,
      store: this.store,
      buildTime,
      runAction: (config, context) => {
        this.runs.push({ name: config.name, at: iso(this.clock.now()), context });
        return this.action(context);
      },
      isPaused: () => this.paused,
      onStateChange: (name, state) => this.published.push({ name, state }),
      onSkipped: (config, report) => this.skips.push({ name: config.name, ...report }),
    });
    return this.scheduler;
  }

  async start(schedules: ScheduleConfig[], buildTime = BUILD_TIME): Promise<Scheduler> {
    const scheduler = this.create(schedules, buildTime);
    await scheduler.start();
    await scheduler.idle();
    return scheduler;
  }

  async advance(ms: number): Promise<void> {
    await this.clock.advance(ms);
    await this.scheduler.idle();
  }

  runTimes(): string[] {
    return this.runs.map((run) => run.at);
  }
}

/** A store in which `schedules` were armed (a bridge ran) at `at`, as before a later start that catches up. */
async function armedAt(at: string, schedules: ScheduleConfig[]): Promise<MemoryState<SchedulesState>> {
  const store = new MemoryState(emptySchedulesState());
  const earlier = new Harness(at, store);
  await earlier.start(schedules);
  await earlier.scheduler.stop();
  return store;
}

/** A store whose next load or save waits until released: a stop can come in between. */
class GatedState extends MemoryState<SchedulesState> {
  private gate: { on: 'load' | 'save'; entered: () => void; open: Promise<void> } | undefined;
  /** Resolves once the held load or save has begun. */
  held: Promise<void> = Promise.resolve();
  release: () => void = () => undefined;

  constructor(from: MemoryState<SchedulesState>) {
    super(from.peek());
  }

  hold(on: 'load' | 'save' = 'save'): void {
    let entered!: () => void;
    this.held = new Promise((resolve) => (entered = resolve));
    const open = new Promise<void>((resolve) => (this.release = resolve));
    this.gate = { on, entered, open };
  }

  override async load(): Promise<SchedulesState> {
    await this.wait('load');
    return super.load();
  }

  override async save(value: SchedulesState): Promise<void> {
    await this.wait('save');
    return super.save(value);
  }

  private async wait(on: 'load' | 'save'): Promise<void> {
    const gate = this.gate;
    if (gate?.on !== on) return;
    this.gate = undefined;
    gate.entered();
    await gate.open;
  }
}

describe('Scheduler', () => {
  describe('running occurrences', () => {
    it('runs at the wall-clock time of its zone, once, with the occurrence key', async () => {
      const h = new Harness('2026-01-10T21:00:00Z');
      await h.start([schedule()]);
      await h.advance(2 * HOUR);
      assert.deepEqual(h.runTimes(), ['2026-01-10T22:00:00Z']);
      assert.deepEqual(h.runs[0]?.context, {
        occurrenceKey: '2026-01-10T23:00:00[Europe/Berlin]',
        scheduledAt: Date.parse('2026-01-10T22:00:00Z'),
        catchUp: false,
        manual: false,
      });
    });

    it('publishes schedule/<name> with next_run, last_run and last_result', async () => {
      const h = new Harness('2026-01-10T21:00:00Z');
      await h.start([schedule()]);
      assert.deepEqual(h.scheduler.state('nightly-off'), {
        enabled: true,
        cron: '0 23 * * *',
        timezone: 'Europe/Berlin',
        action: 'off',
        nodes: [4, 5],
        next_run: '2026-01-10T23:00:00+01:00',
        last_run: null,
        last_result: null,
      });
      assert.equal(h.published.at(-1)?.state.next_run, '2026-01-10T23:00:00+01:00');
      await h.advance(2 * HOUR);
      const state = h.published.at(-1)?.state;
      assert.equal(state?.last_run, '2026-01-10T23:00:00+01:00');
      assert.equal(state?.last_result, 'ok');
      assert.equal(state?.next_run, '2026-01-11T23:00:00+01:00');
    });

    it('uses the host time zone when the schedule names none', async () => {
      const h = new Harness('2026-01-10T21:00:00Z');
      await h.start([schedule({ timezone: null })]);
      assert.equal(h.scheduler.state('nightly-off').timezone, Intl.DateTimeFormat().resolvedOptions().timeZone);
    });

    it('runs a 6-field schedule every 10 seconds', async () => {
      const h = new Harness('2026-01-10T12:00:05Z');
      await h.start([schedule({ cron: '*/10 * * * * *', timezone: 'UTC', catch_up: 0 })]);
      await h.advance(30 * SECOND);
      assert.deepEqual(h.runTimes(), ['2026-01-10T12:00:10Z', '2026-01-10T12:00:20Z', '2026-01-10T12:00:30Z']);
    });

    it('an occurrence due exactly at start runs on time, not as a catch-up', async () => {
      const h = new Harness('2026-01-10T22:00:00Z');
      await h.start([schedule({ catch_up: 0 })]);
      assert.deepEqual(h.runTimes(), ['2026-01-10T22:00:00Z']);
      assert.equal(h.runs[0]?.context.catchUp, false);
    });

    it('runs each of several schedules at its own time', async () => {
      const h = new Harness('2026-01-10T05:00:00Z');
      await h.start([
        schedule({ name: 'morning-on', cron: '30 7 * * *', action: 'on' }),
        schedule({ name: 'ny-off', cron: '0 2 * * *', timezone: 'America/New_York' }),
      ]);
      await h.advance(3 * HOUR);
      assert.deepEqual(
        h.runs.map((r) => `${r.name} ${r.at}`),
        ['morning-on 2026-01-10T06:30:00Z', 'ny-off 2026-01-10T07:00:00Z'],
      );
    });

    it('records a failing action as last_result error, and an action that throws too', async () => {
      const h = new Harness('2026-01-10T21:00:00Z');
      h.action = async () => ({ result: 'error', error: 'node 5 did not answer' });
      await h.start([schedule()]);
      await h.advance(2 * HOUR);
      assert.equal(h.scheduler.state('nightly-off').last_result, 'error');
      h.action = async () => {
        throw new Error('bus gone');
      };
      await h.advance(DAY);
      assert.equal(h.runs.length, 2);
      assert.equal(h.scheduler.state('nightly-off').last_result, 'error');
    });

    it('skips an occurrence while the previous run of the same schedule is still going', async () => {
      const h = new Harness('2026-01-10T12:00:30Z');
      let finish: () => void = () => undefined;
      h.action = () => new Promise((resolve) => (finish = () => resolve({ result: 'ok' })));
      await h.start([schedule({ cron: '* * * * *', timezone: 'UTC', catch_up: 0 })]);
      await h.clock.advance(2 * MINUTE);
      assert.equal(h.runs.length, 1);
      assert.equal(h.skips.length, 1);
      assert.match(h.skips[0]?.reason ?? '', /previous run .* still going/);
      h.action = async () => ({ result: 'ok' });
      finish();
      await h.advance(MINUTE);
      assert.deepEqual(h.runTimes(), ['2026-01-10T12:01:00Z', '2026-01-10T12:03:00Z']);
    });
  });

  describe('daylight saving (docs/schedules.md)', () => {
    it('Europe/Berlin spring-forward: 02:30 runs once at 03:00 local (01:00Z)', async () => {
      const h = new Harness('2026-03-28T12:00:00Z');
      await h.start([schedule({ cron: '30 2 * * *' })]);
      await h.advance(2 * DAY);
      assert.deepEqual(h.runTimes(), ['2026-03-29T01:00:00Z', '2026-03-30T00:30:00Z']);
      assert.equal(h.runs[0]?.context.occurrenceKey, '2026-03-29T02:30:00[Europe/Berlin]');
    });

    it('Europe/Berlin fall-back: 02:30 happens twice and runs once, at 00:30Z', async () => {
      const h = new Harness('2026-10-24T12:00:00Z');
      await h.start([schedule({ cron: '30 2 * * *' })]);
      await h.advance(2 * DAY);
      assert.deepEqual(h.runTimes(), ['2026-10-25T00:30:00Z', '2026-10-26T01:30:00Z']);
    });

    it('America/New_York spring-forward (2026-03-08) and fall-back (2026-11-01)', async () => {
      const spring = new Harness('2026-03-07T12:00:00Z');
      await spring.start([schedule({ cron: '30 2 * * *', timezone: 'America/New_York' })]);
      await spring.advance(2 * DAY);
      assert.deepEqual(spring.runTimes(), ['2026-03-08T07:00:00Z', '2026-03-09T06:30:00Z']);

      const fall = new Harness('2026-10-31T12:00:00Z');
      await fall.start([schedule({ cron: '30 1 * * *', timezone: 'America/New_York' })]);
      await fall.advance(2 * DAY);
      assert.deepEqual(fall.runTimes(), ['2026-11-01T05:30:00Z', '2026-11-02T06:30:00Z']);
    });

    it('an hourly schedule across spring-forward: no double run at 03:00, no hour lost', async () => {
      const h = new Harness('2026-03-28T23:30:00Z'); // 00:30 CET
      await h.start([schedule({ cron: '0 * * * *' })]);
      await h.advance(4 * HOUR);
      // 01:00 CET, then 02:00 (skipped) and 03:00 together once, then 04:00 and 05:00 CEST.
      assert.deepEqual(h.runTimes(), [
        '2026-03-29T00:00:00Z',
        '2026-03-29T01:00:00Z',
        '2026-03-29T02:00:00Z',
        '2026-03-29T03:00:00Z',
      ]);
    });

    it('an hourly schedule across fall-back: the repeated 02:00 runs once', async () => {
      const h = new Harness('2026-10-24T22:30:00Z'); // 00:30 CEST
      await h.start([schedule({ cron: '0 * * * *' })]);
      await h.advance(5 * HOUR);
      // 01:00 and 02:00 CEST; 02:00 CET is the same wall time again; then 03:00 and 04:00 CET.
      assert.deepEqual(h.runTimes(), [
        '2026-10-24T23:00:00Z',
        '2026-10-25T00:00:00Z',
        '2026-10-25T02:00:00Z',
        '2026-10-25T03:00:00Z',
      ]);
    });

    it('an hourly schedule across both New York changes', async () => {
      const spring = new Harness('2026-03-08T05:30:00Z'); // 00:30 EST
      await spring.start([schedule({ cron: '0 * * * *', timezone: 'America/New_York' })]);
      await spring.advance(3 * HOUR);
      assert.deepEqual(spring.runTimes(), ['2026-03-08T06:00:00Z', '2026-03-08T07:00:00Z', '2026-03-08T08:00:00Z']);

      const fall = new Harness('2026-11-01T04:30:00Z'); // 00:30 EDT
      await fall.start([schedule({ cron: '0 * * * *', timezone: 'America/New_York' })]);
      await fall.advance(4 * HOUR);
      // 01:00 EDT (05:00Z); 01:00 EST (06:00Z) is a repeat; 02:00 EST (07:00Z), 03:00 EST (08:00Z).
      assert.deepEqual(fall.runTimes(), ['2026-11-01T05:00:00Z', '2026-11-01T07:00:00Z', '2026-11-01T08:00:00Z']);
    });
  });

  describe('catch-up at start', () => {
    it('a stop during the start runs no catch-up and records none: the next start makes it up', async () => {
      const schedules = [schedule({ catch_up: 15 * MINUTE })];
      const store = new GatedState(await armedAt('2026-01-10T21:00:00Z', schedules));
      const h = new Harness('2026-01-10T22:10:00Z', store);
      const scheduler = h.create(schedules);
      store.hold();
      const start = scheduler.start();
      await store.held; // the catch-up's occurrence is being recorded
      const stop = scheduler.stop();
      store.release();
      await start;
      await stop;
      await scheduler.idle();
      assert.deepEqual(h.runs, [], 'a stopped scheduler starts no run');
      assert.deepEqual(store.peek().schedules['nightly-off']?.done, [], 'the occurrence is not recorded as handled');

      const again = new Harness('2026-01-10T22:11:00Z', store);
      await again.start(schedules);
      assert.equal(again.runs[0]?.context.occurrenceKey, '2026-01-10T23:00:00[Europe/Berlin]');
      assert.equal(again.runs[0]?.context.catchUp, true);
    });

    it('a stop while the state file loads: nothing run, nothing recorded', async () => {
      const schedules = [schedule({ catch_up: 15 * MINUTE })];
      const store = new GatedState(await armedAt('2026-01-10T21:00:00Z', schedules));
      const h = new Harness('2026-01-10T22:10:00Z', store);
      const scheduler = h.create(schedules);
      store.hold('load');
      const start = scheduler.start();
      await store.held;
      const stop = scheduler.stop();
      store.release();
      await start;
      await stop;
      await scheduler.idle();
      assert.deepEqual(h.runs, []);
      assert.equal(store.saves, 0, 'nothing written');
    });

    it('makes up an off missed within the window, once, marked as catch-up', async () => {
      const schedules = [schedule({ catch_up: 15 * MINUTE })];
      // Armed by a run that went down at 21:00Z; back at 23:10 in Berlin, 10 min after 23:00.
      const h = new Harness('2026-01-10T22:10:00Z', await armedAt('2026-01-10T21:00:00Z', schedules));
      await h.start(schedules);
      assert.deepEqual(h.runTimes(), ['2026-01-10T22:10:00Z']);
      assert.equal(h.runs[0]?.context.catchUp, true);
      assert.equal(h.runs[0]?.context.occurrenceKey, '2026-01-10T23:00:00[Europe/Berlin]');
      await h.advance(HOUR);
      assert.equal(h.runs.length, 1);
    });

    it('does not make up a run missed longer ago than the window', async () => {
      const h = new Harness('2026-01-10T22:16:00Z');
      await h.start([schedule({ catch_up: 15 * MINUTE })]);
      await h.advance(HOUR);
      assert.deepEqual(h.runs, []);
    });

    it('with catch_up 0 never makes up', async () => {
      const h = new Harness('2026-01-10T22:00:30Z');
      await h.start([schedule({ catch_up: 0 })]);
      assert.deepEqual(h.runs, []);
    });

    it('makes up only the latest of several missed occurrences', async () => {
      const schedules = [schedule({ cron: '*/5 * * * *', timezone: 'UTC', action: 'on', catch_up: 15 * MINUTE })];
      const h = new Harness('2026-01-10T12:12:00Z', await armedAt('2026-01-10T11:50:00Z', schedules));
      await h.start(schedules);
      assert.equal(h.runs.length, 1);
      assert.equal(h.runs[0]?.context.occurrenceKey, '2026-01-10T12:10:00[UTC]');
      await h.advance(3 * MINUTE);
      assert.deepEqual(h.runTimes(), ['2026-01-10T12:12:00Z', '2026-01-10T12:15:00Z']);
    });

    it('makes up shutdown too, but never a reboot; the missed reboot is reported', async () => {
      const schedules = [
        schedule({ name: 'sleep', action: 'shutdown' }),
        schedule({ name: 'restart', action: 'reboot' }),
      ];
      const h = new Harness('2026-01-10T22:05:00Z', await armedAt('2026-01-10T21:00:00Z', schedules));
      await h.start(schedules);
      assert.deepEqual(
        h.runs.map((r) => r.name),
        ['sleep'],
      );
      assert.equal(h.skips.length, 1);
      assert.equal(h.skips[0]?.name, 'restart');
      assert.equal(h.skips[0]?.catchUp, true);
      assert.match(h.skips[0]?.reason ?? '', /reboots are never made up/);
      assert.equal(h.scheduler.state('restart').last_result, 'skipped');
    });

    it('never makes up an occurrence from before the schedule was first armed: added at 05:12 for 05:10', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'tpm-sched-'));
      try {
        const early = [schedule({ name: 'early-off', cron: '10 05 * * *', timezone: 'UTC', action: 'off' })];
        const first = new Harness('2026-03-10T05:12:00Z', schedulesStateFile(dir));
        await first.start(early);
        await first.advance(10 * MINUTE);
        assert.deepEqual(first.runs, [], 'the 05:10 of the day it was added is not made up');
        assert.deepEqual(first.skips, [], 'nor reported as missed');
        assert.equal(first.scheduler.state('early-off').last_run, null, 'no last_run for a run that never happened');
        // The bridge goes down at 05:00 the next day and comes back at 05:20.
        await first.clock.advance(Date.parse('2026-03-11T05:00:00Z') - first.clock.now());
        await first.scheduler.stop();
        assert.deepEqual(first.runs, []);

        const second = new Harness('2026-03-11T05:20:00Z', schedulesStateFile(dir));
        await second.start(early);
        assert.deepEqual(second.runTimes(), ['2026-03-11T05:20:00Z'], 'the 05:10 missed while down is made up');
        assert.equal(second.runs[0]?.context.catchUp, true);
        assert.equal(second.runs[0]?.context.occurrenceKey, '2026-03-11T05:10:00[UTC]');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it(
      'at the first start of a reboot schedule, the occurrence before it is not reported as "never made ' + 'up"',
      async () => {
        const h = new Harness('2026-01-10T22:05:00Z');
        await h.start([schedule({ name: 'restart', action: 'reboot' })]);
        assert.deepEqual(h.runs, []);
        assert.deepEqual(h.skips, []);
        assert.equal(h.scheduler.state('restart').last_result, null);
        assert.equal(h.scheduler.state('restart').last_run, null);
      },
    );

    it('a changed cron or action counts as a new schedule; an unchanged one keeps its first arming', async () => {
      const store = await armedAt('2026-01-10T20:00:00Z', [schedule({ action: 'on' })]);
      const armedFirst = store.peek().schedules['nightly-off']?.armed_at;
      assert.equal(armedFirst, Date.parse('2026-01-10T20:00:00Z'));

      const changed = new Harness('2026-01-10T22:05:00Z', store); // 5 min after 23:00 Berlin
      await changed.start([schedule({ action: 'off' })]);
      assert.deepEqual(
        changed.runs,
        [],
        'the action changed at 22:05Z: the 23:00 of the old action is not made up as an off',
      );
      assert.equal(store.peek().schedules['nightly-off']?.armed_at, Date.parse('2026-01-10T22:05:00Z'));
      await changed.scheduler.stop();

      const same = new Harness('2026-01-11T22:05:00Z', store);
      await same.start([schedule({ action: 'off' })]);
      assert.equal(same.runs.length, 1, 'the next day, unchanged, its missed 23:00 is made up');
      assert.equal(store.peek().schedules['nightly-off']?.armed_at, Date.parse('2026-01-10T22:05:00Z'));
    });

    it('does not make up a disabled schedule', async () => {
      const h = new Harness('2026-01-10T22:05:00Z');
      await h.start([schedule({ enabled: false })]);
      assert.deepEqual(h.runs, []);
    });
  });

  describe('never twice', () => {
    it('a restart on the same state does not run the occurrence again', async () => {
      const store = new MemoryState(emptySchedulesState());
      const first = new Harness('2026-01-10T21:59:00Z', store);
      await first.start([schedule()]);
      await first.advance(2 * MINUTE);
      assert.equal(first.runs.length, 1);
      await first.scheduler.stop();

      const second = new Harness('2026-01-10T22:05:00Z', store);
      await second.start([schedule()]);
      await second.advance(HOUR);
      assert.deepEqual(second.runs, []);
      assert.equal(second.scheduler.state('nightly-off').last_result, 'ok');
    });

    it('an occurrence cut short by a crash is not run again at the next start', async () => {
      const store = new MemoryState(emptySchedulesState());
      const first = new Harness('2026-01-10T21:59:00Z', store);
      first.action = () => new Promise(() => undefined); // never finishes: the process "dies"
      await first.start([schedule()]);
      await first.clock.advance(2 * MINUTE);
      assert.equal(first.runs.length, 1);

      const second = new Harness('2026-01-10T22:03:00Z', store);
      await second.start([schedule()]);
      assert.deepEqual(second.runs, []);
    });

    it('a restart with a real state file in state_dir does not run it again either', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'tpm-sched-'));
      try {
        const first = new Harness('2026-01-10T22:00:00Z', schedulesStateFile(dir));
        await first.start([schedule({ cron: '0 23 * * *' })]);
        assert.equal(first.runs.length, 1);
        await first.scheduler.stop();

        const second = new Harness('2026-01-10T22:01:00Z', schedulesStateFile(dir));
        await second.start([schedule({ cron: '0 23 * * *' })]);
        await second.advance(MINUTE);
        assert.deepEqual(second.runs, []);
        assert.deepEqual(await readdir(dir), ['schedules.json']);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('a schedule named like an Object property (constructor, __proto__) runs and is recorded', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'tpm-sched-'));
      try {
        const schedules = [schedule({ name: 'constructor' }), schedule({ name: '__proto__', cron: '0 7 * * *' })];
        const first = new Harness('2026-01-10T21:59:00Z', schedulesStateFile(dir));
        await first.start(schedules);
        await first.advance(2 * MINUTE);
        assert.deepEqual(
          first.runs.map((r) => [r.name, r.context.occurrenceKey]),
          [['constructor', '2026-01-10T23:00:00[Europe/Berlin]']],
        );
        await first.scheduler.stop();
        const second = new Harness('2026-01-10T22:01:00Z', schedulesStateFile(dir));
        await second.start(schedules);
        await second.advance(HOUR);
        assert.deepEqual(second.runs, [], 'not run again after the restart');
        assert.equal(second.scheduler.state('constructor').last_result, 'ok');
        await second.scheduler.setEnabled('__proto__', false);
        await second.scheduler.stop();
        const third = new Harness('2026-01-10T22:02:00Z', schedulesStateFile(dir));
        await third.start(schedules);
        assert.equal(third.scheduler.state('__proto__').enabled, false, 'its flag is kept in schedules.json');
        assert.equal(({} as Record<string, unknown>).armed_for, undefined, 'Object.prototype untouched');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('remembers a bounded number of occurrence keys, newest last', async () => {
      const store = new MemoryState(emptySchedulesState());
      const h = new Harness('2026-01-10T12:00:00.500Z', store);
      await h.start([schedule({ cron: '* * * * * *', timezone: 'UTC', catch_up: 0 })]);
      await h.advance(100 * SECOND);
      assert.equal(h.runs.length, 100);
      const record = store.peek().schedules['nightly-off'];
      assert.equal(record?.done.length, 64);
      assert.equal(record?.done.at(-1), '2026-01-10T12:01:40[UTC]');
      assert.equal(record?.latest_at, Date.parse('2026-01-10T12:01:40Z'));
    });

    it('a clock step backwards does not run an occurrence again', async () => {
      const h = new Harness('2026-01-10T21:59:00Z');
      await h.start([schedule()]);
      await h.advance(2 * MINUTE);
      h.clock.jump(Date.parse('2026-01-10T21:30:00Z'));
      await h.advance(2 * HOUR);
      assert.deepEqual(h.runTimes(), ['2026-01-10T22:00:00Z']);
      await h.advance(DAY);
      assert.deepEqual(h.runTimes(), ['2026-01-10T22:00:00Z', '2026-01-11T22:00:00Z']);
    });

    it('after a clock that ran days ahead is set right, the real occurrences run', async () => {
      const h = new Harness('2026-01-17T21:59:00Z'); // a week ahead, but after the build date
      await h.start([schedule()]);
      await h.advance(2 * MINUTE);
      h.clock.jump(Date.parse('2026-01-10T21:59:00Z'));
      await h.advance(2 * MINUTE);
      assert.deepEqual(h.runTimes(), ['2026-01-17T22:00:00Z', '2026-01-10T22:00:00Z']);
    });

    it('first armed while the clock was behind: nothing from before its arming made up once NTP sets it', async () => {
      const store = new MemoryState(emptySchedulesState());
      const h = new Harness('2026-01-10T21:40:00Z', store); // fake-hwclock: the time of the last shutdown
      await h.start([schedule({ catch_up: 15 * MINUTE })]); // new: first armed at this start
      await h.advance(MINUTE);
      h.clock.jump(Date.parse('2026-01-10T22:06:00Z')); // NTP: the bridge really started at 22:05
      await h.advance(MINUTE);
      assert.deepEqual(h.runs, [], 'the 22:00 OFF passed before the schedule existed');
      // The file says when it was really armed: a restart within catch_up makes nothing up either.
      assert.equal(store.peek().schedules['nightly-off']?.armed_at, Date.parse('2026-01-10T22:05:00Z'));
      await h.advance(DAY);
      assert.deepEqual(h.runTimes(), ['2026-01-11T22:00:00Z']);
    });

    it('first armed while the clock was a year ahead: runs at its real times once it is set back', async () => {
      const h = new Harness('2027-01-10T21:40:00Z');
      await h.start([schedule()]);
      await h.advance(MINUTE);
      h.clock.jump(Date.parse('2026-01-10T21:50:00Z'));
      await h.advance(15 * MINUTE);
      assert.deepEqual(h.runTimes(), ['2026-01-10T22:00:00Z']);
    });

    it('a clock step forward past an occurrence: made up within catch_up, else skipped and reported', async () => {
      // Armed the day before: an occurrence from before a schedule's first arming is never made up.
      const store = await armedAt('2026-01-09T12:00:00Z', [schedule({ catch_up: 15 * MINUTE })]);
      const h = new Harness('2026-01-10T21:58:00Z', store);
      await h.start([schedule({ catch_up: 15 * MINUTE })]);
      h.clock.jump(Date.parse('2026-01-10T22:05:00Z'));
      await h.advance(MINUTE);
      // Noticed at the next wake-up, at most a minute after the step.
      assert.deepEqual(h.runTimes(), ['2026-01-10T22:06:00Z']);
      assert.equal(h.runs[0]?.context.catchUp, true);

      h.clock.jump(Date.parse('2026-01-11T23:00:00Z')); // an hour past the next one
      await h.advance(MINUTE);
      assert.equal(h.runs.length, 1);
      assert.equal(h.skips.length, 1);
      assert.match(h.skips[0]?.reason ?? '', /missed by 36\d\d s .*outside the catch_up window/);
    });
  });

  describe('enable flag', () => {
    it('a schedule disabled in the config does not run', async () => {
      const h = new Harness('2026-01-10T21:00:00Z');
      await h.start([schedule({ enabled: false })]);
      await h.advance(2 * DAY);
      assert.deepEqual(h.runs, []);
      assert.equal(h.scheduler.state('nightly-off').next_run, null);
    });

    it('setEnabled(false) stops it, is kept across a restart, and setEnabled(true) resumes it', async () => {
      const store = new MemoryState(emptySchedulesState());
      const first = new Harness('2026-01-10T21:00:00Z', store);
      await first.start([schedule()]);
      const state = await first.scheduler.setEnabled('nightly-off', false);
      assert.equal(state.enabled, false);
      assert.equal(first.published.at(-1)?.state.enabled, false);
      await first.advance(2 * HOUR);
      assert.deepEqual(first.runs, []);
      await first.scheduler.stop();

      const second = new Harness('2026-01-11T21:00:00Z', store);
      await second.start([schedule()]);
      await second.advance(2 * HOUR);
      assert.deepEqual(second.runs, []);
      await second.scheduler.setEnabled('nightly-off', true);
      await second.advance(DAY);
      assert.deepEqual(second.runTimes(), ['2026-01-12T22:00:00Z']);
    });

    it('enabling and restarting just after a passed occurrence does not make that one up', async () => {
      const store = new MemoryState(emptySchedulesState());
      const first = new Harness('2026-01-10T21:00:00Z', store);
      await first.start([schedule({ enabled: false })]);
      await first.advance(HOUR + 2 * MINUTE); // 22:02Z: 23:00 Berlin passed while disabled
      await first.scheduler.setEnabled('nightly-off', true);
      await first.scheduler.stop();

      const second = new Harness('2026-01-10T22:04:00Z', store);
      await second.start([schedule({ enabled: false })]);
      assert.equal(second.scheduler.state('nightly-off').enabled, true);
      assert.deepEqual(second.runs, []);
    });

    it('an occurrence missed while down and disabled is not made up after enabling and restarting', async () => {
      const schedules = [schedule({ enabled: false })];
      // Armed long before; down across 23:00 Berlin (22:00Z), back at 22:05Z while disabled.
      const store = await armedAt('2026-01-09T12:00:00Z', schedules);
      const first = new Harness('2026-01-10T22:05:00Z', store);
      await first.start(schedules);
      assert.deepEqual(first.runs, []);
      await first.advance(MINUTE);
      await first.scheduler.setEnabled('nightly-off', true);
      await first.scheduler.stop();

      const second = new Harness('2026-01-10T22:08:00Z', store);
      await second.start(schedules);
      assert.equal(second.scheduler.state('nightly-off').enabled, true);
      assert.deepEqual(second.runs, [], 'the 23:00 it was disabled for is not made up');
    });

    it('an occurrence passed while disabled is not made up after a restart, enabling and a restart', async () => {
      const schedules = [schedule({ enabled: false })];
      const store = await armedAt('2026-01-09T12:00:00Z', schedules);
      const first = new Harness('2026-01-10T21:58:00Z', store);
      await first.start(schedules);
      await first.advance(4 * MINUTE); // 23:00 Berlin passes while disabled
      await first.scheduler.stop();
      const second = new Harness('2026-01-10T22:03:00Z', store);
      await second.start(schedules);
      await second.scheduler.setEnabled('nightly-off', true);
      await second.scheduler.stop();

      const third = new Harness('2026-01-10T22:05:00Z', store);
      await third.start(schedules);
      assert.deepEqual(third.runs, [], 'the 23:00 it was disabled for is not made up');
    });

    it('a flag or run asked before the state file is loaded is refused, the file kept whole', async () => {
      const schedules = [schedule(), schedule({ name: 'morning-on', cron: '0 7 * * *', action: 'on' })];
      const store = await armedAt('2026-01-09T12:00:00Z', schedules);
      const before = new Harness('2026-01-09T13:00:00Z', store);
      await before.start(schedules);
      await before.scheduler.setEnabled('nightly-off', false);
      await before.scheduler.stop();
      const armedAtBefore = store.peek().schedules['morning-on']?.armed_at;

      // The bridge takes commands a moment before its schedules start (and load schedules.json).
      const h = new Harness('2026-01-10T21:00:00Z', store);
      const scheduler = h.create(schedules);
      await assert.rejects(scheduler.setEnabled('morning-on', false), /schedules have not started yet/);
      await assert.rejects(scheduler.runNow('morning-on'), /schedules have not started yet/);
      await scheduler.start();
      await scheduler.idle();
      assert.equal(scheduler.state('nightly-off').enabled, false, 'disabled last week, still disabled');
      assert.equal(store.peek().schedules['nightly-off']?.enabled?.value, false);
      assert.equal(store.peek().schedules['morning-on']?.armed_at, armedAtBefore, 'first arming kept');
      await h.advance(2 * HOUR);
      assert.deepEqual(h.runs, [], 'the disabled nightly-off does not run');
    });

    it('a flag set while the state file loads keeps what the file holds too', async () => {
      const schedules = [schedule(), schedule({ name: 'morning-on', cron: '0 7 * * *', action: 'on' })];
      const memory = await armedAt('2026-01-09T12:00:00Z', schedules);
      const before = new Harness('2026-01-09T13:00:00Z', memory);
      await before.start(schedules);
      await before.scheduler.setEnabled('nightly-off', false);
      await before.scheduler.stop();

      const store = new GatedState(memory);
      const h = new Harness('2026-01-10T21:00:00Z', store);
      const scheduler = h.create(schedules);
      store.hold('load');
      const start = scheduler.start();
      await store.held;
      const set = scheduler.setEnabled('morning-on', false);
      store.release();
      await start;
      await set;
      await scheduler.idle();
      assert.equal(scheduler.state('nightly-off').enabled, false, 'disabled last week, still disabled');
      assert.equal(scheduler.state('morning-on').enabled, false, 'the flag set during the load holds');
      assert.equal(store.peek().schedules['nightly-off']?.enabled?.value, false);
    });

    it('when the config file changes enabled, the file wins over the flag set at run time', async () => {
      const store = new MemoryState(emptySchedulesState());
      const first = new Harness('2026-01-10T21:00:00Z', store);
      await first.start([schedule({ enabled: true })]);
      await first.scheduler.setEnabled('nightly-off', false);
      await first.scheduler.stop();

      const same = new Harness('2026-01-10T21:00:00Z', store);
      await same.start([schedule({ enabled: true })]);
      assert.equal(same.scheduler.state('nightly-off').enabled, false);
      await same.scheduler.stop();

      const edited = new Harness('2026-01-10T21:00:00Z', store);
      await edited.start([schedule({ enabled: false })]);
      assert.equal(edited.scheduler.state('nightly-off').enabled, false);
      await edited.scheduler.setEnabled('nightly-off', true);
      await edited.scheduler.stop();
      const flipped = new Harness('2026-01-10T21:00:00Z', store);
      await flipped.start([schedule({ enabled: true })]);
      assert.equal(flipped.scheduler.state('nightly-off').enabled, true);
      assert.equal(store.peek().schedules['nightly-off']?.enabled, null);
    });
  });

  describe('maintenance', () => {
    it(
      'while paused, an occurrence is not run but recorded as skipped and reported; it is not made up ' + 'later',
      async () => {
        const h = new Harness('2026-01-10T21:00:00Z');
        h.paused = true;
        await h.start([schedule()]);
        await h.advance(HOUR + MINUTE);
        assert.deepEqual(h.runs, []);
        assert.deepEqual(
          h.skips.map((s) => [s.occurrenceKey, s.reason]),
          [['2026-01-10T23:00:00[Europe/Berlin]', 'maintenance is on']],
        );
        assert.equal(h.scheduler.state('nightly-off').last_result, 'skipped');
        assert.ok(h.log.warnings.some((w) => /not run: maintenance is on/.test(w)));
        // Retained as soon as it is published: never the skipped occurrence as the next run.
        const afterSkip = h.published.filter((p) => p.state.last_result === 'skipped').map((p) => p.state.next_run);
        assert.deepEqual(afterSkip, ['2026-01-11T23:00:00+01:00']);

        h.paused = false;
        await h.scheduler.stop();
        const restarted = new Harness('2026-01-10T22:05:00Z', h.store);
        await restarted.start([schedule()]);
        assert.deepEqual(restarted.runs, []);
        await restarted.advance(DAY);
        assert.deepEqual(restarted.runTimes(), ['2026-01-11T22:00:00Z']);
      },
    );

    it('a catch-up at start during maintenance is skipped too', async () => {
      const h = new Harness('2026-01-10T22:05:00Z', await armedAt('2026-01-10T21:00:00Z', [schedule()]));
      h.paused = true;
      await h.start([schedule()]);
      assert.deepEqual(h.runs, []);
      assert.equal(h.skips[0]?.catchUp, true);
      // An enabled schedule is never published with no next run while it is armed.
      assert.deepEqual(
        h.published.filter((p) => p.state.last_result === 'skipped').map((p) => p.state.next_run),
        ['2026-01-11T23:00:00+01:00'],
      );
    });
  });

  describe('plausible clock', () => {
    it('waits while the clock is before the build date, says so once, then arms', async () => {
      const h = new Harness('2020-01-01T00:00:00Z');
      await h.start([schedule()]);
      assert.equal(h.scheduler.state('nightly-off').next_run, null);
      await h.advance(10 * MINUTE);
      assert.equal(h.log.warnings.filter((w) => /before the build date/.test(w)).length, 1);
      assert.equal(h.runs.length, 0);

      h.clock.jump(Date.parse('2026-01-10T21:58:30Z')); // NTP sets the clock
      await h.advance(MINUTE);
      assert.equal(h.scheduler.state('nightly-off').next_run, '2026-01-10T23:00:00+01:00');
      await h.advance(2 * MINUTE);
      assert.deepEqual(h.runTimes(), ['2026-01-10T22:00:00Z']);
      assert.equal(h.runs[0]?.context.catchUp, false);
    });

    it('does not make up occurrences "missed" while the clock was wrong beyond the window', async () => {
      const h = new Harness('2020-01-01T00:00:00Z');
      await h.start([schedule()]);
      h.clock.jump(Date.parse('2026-01-10T23:00:00Z')); // 1 h after 23:00 Berlin
      await h.advance(MINUTE);
      assert.deepEqual(h.runs, []);
    });
  });

  describe('runNow and errors', () => {
    it('runs now on request, even while disabled, as a manual run that is not an occurrence', async () => {
      const h = new Harness('2026-01-10T12:00:00Z');
      await h.start([schedule({ enabled: false })]);
      const outcome = await h.scheduler.runNow('nightly-off');
      assert.deepEqual(outcome, { result: 'ok' });
      assert.deepEqual(h.runs[0]?.context, { occurrenceKey: null, scheduledAt: null, catchUp: false, manual: true });
      assert.equal(h.scheduler.state('nightly-off').last_run, '2026-01-10T13:00:00+01:00');
      await h.scheduler.setEnabled('nightly-off', true);
      await h.advance(11 * HOUR);
      assert.deepEqual(h.runTimes(), ['2026-01-10T12:00:00Z', '2026-01-10T22:00:00Z']);
    });

    it('refuses an unknown schedule and a schedule that is still running, with clear errors', async () => {
      const h = new Harness('2026-01-10T12:00:00Z');
      h.action = () => new Promise(() => undefined);
      await h.start([schedule()]);
      await assert.rejects(h.scheduler.runNow('nope'), (error: unknown) => {
        assert.ok(error instanceof TpmError);
        assert.equal(error.code, 'BAD_COMMAND');
        assert.match(error.message, /unknown schedule "nope" \(known: nightly-off\)/);
        return true;
      });
      void h.scheduler.runNow('nightly-off');
      await assert.rejects(h.scheduler.runNow('nightly-off'), /still running/);
      await assert.rejects(h.scheduler.setEnabled('nope', true), /unknown schedule/);
    });

    it('refuses a bad cron expression and a duplicate name at construction', () => {
      const h = new Harness('2026-01-10T12:00:00Z');
      assert.throws(
        () => h.create([schedule({ cron: '0 25 * * *' })]),
        /schedule "nightly-off": "0 25 \* \* \*" is not a valid cron expression/,
      );
      assert.throws(() => h.create([schedule(), schedule()]), /defined twice/);
    });

    it('starts with defaults when the state file is corrupt, keeping the bad file aside', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'tpm-sched-'));
      try {
        await writeFile(join(dir, 'schedules.json'), '{"version": 1, "schedules": {"nightly-off": {"done": [');
        const h = new Harness('2026-01-10T21:00:00Z', schedulesStateFile(dir, recordingLogger().logger));
        await h.start([schedule()]);
        assert.equal(h.scheduler.state('nightly-off').enabled, true);
        const files = await readdir(dir);
        assert.ok(files.some((f) => f.startsWith('schedules.json.corrupt-')));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
