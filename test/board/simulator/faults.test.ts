import assert from 'node:assert/strict';
import { FakeClock } from '../../../src/util/fake-clock.js';
import { createSimulatedTpi1, type SimulatedTpi1 } from '../../../src/board/simulator/tpi1.js';

describe('simulated I2C bus: faults and counters', () => {
  let clock: FakeClock;
  let sim: SimulatedTpi1;

  beforeEach(async () => {
    clock = new FakeClock();
    sim = createSimulatedTpi1({ clock });
    await sim.bus.writeByte(0x57, 0xf4, 0x01); // shadow SRAM: no EEPROM write cycles in these tests
    sim.faults.resetCounters();
  });

  it('fails the next N matching transactions, then works again', async () => {
    sim.faults.failNext(2, { address: 0x57, operation: 'read' });
    await sim.bus.writeByte(0x57, 0xf2, 0xfe); // writes do not match
    await assert.rejects(sim.bus.readByte(0x57, 0xf2), /EREMOTEIO/);
    await assert.rejects(sim.bus.readByte(0x57, 0xf2), /EREMOTEIO/);
    assert.equal(await sim.bus.readByte(0x57, 0xf2), 0xfe);
    assert.equal(sim.faults.counters.errors, 2);
  });

  it('fails matching transactions until the fault is removed, with a chosen error', async () => {
    const remove = sim.faults.failAlways({ address: 0x6f }, () => new Error('ETIMEDOUT, Connection timed out'));
    await assert.rejects(sim.bus.readByte(0x6f, 0x00), /ETIMEDOUT/);
    await assert.rejects(sim.bus.readByte(0x6f, 0x00), /ETIMEDOUT/);
    assert.equal(await sim.bus.readByte(0x57, 0xf4), 0x01, 'other addresses answer');
    remove();
    await sim.bus.readByte(0x6f, 0x00);
  });

  it('drops writes that are acknowledged but do not take', async () => {
    sim.faults.dropWrites({ address: 0x57, register: 0xf2 }, 1);
    await sim.bus.writeByte(0x57, 0xf2, 0x00);
    assert.equal(sim.ds4520.control, 0xff);
    await sim.bus.writeByte(0x57, 0xf2, 0x00);
    assert.equal(sim.ds4520.control, 0x00);
  });

  it('returns a glitchy value once, and only for the matched register of a block', async () => {
    sim.faults.glitchReads(0x42, { address: 0x57, register: 0xf3 });
    const block = await sim.bus.readI2cBlock(0x57, 0xf2, 3, Buffer.alloc(3));
    assert.deepEqual([...block.buffer], [0xff, 0x42, 0x01]);
    assert.equal(await sim.bus.readByte(0x57, 0xf3), 0xff);
  });

  it('delays each transaction on the clock', async () => {
    sim.faults.setLatency(10);
    let done = false;
    const read = sim.bus.readByte(0x57, 0xf2).then(() => {
      done = true;
    });
    await clock.advance(9);
    assert.equal(done, false);
    await clock.advance(1);
    await read;
    assert.equal(done, true);
  });

  it('counts reads, writes and bytes per address', async () => {
    await sim.bus.readByte(0x57, 0xf2);
    await sim.bus.readI2cBlock(0x6f, 0x00, 7, Buffer.alloc(7));
    await sim.bus.writeByte(0x57, 0xf2, 0xff);
    await assert.rejects(sim.bus.readByte(0x10, 0x00), /ENXIO/);
    const counters = sim.faults.counters;
    assert.deepEqual(
      {
        reads: counters.reads,
        writes: counters.writes,
        errors: counters.errors,
        bytesRead: counters.bytesRead,
        bytesWritten: counters.bytesWritten,
      },
      { reads: 3, writes: 1, errors: 1, bytesRead: 8, bytesWritten: 1 },
    );
    assert.deepEqual(counters.byAddress['0x57'], { reads: 1, writes: 1 });
    assert.deepEqual(counters.byAddress['0x6f'], { reads: 1, writes: 0 });
  });

  it('rejects transfers i2c-bus would reject', async () => {
    await assert.rejects(sim.bus.readI2cBlock(0x57, 0x00, 33, Buffer.alloc(33)), RangeError);
    await assert.rejects(sim.bus.writeByte(0x57, 0xf2, 256), RangeError);
    await assert.rejects(sim.bus.readByte(0x80, 0x00), RangeError);
  });
});
