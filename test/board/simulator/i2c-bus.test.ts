import assert from 'node:assert/strict';
import { createSimulatedTpi1 } from '../../../src/board/simulator/tpi1.js';
import { FakeClock } from '../../../src/util/fake-clock.js';

describe('simulated I2C bus: transactions', () => {
  it('without latency faults, a transaction is done within the call and its promise already settled', async () => {
    const sim = createSimulatedTpi1({ clock: new FakeClock() });
    await sim.bus.writeByte(0x57, 0xf4, 0x01); // shadow SRAM: no EEPROM write cycle to wait out
    const write = sim.bus.writeByte(0x57, 0xf2, 0xfe);
    assert.equal(sim.ds4520.control, 0xfe, 'the register took the byte within the call');
    const order: string[] = [];
    void write.then(() => order.push('write settled'));
    void sim.bus.readByte(0x57, 0xf2).then((byte) => order.push(`read ${byte.toString(16)}`));
    await Promise.resolve();
    order.push('one microtask later');
    assert.deepEqual(order, ['write settled', 'read fe', 'one microtask later']);
  });

  it('a failed transaction rejects (never throws at the caller) and is told to listeners', async () => {
    const sim = createSimulatedTpi1({ clock: new FakeClock() });
    await sim.bus.writeByte(0x57, 0xf4, 0x01);
    const seen: string[] = [];
    sim.bus.onTransaction((record) => seen.push(`${record.operation} ${record.address}: ${record.error ?? 'ok'}`));
    sim.faults.failNext(1, { address: 0x57, operation: 'write' });
    let failed: Promise<void> | undefined;
    assert.doesNotThrow(() => {
      failed = sim.bus.writeByte(0x57, 0xf2, 0x00);
    });
    await assert.rejects(failed ?? Promise.resolve(), /EREMOTEIO/);
    assert.equal(sim.ds4520.control, 0xff, 'nothing written');
    await assert.rejects(sim.bus.readByte(0x10, 0x00), /ENXIO/);
    assert.equal(seen.length, 2);
    assert.match(seen[0] ?? '', /^write 87: .*EREMOTEIO/);
    assert.match(seen[1] ?? '', /^read 16: .*ENXIO/);
  });
});
