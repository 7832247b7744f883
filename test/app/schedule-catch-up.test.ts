import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FakeClock } from '../../src/util/fake-clock.js';
import { BASE, bridgeFixture, createCountedTpi1, delay, poweredNodes, until } from './helpers.js';

/**
 * schedules.catch_up through the bridge: a run missed while the bridge was down is made up,
 * but never an occurrence from before the schedule was first armed (a schedule added at 05:12
 * for 05:10 must not switch its node off at the bridge's start).
 */
describe('bridge: schedule catch-up never makes up an occurrence from before the schedule existed', function () {
  this.timeout(20_000);
  const env = bridgeFixture('test');

  const earlyOff = { name: 'early-off', cron: '10 05 * * *', timezone: 'UTC', action: 'off', nodes: [4] };
  const sections = { schedules: [earlyOff] };

  const scheduleRecord = (stateDir: string): Record<string, unknown> | undefined => {
    const text = readFileSync(path.join(stateDir, 'schedules.json'), 'utf8');
    const file = JSON.parse(text) as { schedules: Record<string, Record<string, unknown>> };
    return file.schedules['early-off'];
  };

  it(
    'added at 05:12 for 05:10: nothing at start; down across 05:10 the next day: made up within ' + 'catch_up',
    async () => {
      const clock = new FakeClock(Date.parse('2027-03-10T05:12:00Z'));
      const board = createCountedTpi1(clock);

      const mark = env.rec.mark();
      await env.start({ clock, bus: board.countingBus, sections });
      const armed = (m: { payload: string }): boolean =>
        (JSON.parse(m.payload) as { next_run: string | null }).next_run !== null;
      await env.rec.waitFor(`${BASE}/schedule/early-off`, armed, 5000, mark);
      await delay(200);
      assert.deepEqual(poweredNodes(board), [1, 2, 3, 4, 5, 6, 7], 'node 4 was not switched off at the start');
      assert.deepEqual(board.changes, [], 'no power change at all');
      assert.deepEqual(
        env.rec.events(mark).filter((e) => e.type === 'schedule'),
        [],
        'no schedule event: nothing run, nothing reported',
      );
      const published = env.rec.last(`${BASE}/schedule/early-off`)!.payload;
      const state = JSON.parse(published) as { last_run: string | null; last_result: string | null };
      assert.equal(state.last_run, null, 'no last_run for a run that never happened');
      assert.equal(state.last_result, null);
      assert.equal(
        scheduleRecord(env.stateDir)?.armed_at,
        Date.parse('2027-03-10T05:12:00Z'),
        'when it was first armed is kept in state_dir',
      );

      // The bridge goes down at 05:00 the next day and is back at 05:20: 05:10 was missed.
      clock.jump(Date.parse('2027-03-11T05:00:00Z'));
      await env.stop();
      clock.jump(Date.parse('2027-03-11T05:20:00Z'));
      const again = env.rec.mark();
      await env.start({ clock, bus: board.countingBus, sections });
      await until(() => !board.ds4520.nodePowered(4), 'node 4 switched off by the catch-up');
      const made = await env.rec.waitForEvent((e) => e.type === 'schedule' && e.result === 'progress', 5000, again);
      assert.match(made.message ?? '', /catch-up of 2027-03-11T05:10:00\[UTC\]/);
      assert.deepEqual(board.changes, [{ node: 4, on: false }]);
    },
  );

  it(
    'a changed cron counts as a new schedule: the occurrence of the new cron before the change is not made ' + 'up',
    async () => {
      const clock = new FakeClock(Date.parse('2027-03-10T04:00:00Z'));
      const board = createCountedTpi1(clock);
      await env.start({
        clock,
        bus: board.countingBus,
        sections: { schedules: [{ ...earlyOff, cron: '30 06 * * *' }] },
      });
      await env.stop();

      // Edited to 05:10 and restarted at 05:12: 05:10 is before the schedule (as it is now) was armed.
      clock.jump(Date.parse('2027-03-10T05:12:00Z'));
      const mark = env.rec.mark();
      await env.start({ clock, bus: board.countingBus, sections });
      const edited = (m: { payload: string }): boolean =>
        (JSON.parse(m.payload) as { cron: string }).cron === '10 05 * * *';
      await env.rec.waitFor(`${BASE}/schedule/early-off`, edited, 5000, mark);
      await delay(200);
      assert.deepEqual(board.changes, [], 'node 4 was not switched off');
      assert.equal(scheduleRecord(env.stateDir)?.armed_at, Date.parse('2027-03-10T05:12:00Z'));
    },
  );
});
