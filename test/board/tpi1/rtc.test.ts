import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeClock } from '../../../src/util/fake-clock.js';
import { TpmError } from '../../../src/util/errors.js';
import { createSimulatedTpi1, type SimulatedTpi1 } from '../../../src/board/simulator/tpi1.js';
import { kernelOwnsRtc } from '../../../src/board/tpi1/kernel-rtc.js';
import { decodeRtcReading, encodeRtcRegisters, weekdayFor } from '../../../src/board/tpi1/rtc.js';
import { rtcDrift } from '../../../src/app/rtc-monitor.js';
import { driverFor, recordTransactions, settle } from './helpers.js';

describe('RTC register decoding (MCP7940N)', () => {
  it('decodes 24-hour BCD with every flag bit set around the values', () => {
    // 2024-02-29 23:59:58 with ST, OSCRUN, VBATEN, PWRFAIL and LPYR set.
    const reading = decodeRtcReading([0x80 | 0x58, 0x59, 0x23, 0x20 | 0x10 | 0x08 | 0x05, 0x29, 0x20 | 0x02, 0x24]);
    assert.equal(reading.time?.toISOString(), '2024-02-29T23:59:58.000Z');
    assert.equal(reading.oscillatorRunning, true);
    assert.equal(reading.powerFailed, true);
    assert.equal(reading.batteryBackup, true);
  });

  it('decodes 12-hour mode: 11 PM is 23h, 12 AM is midnight, 12 PM is noon', () => {
    const at = (hourRegister: number) =>
      decodeRtcReading([0x00, 0x30, hourRegister, 0x01, 0x15, 0x06, 0x26]).time?.toISOString();
    assert.equal(at(0x40 | 0x20 | 0x11), '2026-06-15T23:30:00.000Z');
    assert.equal(at(0x40 | 0x12), '2026-06-15T00:30:00.000Z');
    assert.equal(at(0x40 | 0x20 | 0x12), '2026-06-15T12:30:00.000Z');
    assert.equal(at(0x40 | 0x09), '2026-06-15T09:30:00.000Z');
  });

  it('reports the flags separately and clear', () => {
    const reading = decodeRtcReading([0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00]);
    assert.equal(reading.time?.toISOString(), '2000-01-01T00:00:00.000Z');
    assert.deepEqual([reading.oscillatorRunning, reading.batteryBackup, reading.powerFailed], [false, false, false]);
  });

  it('reads registers that hold no date (a chip after power-on reset) as no time, with the bytes and the flags', () => {
    const reset = decodeRtcReading([0, 0, 0, 0, 0, 0, 0]);
    assert.equal(reset.time, null);
    assert.match(reset.problem ?? '', /no valid date.*0x00 0x00/);
    assert.deepEqual([reset.oscillatorRunning, reset.batteryBackup, reset.powerFailed], [false, false, false]);
    const garbage = decodeRtcReading([0x80 | 0x5a, 0x00, 0x00, 0x20 | 0x08 | 0x01, 0x01, 0x01, 0x26]); // 0x5a: not BCD
    assert.equal(garbage.time, null);
    assert.deepEqual([garbage.oscillatorRunning, garbage.batteryBackup], [true, true]);
    assert.equal(decodeRtcReading([0x00, 0x00, 0x00, 0x01, 0x30, 0x02, 0x26]).time, null); // 30 February
    assert.equal(decodeRtcReading([0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0xa0]).time, null); // year 0xa0: not BCD
  });

  it('encodes 24-hour registers with VBATEN, PWRFAIL as given and ST as asked', () => {
    const time = new Date('2026-03-07T21:05:09Z');
    assert.deepEqual(encodeRtcRegisters(time, { start: false, weekday: 7, batteryBackup: true, powerFailed: true }), [
      0x09,
      0x05,
      0x21,
      0x08 | 0x10 | 0x07,
      0x07,
      0x03,
      0x26,
    ]);
    assert.equal(
      encodeRtcRegisters(time, { start: true, weekday: 7, batteryBackup: true, powerFailed: false })[0],
      0x89,
    );
  });

  it('keeps the weekday convention of the chip when the date moves', () => {
    // 2026-01-01 is a Thursday: 4 in a Monday = 1 convention, 5 in Linux's Sunday = 1.
    const previous = { year: 2026, month: 1, day: 1, hour: 0, minute: 0, second: 0, weekday: 4 };
    assert.equal(weekdayFor(new Date('2026-01-03T10:00:00Z'), previous), 6);
    assert.equal(weekdayFor(new Date('2025-12-29T10:00:00Z'), previous), 1);
    assert.equal(weekdayFor(new Date('2026-01-03T10:00:00Z'), null), 7); // Saturday, Sunday = 1
  });

  it('computes the drift in whole seconds, RTC minus system', () => {
    const reading = Date.parse('2026-01-01T10:00:05Z');
    assert.equal(rtcDrift(reading, Date.parse('2026-01-01T10:00:03.900Z')), 2);
    assert.equal(rtcDrift(reading, Date.parse('2026-01-01T10:00:05.999Z')), 0);
    assert.equal(rtcDrift(reading, Date.parse('2026-01-01T10:01:00Z')), -55);
  });
});

