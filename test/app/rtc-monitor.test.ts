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
    const monitor = new RtcMonitor(
      boardWithClock(clock, () => 0),
      clock,
    );
    const first = await monitor.poll();
    assert.equal(first?.drift, 0);
    for (const step of [250, 300, 170, 480, 90, 610, 999, 1]) {
      await clock.advance(step);
      assert.equal(await monitor.poll(), undefined, `published again ${clock.now() % 1000} ms into a second`);
    }
  });

  it('does not flip between two values when the board clock is half a second off', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 0, 0));
    const monitor = new RtcMonitor(
      boardWithClock(clock, () => -500),
      clock,
    );
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
    const monitor = new RtcMonitor(
      boardWithClock(clock, () => offset),
      clock,
    );
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

  it('a steady clock: at most one correction after the first reading, never a flip back and forth', () => {
    for (let trueDriftMs = -2000; trueDriftMs <= 2000; trueDriftMs += 50) {
      for (const startPhaseMs of [0, 250, 500, 999]) {
        const published: number[] = [];
        let previous: number | undefined;
        // Readings 137 ms apart walk through every phase of the chip's second, many times.
        for (let i = 0; i < 200; i++) {
          const system = Date.UTC(2026, 0, 1, 12) + startPhaseMs + i * 137;
          const chipShows = Math.floor((system + trueDriftMs) / 1000) * 1000; // whole seconds only
          // One reading alone says floor(rtc) - floor(system), which flips with the phase.
          assert.equal(rtcDrift(chipShows, system), Math.floor(chipShows / 1000) - Math.floor(system / 1000));
          const next = rtcDrift(chipShows, system, previous);
          if (next !== previous) published.push(next);
          previous = next;
        }
        const what =
          `true drift ${trueDriftMs} ms, first reading at ${startPhaseMs} ms: published ` + `${published.join(', ')}`;
        assert.ok(published.length <= 2, what);
        assert.ok(Math.abs((published.at(-1) ?? NaN) * 1000 - trueDriftMs) <= 1000, what);
      }
    }
  });

  it('follows a clock that really drifts, one step per second of drift', () => {
    let previous: number | undefined;
    const published: number[] = [];
    for (let i = 0; i <= 40; i++) {
      const system = Date.UTC(2026, 0, 1, 12) + i * 60_000; // one reading a minute
      const trueDriftMs = 200 + i * 100; // gains 100 ms a minute
      const next = rtcDrift(Math.floor((system + trueDriftMs) / 1000) * 1000, system, previous);
      if (next !== previous) published.push(next);
      previous = next;
      assert.ok(Math.abs(next * 1000 - trueDriftMs) < 1500, `minute ${i}: ${next} s for ${trueDriftMs} ms`);
    }
    assert.deepEqual(published, [0, 1, 2, 3, 4], 'each whole second of drift is published once');
  });
});
