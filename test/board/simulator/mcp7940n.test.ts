import assert from 'node:assert/strict';
import { FakeClock } from '../../../src/util/fake-clock.js';
import { createSimulatedTpi1 } from '../../../src/board/simulator/tpi1.js';

function bcdBlock(bytes: number[]): string {
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');
}

describe('simulated MCP7940N (0x6F)', () => {
  let clock: FakeClock;

  beforeEach(() => {
    clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 0));
  });

  it('ticks with the clock while ST is set, and reads back BCD with ST, OSCRUN and VBATEN', async () => {
    const { bus } = createSimulatedTpi1({ clock, startTime: Date.parse('2026-12-31T23:59:58Z') });
    const read = async () => [...(await bus.readI2cBlock(0x6f, 0x00, 7, Buffer.alloc(7))).buffer];
    // 2026-12-31 is a Thursday: 5 with Sunday = 1.
    assert.equal(bcdBlock(await read()), 'd8 59 23 2d 31 12 26');
    await clock.advance(999);
    assert.equal(bcdBlock(await read()), 'd8 59 23 2d 31 12 26');
    await clock.advance(2001);
    assert.equal(bcdBlock(await read()), '81 00 00 2e 01 01 27', 'new year, weekday stepped, OSCRUN kept');
  });

  it('keeps 12-hour format as it ticks past noon and midnight', async () => {
    const { bus, rtc } = createSimulatedTpi1({
      clock,
      startTime: Date.parse('2026-03-01T11:59:59Z'),
      rtc: { hour12: true },
    });
    assert.equal(await bus.readByte(0x6f, 0x02), 0x40 | 0x11, '11 AM');
    await clock.advance(1000);
    assert.equal(await bus.readByte(0x6f, 0x02), 0x40 | 0x20 | 0x12, '12 PM');
    await clock.advance(12 * 60 * 60 * 1000);
    assert.equal(await bus.readByte(0x6f, 0x02), 0x40 | 0x12, '12 AM');
    assert.equal(rtc.time()?.toISOString(), '2026-03-02T00:00:00.000Z');
  });

  it('stands still while ST is clear, and OSCRUN follows ST after the stop and start delays', async () => {
    const { bus, rtc } = createSimulatedTpi1({ clock, rtc: { oscillatorStopMs: 3, oscillatorStartMs: 5 } });
    const seconds = await bus.readByte(0x6f, 0x00);
    await bus.writeByte(0x6f, 0x00, seconds & 0x7f);
    assert.equal((await bus.readByte(0x6f, 0x03)) & 0x20, 0x20, 'still running just after ST cleared');
    await clock.advance(3);
    assert.equal((await bus.readByte(0x6f, 0x03)) & 0x20, 0);
    await clock.advance(10_000);
    assert.equal(rtc.time()?.toISOString(), '2026-01-01T12:00:00.000Z', 'no time passed while stopped');
    await bus.writeByte(0x6f, 0x00, seconds | 0x80);
    assert.equal(rtc.oscillatorRunning, false);
    await clock.advance(5);
    assert.equal(rtc.oscillatorRunning, true);
    await clock.advance(995);
    assert.equal(rtc.time()?.toISOString(), '2026-01-01T12:00:01.000Z');
  });

  it('reports LPYR in leap years and ignores writes to it', async () => {
    const { bus } = createSimulatedTpi1({ clock, startTime: Date.parse('2028-02-29T00:00:00Z') });
    assert.equal(await bus.readByte(0x6f, 0x05), 0x20 | 0x02);
    await bus.writeByte(0x6f, 0x06, 0x27);
    assert.equal(await bus.readByte(0x6f, 0x05), 0x02);
  });

  it(
    'sets PWRFAIL on a power failure with VBATEN; only writing 0 clears it, and that clears the time ' + 'stamps',
    async () => {
      const { bus, rtc } = createSimulatedTpi1({ clock, startTime: Date.parse('2026-05-06T07:08:09Z') });
      rtc.mainPowerFailure();
      const flags = await bus.readByte(0x6f, 0x03);
      assert.equal(flags & 0x10, 0x10);
      assert.equal(bcdBlock([...(await bus.readI2cBlock(0x6f, 0x18, 4, Buffer.alloc(4))).buffer]), '08 07 06 05');
      await bus.writeByte(0x6f, 0x03, flags); // writing 1 keeps it
      assert.equal((await bus.readByte(0x6f, 0x03)) & 0x10, 0x10);
      await bus.writeByte(0x6f, 0x03, flags & ~0x10);
      assert.equal((await bus.readByte(0x6f, 0x03)) & 0x10, 0);
      assert.equal(bcdBlock([...(await bus.readI2cBlock(0x6f, 0x18, 4, Buffer.alloc(4))).buffer]), '00 00 00 00');
    },
  );

  it('logs no new time stamps while PWRFAIL is set: the first failure is kept until it is cleared', async () => {
    // MCP7940N datasheet DS20005010F, 5.7.1: "The PWRFAIL bit must be cleared to log new time-stamp data."
    const { bus, rtc } = createSimulatedTpi1({ clock, startTime: Date.parse('2026-05-06T07:08:09Z') });
    const stamps = async (): Promise<string> =>
      bcdBlock([...(await bus.readI2cBlock(0x6f, 0x18, 8, Buffer.alloc(8))).buffer]);
    rtc.mainPowerFailure();
    const first = await stamps();
    assert.equal(first, '08 07 06 05 08 07 06 05');
    await clock.advance(2 * 60 * 60 * 1000);
    rtc.mainPowerFailure(); // 09:08, PWRFAIL still set
    assert.equal(await stamps(), first);
    const flags = await bus.readByte(0x6f, 0x03);
    await bus.writeByte(0x6f, 0x03, flags & ~0x10); // cleared: the next failure is logged
    rtc.mainPowerFailure();
    assert.equal(await stamps(), '08 09 06 05 08 09 06 05');
  });

  it('keeps time and SRAM through a power failure with VBATEN', async () => {
    const { bus, rtc } = createSimulatedTpi1({ clock, startTime: Date.parse('2026-05-06T07:08:09Z') });
    await bus.writeI2cBlock(0x6f, 0x20, 2, Buffer.from([0x12, 0x34]));
    await clock.advance(5000);
    rtc.mainPowerFailure();
    await clock.advance(5000);
    assert.equal(rtc.time()?.toISOString(), '2026-05-06T07:08:19.000Z');
    assert.equal(bcdBlock([...(await bus.readI2cBlock(0x6f, 0x20, 2, Buffer.alloc(2))).buffer]), '12 34');
  });

  it('keeps OSCRUN read-only: written bits 5 of RTCWKDAY change nothing', async () => {
    const { bus } = createSimulatedTpi1({ clock, startTime: Date.parse('2026-05-06T07:08:09Z') });
    await bus.writeByte(0x6f, 0x03, 0x08 | 0x04); // OSCRUN written 0 while running
    assert.equal(await bus.readByte(0x6f, 0x03), 0x20 | 0x08 | 0x04);
    await bus.writeByte(0x6f, 0x00, 0x09); // ST cleared: the oscillator stops
    await bus.writeByte(0x6f, 0x03, 0x20 | 0x08 | 0x04); // OSCRUN written 1 while stopped
    assert.equal(await bus.readByte(0x6f, 0x03), 0x08 | 0x04);
  });

  it('comes up from a power-on reset with every register 0: ST, OSCRUN and VBATEN clear', async () => {
    const { bus, rtc } = createSimulatedTpi1({ clock, startTime: null });
    assert.equal(
      bcdBlock([...(await bus.readI2cBlock(0x6f, 0x00, 7, Buffer.alloc(7))).buffer]),
      '00 00 00 00 00 20 00',
    );
    assert.equal(rtc.oscillatorRunning, false);
  });

  it('loses everything on a power failure without VBATEN', async () => {
    const { bus, rtc } = createSimulatedTpi1({ clock, rtc: { batteryBackup: false } });
    rtc.mainPowerFailure();
    // All zero; LPYR reads 1 because year 00 (2000) is a leap year.
    assert.equal(
      bcdBlock([...(await bus.readI2cBlock(0x6f, 0x00, 7, Buffer.alloc(7))).buffer]),
      '00 00 00 00 00 20 00',
    );
    assert.equal(rtc.time(), null);
  });

  it('stops when its crystal fails', async () => {
    const { rtc } = createSimulatedTpi1({ clock });
    rtc.setCrystalFailed(true);
    await clock.advance(5000);
    assert.equal(rtc.oscillatorRunning, false);
    assert.equal(rtc.time()?.toISOString(), '2026-01-01T12:00:00.000Z');
  });

  it('keeps its 64 bytes of SRAM', async () => {
    const { bus } = createSimulatedTpi1({ clock });
    await bus.writeI2cBlock(0x6f, 0x20, 4, Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    assert.equal(bcdBlock([...(await bus.readI2cBlock(0x6f, 0x20, 4, Buffer.alloc(4))).buffer]), 'de ad be ef');
  });
});
