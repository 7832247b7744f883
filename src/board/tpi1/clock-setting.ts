import { monotonicNow, sleep } from '../../util/clock.js';
import { TpmError } from '../../util/errors.js';
import { MCP7940N, MCP7940N_ADDRESS } from './registers.js';
import { assertRtcYear, decodeRtcFields, encodeRtcRegisters, fieldsToDate, weekdayFor } from './rtc.js';
import type { BusTransactions } from './transactions.js';
import { isoTime } from '../../util/iso-time.js';

/**
 * The MCP7940N's time registers on the bus (docs/hardware.md "MCP7940N at 0x6F"): the block read
 * and the datasheet's clock-setting sequence. The driver calls these on its queue, so no other
 * bus transaction falls between the steps of the sequence.
 */

/** Registers 0x00-0x06 in one 7-byte block read (single reads would straddle a roll-over). */
export async function readRtcRegisters(io: BusTransactions): Promise<Buffer> {
  const { bytesRead, buffer } = await io.transfer('read of the RTC registers 0x00-0x06', () =>
    io.bus.readI2cBlock(MCP7940N_ADDRESS, MCP7940N.RTCSEC, 7, Buffer.alloc(7)),
  );
  if (bytesRead !== 7) throw new TpmError('BUS', `the RTC returned ${bytesRead} of 7 time registers`);
  return buffer;
}

/**
 * The datasheet's set sequence (docs/hardware.md "MCP7940N at 0x6F", "Setting the clock"): clear ST,
 * wait for OSCRUN = 0, write the registers (24-hour mode, VBATEN set, PWRFAIL written back as read
 * so it is not cleared by accident, weekday kept in its convention), then set ST, then verify.
 * The registers get the next whole second and ST is set when that second begins, so the clock is
 * not half a second late.
 */
export async function writeRtcRegisters(io: BusTransactions, time: Date): Promise<void> {
  const { bus, clock } = io;
  const offsetMs = time.getTime() - clock.now();
  const target = new Date(Math.ceil(time.getTime() / 1000) * 1000);
  // Before ST is cleared: a time the chip cannot hold (a 1970 system clock) must not leave it stopped.
  assertRtcYear(target);
  const before = await readRtcRegisters(io);
  const previous = decodeRtcFields(before);
  const seconds = before[MCP7940N.RTCSEC] ?? 0;

  await io.transfer('write of RTCSEC (stop the oscillator)', () =>
    bus.writeByte(MCP7940N_ADDRESS, MCP7940N.RTCSEC, seconds & ~MCP7940N.ST & 0xff),
  );
  const weekdayRegister = await waitOscillatorStopped(io, seconds);

  const registers = encodeRtcRegisters(target, {
    start: false,
    weekday: weekdayFor(target, previous),
    batteryBackup: true,
    powerFailed: (weekdayRegister & MCP7940N.PWRFAIL) !== 0,
  });
  await io.transfer('write of the RTC registers 0x00-0x06', () =>
    bus.writeI2cBlock(MCP7940N_ADDRESS, MCP7940N.RTCSEC, 7, Buffer.from(registers)),
  );
  const waitMs = target.getTime() - (clock.now() + offsetMs);
  if (waitMs > 0) await sleep(clock, waitMs);
  await io.transfer('write of RTCSEC (start the oscillator)', () =>
    bus.writeByte(MCP7940N_ADDRESS, MCP7940N.RTCSEC, (registers[0] ?? 0) | MCP7940N.ST),
  );

  await verifyClockSet(io, target);
  io.logger.info({ time: isoTime(target) }, 'RTC set');
}

/** Polls RTCWKDAY until OSCRUN clears; on time-out restarts the oscillator and gives up. */
async function waitOscillatorStopped(io: BusTransactions, originalSeconds: number): Promise<number> {
  const { bus, clock, timing } = io;
  const deadline = monotonicNow(clock) + timing.oscillatorStopTimeoutMs;
  for (;;) {
    const weekday = await io.transfer('read of RTCWKDAY', () => bus.readByte(MCP7940N_ADDRESS, MCP7940N.RTCWKDAY));
    if ((weekday & MCP7940N.OSCRUN) === 0) return weekday;
    if (monotonicNow(clock) >= deadline) {
      await bus.writeByte(MCP7940N_ADDRESS, MCP7940N.RTCSEC, originalSeconds).catch(() => undefined);
      throw new TpmError(
        'TIMEOUT',
        `the RTC oscillator did not stop within ${timing.oscillatorStopTimeoutMs} ms of clearing ST ` +
          '(OSCRUN still set); the clock was not changed',
      );
    }
    await sleep(clock, 1);
  }
}

/** The read-back of the set sequence: ST and VBATEN set, the time within two seconds of the one written. */
async function verifyClockSet(io: BusTransactions, target: Date): Promise<void> {
  const after = await readRtcRegisters(io);
  const fields = decodeRtcFields(after);
  const readTime = fields ? fieldsToDate(fields).getTime() : Number.NaN;
  const stSet = ((after[MCP7940N.RTCSEC] ?? 0) & MCP7940N.ST) !== 0;
  const vbatSet = ((after[MCP7940N.RTCWKDAY] ?? 0) & MCP7940N.VBATEN) !== 0;
  if (!stSet || !vbatSet || !(readTime >= target.getTime() && readTime <= target.getTime() + 2000)) {
    throw new TpmError(
      'VERIFY',
      `setting the RTC failed: wrote ${isoTime(target)} with ST and VBATEN set, read back ` +
        `${Number.isNaN(readTime) ? 'no valid time' : isoTime(readTime)}` +
        ` (ST ${stSet ? 1 : 0}, VBATEN ${vbatSet ? 1 : 0})`,
    );
  }
}
