import assert from 'node:assert/strict';
import { RtcMonitor, rtcDrift } from '../../src/app/rtc-monitor.js';
import type { BoardDriver, RtcReading } from '../../src/board/types.js';
import { FakeClock } from '../../src/util/fake-clock.js';

/** A board clock `offsetMs` ahead of the system clock that counts whole seconds, like the MCP7940N. */
function boardWithClock(clock: FakeClock, offsetMs: () => number): BoardDriver {
  const readRtc = async (): Promise<RtcReading> => ({
    time: new Date(Math.floor((clock.now() + offsetMs()) / 1000) * 1000),
    oscillatorRunning: true,
    batteryBackup: true,
    powerFailed: false,
  });
  return { readRtc } as unknown as BoardDriver;
}

describe('RtcMonitor', () => {
  it('reports a clock in step with the system as drift 0, whatever moment of the second it is read at', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 0, 0));
    const monitor = new RtcMonitor(boardWithClock(clock, () => 0), clock);
    const first = await monitor.poll();
    assert.equal(first?.drift, 0);
    for (const step of [250, 300, 170, 480, 90, 610, 999, 1]) {
      await clock.advance(step);
      assert.equal(await monitor.poll(), undefined, `published again ${clock.now() % 1000} ms into a second`);
    }
  });

  it('does not flip between two values when the board clock is half a second off', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 0, 0));
    const monitor = new RtcMonitor(boardWithClock(clock, () => -500), clock);
    const published = [await monitor.poll()];
    for (let i = 0; i < 40; i++) {
      await clock.advance(137);
      published.push(await monitor.poll());
    }
    assert.equal(published.filter((p) => p !== undefined).length, 1);
  });

  it('publishes when the drift really changes, with the flags and an ISO time with offset', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 0, 300));
    let offset = 0;
    const monitor = new RtcMonitor(boardWithClock(clock, () => offset), clock);
    assert.equal((await monitor.poll())?.drift, 0);
    offset = 3000;
    const later = await monitor.poll();
    assert.equal(later?.drift, 3);
    assert.match(later?.time ?? '', /^2026-01-01T\d\d:00:03[+-]\d\d:\d\d$/);
    offset = -7000;
    assert.equal((await monitor.poll())?.drift, -7);
  });

  it('estimates the drift from whole seconds without a -0', () => {
    assert.ok(Object.is(rtcDrift(1000, 1400), 0));
    assert.equal(rtcDrift(5000, 1300), 4);
    assert.equal(rtcDrift(5000, 1300, 4), 4);
    assert.equal(rtcDrift(7000, 1300, 4), 6);
  });
});
