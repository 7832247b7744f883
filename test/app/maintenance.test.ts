import assert from 'node:assert/strict';
import { FakeClock } from '../../src/util/fake-clock.js';
import { Recorder } from '../support/recorder.js';
import { advanceUntil, BASE, bridgeFixture, createCountedTpi1, delay, readBridgeState } from './helpers.js';

/**
 * `bridge/maintenance` (docs/topics.md): ON pauses schedules and policies, is kept in
 * state_dir across restarts, and an occurrence that falls in it is reported, not run.
 */
describe('bridge: maintenance mode', function () {
  this.timeout(20_000);
  const env = bridgeFixture('test');

  it('is retained ON, survives a restart, and skips a schedule occurrence with an event saying so', async () => {
    // 11:58 UTC, two minutes before the schedule's noon occurrence (and after the build date).
    const clock = new FakeClock(Date.UTC(2027, 0, 4, 11, 58, 0));
    const board = createCountedTpi1(clock);
    const stateDir = env.stateDir;
    const sections = {
      schedules: [{ name: 'noon-off', cron: '0 12 * * *', timezone: 'UTC', action: 'off', nodes: [5] }],
    };

    await env.start({ clock, bus: board.countingBus, sections });
    await env.rec.waitForPayload(`${BASE}/bridge/maintenance`, 'OFF');
    const onMark = env.rec.mark();
    await env.rec.publish(`${BASE}/bridge/maintenance/set`, 'ON');
    await env.rec.waitForPayload(`${BASE}/bridge/maintenance`, 'ON', 5000, onMark);
    await env.rec.waitForEvent((e) => e.type === 'maintenance' && e.result === 'ok', 5000, onMark);
    assert.equal(readBridgeState(stateDir).maintenance, true, 'maintenance ON is saved in bridge.json');

    // Retained: a client connecting now (Home Assistant after a restart) reads ON.
    const late = await Recorder.connect(env.broker.url, BASE, { filters: [`${BASE}/bridge/maintenance`] });
    try {
      const retained = await late.waitFor(`${BASE}/bridge/maintenance`);
      assert.equal(retained.payload, 'ON');
      assert.equal(retained.retain, true, 'bridge/maintenance is retained');
    } finally {
      await late.close();
    }

    await env.stop();
    const restartMark = env.rec.mark();
    await env.start({ clock, bus: board.countingBus, sections });
    await env.rec.waitForPayload(`${BASE}/bridge/maintenance`, 'ON', 5000, restartMark);
    assert.equal(env.run.bridge.maintenance, true, 'the restarted bridge is in maintenance');
    assert.equal(
      env.rec.since(restartMark, `${BASE}/bridge/maintenance`).some((m) => m.payload === 'OFF'),
      false,
      'never says OFF on the way',
    );

    // Noon passes while in maintenance.
    const noonMark = env.rec.mark();
    const writes = board.powerWrites();
    await advanceUntil(
      clock,
      () => env.rec.events(noonMark).some((e) => e.type === 'schedule' && e.result === 'error'),
      'the skipped occurrence event',
      30_000,
      10 * 60_000,
    );
    const skipped = env.rec.events(noonMark).find((e) => e.type === 'schedule' && e.result === 'error');
    assert.match(skipped?.error ?? '', /noon-off/);
    assert.match(skipped?.error ?? '', /maintenance/);
    assert.equal(board.ds4520.nodePowered(5), true, 'node 5 stays on');
    assert.equal(board.powerWrites(), writes, 'no power write for the skipped occurrence');
    assert.equal(
      env.rec.events(noonMark).some((e) => e.type === 'power'),
      false,
      'no power action at all',
    );
    const state = await env.rec.waitFor(
      `${BASE}/schedule/noon-off`,
      (m) => JSON.parse(m.payload).last_result === 'skipped',
      5000,
      noonMark,
    );
    assert.ok(state, 'schedule/noon-off says the run was skipped');

    // The same schedule does run once maintenance is OFF: the skip was maintenance's doing.
    await env.rec.publish(`${BASE}/bridge/maintenance/set`, 'OFF');
    await env.rec.waitForPayload(`${BASE}/bridge/maintenance`, 'OFF', 5000, noonMark);
    clock.jump(Date.UTC(2027, 0, 5, 11, 59, 0));
    const nextMark = env.rec.mark();
    await advanceUntil(
      clock,
      () => !board.ds4520.nodePowered(5),
      'node 5 switched off by the next occurrence',
      30_000,
      10 * 60_000,
    );
    await env.rec.waitForEvent((e) => e.type === 'schedule' && e.result === 'ok', 5000, nextMark);
    await delay(50);
    assert.equal(
      env.rec.events(nextMark).some((e) => e.type === 'schedule' && e.result === 'error'),
      false,
      'nothing skipped this time',
    );
  });
});
