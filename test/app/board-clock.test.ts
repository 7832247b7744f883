import assert from 'node:assert/strict';
import { BoardClock } from '../../src/app/board-clock.js';
import { RtcMonitor } from '../../src/app/rtc-monitor.js';
import { BUILD_DATE } from '../../src/app/version.js';
import type { MqttConnection } from '../../src/mqtt/connection.js';
import type { Topics } from '../../src/mqtt/topics.js';
import { createSimulatedTpi1 } from '../../src/board/simulator/tpi1.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { driverFor, settle } from '../board/tpi1/helpers.js';
import { captureLogger } from '../support/log-capture.js';

interface Published {
  topic: string;
  payload: string;
}

function boardClockOn(clock: FakeClock, rtc: RtcMonitor) {
  const published: Published[] = [];
  const connection = {
    publishState: async (topic: string, payload: string) => {
      published.push({ topic, payload });
      return true;
    },
  } as unknown as MqttConnection;
  const topics = { rtc: 'tp/rtc', rtcSet: 'tp/rtc/set' } as unknown as Topics;
  const log = captureLogger('info');
  const boardClock = new BoardClock({ rtc, connection, topics, clock, event: () => undefined, logger: log.logger });
  return { boardClock, published, log };
}

describe('BoardClock', () => {
  it('keeps reading the clock once a minute after the system clock stepped back', async () => {
    const clock = new FakeClock(Date.UTC(2031, 5, 1, 12, 0, 0, 0)); // a system clock set years ahead
    const sim = createSimulatedTpi1({ clock, startTime: Date.UTC(2026, 11, 7, 12, 0, 0) });
    const driver = driverFor(sim, clock);
    const { boardClock, published } = boardClockOn(clock, new RtcMonitor(driver, clock));
    await boardClock.poll();
    assert.equal(published.length, 1);
    clock.jump(Date.UTC(2026, 11, 7, 12, 0, 0, 0)); // network time puts it right
    await clock.advance(61_000);
    await boardClock.poll();
    assert.equal(published.length, 2, 'the clock was read again a minute after the step');
    assert.equal(JSON.parse(published[1]?.payload ?? '{}').drift, -61);
  });

  it('publishes the flags of a clock that lost its date (no time, no drift), says why in the log once', async () => {
    const clock = new FakeClock(Date.UTC(2026, 11, 7, 12, 0, 0, 0));
    const sim = createSimulatedTpi1({ clock, rtc: { batteryBackup: false } });
    const driver = driverFor(sim, clock);
    const { boardClock, published, log } = boardClockOn(clock, new RtcMonitor(driver, clock));
    await boardClock.poll();
    assert.equal(JSON.parse(published[0]?.payload ?? '{}').oscillator_running, true);
    sim.rtc.mainPowerFailure(); // no battery: the chip starts over, its oscillator stopped
    for (let i = 0; i < 3; i++) {
      await clock.advance(61_000);
      await boardClock.poll(); // resolves: a clock without a date is no failure of the board's poll
    }
    assert.equal(published.length, 2, 'the problem was published once');
    assert.deepEqual(JSON.parse(published[1]?.payload ?? '{}'), {
      time: null,
      drift: null,
      oscillator_running: false,
      battery_backup: false,
      power_failed: false,
    });
    const warnings = log.messages(40).filter((m) => /no valid date/.test(m));
    assert.equal(warnings.length, 1, log.messages(40).join('\n'));
  });

  it('logs a failing read of the clock once while it repeats, and does not fail the poll', async () => {
    const clock = new FakeClock(Date.UTC(2026, 11, 7, 12, 0, 0, 0));
    const sim = createSimulatedTpi1({ clock });
    const driver = driverFor(sim, clock);
    const { boardClock, published, log } = boardClockOn(clock, new RtcMonitor(driver, clock));
    sim.faults.failAlways({ address: 0x6f });
    for (let i = 0; i < 3; i++) {
      await settle(clock, boardClock.poll()); // resolves: the retries on the bus gave up
      await clock.advance(61_000);
    }
    assert.equal(published.length, 0);
    assert.equal(log.messages(40).filter((m) => /board's clock/.test(m)).length, 1, log.messages(40).join('\n'));
  });
});

describe('RTC sync while the system clock is not plausible', () => {
  for (const [what, now] of [
    ['1970 (a board that booted without network time)', Date.UTC(1970, 0, 1, 0, 2, 0)],
    ['a year before this version was built', BUILD_DATE - 365 * 86_400_000],
  ] as const) {
    it(`writes nothing to the board's clock when the system clock reads ${what}`, async () => {
      const clock = new FakeClock(now);
      const rtcTime = Date.UTC(2026, 11, 7, 12, 0, 0);
      const sim = createSimulatedTpi1({ clock, startTime: rtcTime });
      const driver = driverFor(sim, clock);
      const { boardClock } = boardClockOn(clock, new RtcMonitor(driver, clock));
      await assert.rejects(settle(clock, boardClock.sync({ source: 'mqtt' })), /system clock.*not plausible/);
      const held = sim.rtc.time()?.getTime() ?? 0;
      assert.ok(
        Math.abs(held - rtcTime) < 10_000,
        `the board's clock keeps its time, not ${new Date(held).toISOString()}`,
      );
      assert.ok(sim.rtc.oscillatorRunning, 'and keeps running');
    });
  }

  it('runs no hwclock --systohc either when the kernel owns the clock', async () => {
    const clock = new FakeClock(Date.UTC(1970, 0, 1, 0, 2, 0));
    const sim = createSimulatedTpi1({ clock, startTime: Date.UTC(2026, 11, 7, 12, 0, 0) });
    const runs: (readonly string[])[] = [];
    const driver = driverFor(sim, clock, {
      rtcOwnedByKernel: async () => true,
      runHwclock: async (argv) => {
        runs.push(argv);
      },
    });
    const { boardClock } = boardClockOn(clock, new RtcMonitor(driver, clock));
    await assert.rejects(settle(clock, boardClock.sync({ source: 'mqtt' })), /not plausible/);
    assert.deepEqual(runs, []);
  });
});
