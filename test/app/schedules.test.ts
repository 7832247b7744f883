import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FakeClock } from '../../src/util/fake-clock.js';
import { BASE, bridgeFixture, createCountedTpi1, delay, until } from './helpers.js';

/**
 * A stop while a schedule's run is under way: the run ends with the power service's stop and
 * then records its result in state_dir. The stop must wait for that record: a service manager
 * ends the process once the stop is done, and a write still under way is lost (or lands in a
 * folder being removed).
 */
describe('bridge stop: a schedule run under way', function () {
  this.timeout(20_000);
  const env = bridgeFixture('test');

  it('is recorded in schedules.json before the stop resolves, and nothing is written after it', async () => {
    const clock = new FakeClock(Date.parse('2027-03-10T04:00:00Z'));
    const board = createCountedTpi1(clock);
    const schedule = { name: 'lab-off', cron: '0 23 * * *', timezone: 'UTC', action: 'off', nodes: [4] };
    await env.start({ clock, bus: board.countingBus, sections: { schedules: [schedule] } });
    // The power write waits on the bus (real time): the run is under way when the stop begins.
    board.faults.setLatency(300, { timers: 'real', match: { operation: 'write' } });
    board.faults.resetCounters();
    await env.rec.publish(`${BASE}/schedule/lab-off/set`, 'RUN');
    await until(() => board.faults.counters.writes > 0, "the run's power write reached the bus");
    const file = path.join(env.stateDir, 'schedules.json');
    const record = (): Record<string, unknown> | undefined =>
      (JSON.parse(readFileSync(file, 'utf8')) as { schedules: Record<string, Record<string, unknown>> }).schedules[
        'lab-off'
      ];
    await env.stop();
    const atStop = readFileSync(file, 'utf8');
    assert.ok(record()?.last_result, `no result recorded when the stop resolved: ${JSON.stringify(record())}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(readFileSync(file, 'utf8'), atStop, 'schedules.json was written after the stop');
  });
});

/**
 * A schedule taken out of the config: its retained `schedule/<name>` must go with it (a newcomer
 * found the state of a removed schedule on the broker for good; only its Home Assistant switch went).
 */
describe('bridge restart: a schedule removed from the config', function () {
  this.timeout(20_000);
  const env = bridgeFixture('test', { filters: [`${BASE}/schedule/#`, `${BASE}/bridge/state`] });

  it('clears its retained state, and that of every schedule when none is left', async () => {
    const clock = new FakeClock(Date.parse('2027-03-10T04:00:00Z'));
    const board = createCountedTpi1(clock);
    const schedule = (name: string) => ({ name, cron: '0 23 * * *', timezone: 'UTC', action: 'off', nodes: [4] });
    await env.start({ clock, bus: board.countingBus, sections: { schedules: [schedule('a'), schedule('b')] } });
    await env.rec.waitFor(`${BASE}/schedule/b`);
    await env.stop();

    let mark = env.rec.mark();
    await env.start({ clock, bus: board.countingBus, sections: { schedules: [schedule('a')] } });
    await env.rec.waitForPayload(`${BASE}/schedule/b`, '', 5000, mark);
    await env.rec.waitFor(`${BASE}/schedule/a`, (m) => m.payload !== '', 5000, mark);
    const kept = env.rec.since(mark, `${BASE}/schedule/a`);
    assert.ok(kept.length > 0 && kept.every((m) => m.payload !== ''), 'a kept its state');
    await env.stop();

    mark = env.rec.mark();
    await env.start({ clock, bus: board.countingBus, sections: {} });
    await env.rec.waitForPayload(`${BASE}/schedule/a`, '', 5000, mark);
    await env.stop();
    // Once cleared, a later start says nothing more of them.
    mark = env.rec.mark();
    await env.start({ clock, bus: board.countingBus, sections: {} });
    await env.rec.waitForPayload(`${BASE}/bridge/state`, 'online', 5000, mark);
    await delay(200);
    assert.deepEqual(env.rec.since(mark, `${BASE}/schedule/#`), []);
  });
});
