import assert from 'node:assert/strict';
import { createSimulatedTpi1 } from '../../../src/board/simulator/tpi1.js';
import { FakeClock } from '../../../src/util/fake-clock.js';
import { driverFor, recordTransactions, settle } from './helpers.js';

/**
 * The driver's own queue orders every operation, power and clock alike: the bridge needs no
 * second queue around RTC work (OpenedBoard.serialize is gone). Each operation touches one
 * chip, so if the bus transactions are grouped by address, each operation must be one
 * unbroken run of them, in the order the operations were asked for.
 */
describe('Tpi1Driver: one operation at a time, clock and power alike', () => {
  it('runs concurrent clock sets, clock reads and power switches whole, in call order', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 0, 400));
    const sim = createSimulatedTpi1({
      clock,
      startTime: Date.parse('2025-05-05T05:05:05Z'),
      rtc: { oscillatorStopMs: 3 },
    });
    sim.faults.setLatency(1); // every transaction takes 1 ms: without the queue they would interleave
    const driver = driverFor(sim, clock);
    await settle(clock, driver.open());
    const records = recordTransactions(sim);

    const asked = [
      { chip: 0x6f, run: () => driver.writeRtc(new Date(clock.now())) },
      { chip: 0x57, run: () => driver.setPower(3, false) },
      { chip: 0x6f, run: () => driver.readRtc() },
      { chip: 0x57, run: () => driver.setPower(4, false) },
      { chip: 0x6f, run: () => driver.writeRtc(new Date(clock.now() + 3_600_000)) },
      { chip: 0x57, run: () => driver.readPower() },
    ];
    await settle(clock, Promise.all(asked.map((operation) => operation.run())));

    const runs: number[] = [];
    for (const record of records) if (runs.at(-1) !== record.address) runs.push(record.address);
    assert.deepEqual(
      runs,
      asked.map((operation) => operation.chip),
    );
    // Each clock set is whole: ST cleared, OSCRUN polled, registers, ST set, read back.
    const rtcWrites = records.filter((r) => r.address === 0x6f && r.operation === 'write');
    assert.equal(rtcWrites.length, 6);
    assert.equal(sim.ds4520.control, 0xff & ~0x08 & ~0x10);
    const reading = await settle(clock, driver.readRtc());
    assert.equal(
      Math.round(((reading.time?.getTime() ?? Number.NaN) - clock.now()) / 3_600_000),
      1,
      'the second set came last',
    );
  });
});