describe('Tpi1Driver: the clock', () => {
  let clock: FakeClock;
  let sim: SimulatedTpi1;

  beforeEach(() => {
    clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 0, 400));
  });

  it('reads the clock in one block read and follows it as it ticks, also in 12-hour mode', async () => {
    sim = createSimulatedTpi1({ clock, startTime: Date.parse('2024-02-29T23:59:58Z'), rtc: { hour12: true } });
    const driver = driverFor(sim, clock);
    const records = recordTransactions(sim);
    const first = await driver.readRtc();
    assert.equal(first.time?.toISOString(), '2024-02-29T23:59:58.000Z');
    assert.equal(first.oscillatorRunning, true);
    assert.equal(first.batteryBackup, true);
    assert.equal(first.powerFailed, false);
    assert.deepEqual(
      records.map((r) => [r.operation, r.address, r.register, r.bytes.length]),
      [['read', 0x6f, 0x00, 7]],
    );
    await clock.advance(3000);
    assert.equal((await driver.readRtc()).time?.toISOString(), '2024-03-01T00:00:01.000Z');
  });

  it(
    'sets the clock: clears ST, waits for OSCRUN = 0, writes 24-hour registers with VBATEN, then sets ' + 'ST',
    async () => {
      sim = createSimulatedTpi1({
        clock,
        startTime: Date.parse('2025-05-05T05:05:05Z'),
        rtc: { hour12: true, batteryBackup: false, oscillatorStopMs: 5 },
      });
      const driver = driverFor(sim, clock);
      const records = recordTransactions(sim);
      await settle(clock, driver.writeRtc(new Date(clock.now())));

      const rtc = records.filter((r) => r.address === 0x6f);
      const writes = rtc.filter((r) => r.operation === 'write');
      assert.equal(writes.length, 3);
      const [stop, block, start] = writes;
      assert.deepEqual([stop?.register, (stop?.bytes[0] ?? 0) & 0x80], [0x00, 0], 'first ST is cleared');
      assert.equal(stop?.bytes[0], 0x05, 'and nothing else: the seconds as read (05) stay');
      // Between stop and block: RTCWKDAY polled until OSCRUN read 0.
      const between = rtc.slice(rtc.indexOf(stop!) + 1, rtc.indexOf(block!));
      const polls = between.filter((r) => r.operation === 'read' && r.register === 0x03);
      assert.ok(polls.length >= 2, 'OSCRUN was polled while the oscillator stopped');
      assert.equal((polls.at(-1)?.bytes[0] ?? 0xff) & 0x20, 0, 'the registers were written only after OSCRUN = 0');
      assert.equal(block?.register, 0x00);
      assert.equal(block?.bytes.length, 7);
      assert.equal((block?.bytes[0] ?? 0) & 0x80, 0, 'registers are written with ST clear');
      assert.equal((block?.bytes[2] ?? 0) & 0x40, 0, '24-hour mode');
      assert.equal((block?.bytes[3] ?? 0) & 0x08, 0x08, 'VBATEN set');
      assert.deepEqual([start?.register, (start?.bytes[0] ?? 0) & 0x80], [0x00, 0x80], 'ST set last');

      // The next whole second was written and the clock started as that second began.
      const reading = await driver.readRtc();
      assert.equal(reading.time?.toISOString(), '2026-01-01T12:00:01.000Z');
      assert.equal(reading.oscillatorRunning, true);
      assert.equal(reading.batteryBackup, true);
      for (const step of [300, 500, 1000, 2000]) {
        await clock.advance(step);
        assert.equal(
          rtcDrift((await driver.readRtc()).time?.getTime() ?? Number.NaN, clock.now()),
          0,
          `in step ${step} ms later`,
        );
      }
    },
  );

  it('keeps PWRFAIL set when it sets the clock (clearing it would also wipe the time stamps)', async () => {
    sim = createSimulatedTpi1({ clock });
    sim.rtc.mainPowerFailure();
    const driver = driverFor(sim, clock);
    await settle(clock, driver.writeRtc(new Date('2026-01-01T13:00:00Z')));
    const reading = await driver.readRtc();
    assert.equal(reading.powerFailed, true);
    assert.equal(reading.time?.toISOString(), '2026-01-01T13:00:00.000Z');
  });

  it('keeps the weekday convention the chip was set in', async () => {
    sim = createSimulatedTpi1({ clock, startTime: Date.parse('2026-01-01T12:00:00Z') });
    await sim.bus.writeByte(0x6f, 0x03, 0x08 | 4); // Thursday = 4 (Monday = 1), VBATEN
    const driver = driverFor(sim, clock);
    await settle(clock, driver.writeRtc(new Date('2026-01-03T08:00:00Z'))); // a Saturday
    assert.equal((await sim.bus.readByte(0x6f, 0x03)) & 0x07, 6);
  });

  it('reads a clock that holds no valid date as no time with its flags, then sets it (lost battery)', async () => {
    sim = createSimulatedTpi1({ clock, startTime: null });
    const driver = driverFor(sim, clock);
    const lost = await driver.readRtc();
    assert.equal(lost.time, null);
    assert.match(lost.problem ?? '', /no valid date/);
    assert.deepEqual([lost.oscillatorRunning, lost.batteryBackup, lost.powerFailed], [false, false, false]);
    await settle(clock, driver.writeRtc(new Date('2026-01-01T12:30:00Z')));
    const reading = await driver.readRtc();
    assert.equal(reading.time?.toISOString(), '2026-01-01T12:30:00.000Z');
    assert.equal(reading.oscillatorRunning, true);
  });

  it('reads once more when the time does not decode: a glitch is not taken for a clock without a date', async () => {
    sim = createSimulatedTpi1({ clock, startTime: Date.parse('2025-05-05T05:05:05Z') });
    sim.faults.glitchReads(0xee, { address: 0x6f, register: 0x04 });
    const driver = driverFor(sim, clock);
    assert.equal((await driver.readRtc()).time?.toISOString(), '2025-05-05T05:05:05.000Z');
  });

  it('gives up with TIMEOUT and restarts the oscillator when OSCRUN does not clear', async () => {
    sim = createSimulatedTpi1({
      clock,
      startTime: Date.parse('2025-05-05T05:05:05Z'),
      rtc: { oscillatorStopMs: 60_000 },
    });
    const driver = driverFor(sim, clock);
    await assert.rejects(settle(clock, driver.writeRtc(new Date('2026-01-01T00:00:00Z'))), (error: unknown) => {
      assert.ok(error instanceof TpmError && error.code === 'TIMEOUT');
      assert.match(error.message, /did not stop within 100 ms/);
      return true;
    });
    const registers = sim.rtc.timeRegisters();
    assert.equal((registers[0] ?? 0) & 0x80, 0x80, 'ST is set again');
    assert.equal(sim.rtc.time()?.getUTCFullYear(), 2025, 'the time was not changed');
  });

  it('refuses a time outside 2000-2099 before it stops the oscillator (a 1970 system clock)', async () => {
    sim = createSimulatedTpi1({ clock, startTime: Date.parse('2025-05-05T05:05:05Z') });
    const driver = driverFor(sim, clock);
    const records = recordTransactions(sim);
    for (const time of [new Date(0), new Date('2100-01-01T00:00:00Z')]) {
      await assert.rejects(settle(clock, driver.writeRtc(time)), (error: unknown) => {
        assert.ok(error instanceof TpmError && error.code === 'USAGE');
        assert.match(error.message, /years 2000-2099/);
        return true;
      });
    }
    assert.deepEqual(
      records.filter((r) => r.operation === 'write'),
      [],
      'nothing written: ST was never cleared',
    );
    const before = sim.rtc.time()?.getTime() ?? 0;
    await clock.advance(3000);
    assert.equal((sim.rtc.time()?.getTime() ?? 0) - before, 3000, 'the clock still ticks');
  });

  it('fails with VERIFY when the registers do not take', async () => {
    sim = createSimulatedTpi1({ clock, startTime: Date.parse('2025-05-05T05:05:05Z') });
    sim.faults.dropWrites({ address: 0x6f, register: 0x04 });
    const driver = driverFor(sim, clock);
    await assert.rejects(settle(clock, driver.writeRtc(new Date('2026-01-01T00:00:00Z'))), (error: unknown) => {
      assert.ok(error instanceof TpmError && error.code === 'VERIFY');
      assert.match(error.message, /wrote 2026-01-01T00:00:00.000Z/);
      return true;
    });
  });

  it('sets the clock through hwclock --systohc --utc when the kernel owns the chip, writing no register', async () => {
    sim = createSimulatedTpi1({ clock, startTime: Date.parse('2025-05-05T05:05:05Z') });
    const runs: (readonly string[])[] = [];
    const driver = driverFor(sim, clock, {
      rtcOwnedByKernel: async () => true,
      runHwclock: async (argv) => {
        runs.push(argv);
      },
    });
    const records = recordTransactions(sim);
    await driver.writeRtc(new Date(clock.now()));
    assert.deepEqual(runs, [['hwclock', '--systohc', '--utc']]);
    assert.equal(records.filter((r) => r.operation === 'write').length, 0);
  });

  it('reports a failing hwclock as an error', async () => {
    sim = createSimulatedTpi1({ clock });
    const driver = driverFor(sim, clock, {
      rtcOwnedByKernel: async () => true,
      runHwclock: async () => {
        throw new TpmError('BUS', 'hwclock --systohc --utc failed: cannot access the RTC');
      },
    });
    await assert.rejects(driver.writeRtc(new Date(clock.now())), /hwclock --systohc --utc failed/);
  });
});

describe('kernelOwnsRtc', () => {
  let root: string;

  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'tpm-sysfs-'));
  });

  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('is true when <bus>-006f has a bound driver, false otherwise', async () => {
    mkdirSync(path.join(root, '1-006f'));
    assert.equal(await kernelOwnsRtc(1, root)(), false);
    mkdirSync(path.join(root, '1-006f', 'driver'));
    assert.equal(await kernelOwnsRtc(1, root)(), true);
    assert.equal(await kernelOwnsRtc(0, root)(), false);
  });
});
