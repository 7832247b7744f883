import assert from 'node:assert/strict';
import { FakeClock } from '../../../src/util/fake-clock.js';
import { TpmError } from '../../../src/util/errors.js';
import { createSimulatedTpi1, type SimulatedTpi1 } from '../../../src/board/simulator/tpi1.js';
import { driverFor, recordTransactions, setControlDirectly, settle } from './helpers.js';

/** docs/hardware.md's mask table, written out here independently of the driver and the simulator. */
const MASKS: Record<number, number> = { 1: 0x02, 2: 0x04, 3: 0x08, 4: 0x10, 5: 0x80, 6: 0x40, 7: 0x20 };

function isCode(code: string) {
  return (error: unknown): boolean => error instanceof TpmError && error.code === code;
}

function controlWrites(records: ReturnType<typeof recordTransactions>): number[] {
  return records
    .filter((r) => r.operation === 'write' && r.address === 0x57 && r.register === 0xf2 && !r.error)
    .map((r) => r.bytes[0] ?? -1);
}

describe('Tpi1Driver: node power through the DS4520', () => {
  let clock: FakeClock;
  let sim: SimulatedTpi1;

  beforeEach(() => {
    clock = new FakeClock(Date.UTC(2026, 0, 1, 12));
    sim = createSimulatedTpi1({ clock });
  });

  for (const bit0 of [1, 0]) {
    for (const node of [1, 2, 3, 4, 5, 6, 7]) {
      it(
        `switches node ${node} off and on with mask 0x${MASKS[node]?.toString(16)} (bit 0 ` +
          `${bit0 ? 'set' : 'clear'})`,
        async () => {
          const start = 0xfe | bit0;
          await setControlDirectly(sim, clock, start);
          const driver = driverFor(sim, clock);
          await driver.open();
          const records = recordTransactions(sim);
          const mask = MASKS[node] as number;

          assert.equal(await driver.setPower(node, false), false);
          assert.equal(sim.ds4520.control, start & ~mask);
          assert.equal(await driver.setPower(node, true), true);
          assert.equal(sim.ds4520.control, start);

          // Every value written differs from the one before in exactly this node's bit.
          assert.deepEqual(controlWrites(records), [start & ~mask, start]);
          await driver.close();
        },
      );
    }
  }

  it('switches a node on from an all-off board without touching bit 0 or the other nodes', async () => {
    for (const start of [0x00, 0x01]) {
      await setControlDirectly(sim, clock, start);
      const driver = driverFor(sim, clock);
      await driver.open();
      assert.equal(await driver.setPower(6, true), true);
      assert.equal(sim.ds4520.control, start | 0x40);
      await driver.close();
    }
  });

  it('does not write when the node already has the wanted power', async () => {
    const driver = driverFor(sim, clock);
    await driver.open();
    const records = recordTransactions(sim);
    assert.equal(await driver.setPower(4, true), true);
    assert.deepEqual(controlWrites(records), []);
    await driver.setPower(4, false);
    assert.equal(await driver.setPower(4, false), false);
    assert.deepEqual(controlWrites(records), [0xef]);
  });

  it(
    'reads power and presence: present where powered with the status bit set, empty where powered without ' + 'it',
    async () => {
      sim = createSimulatedTpi1({ clock, modulesPresent: [1, 2, 4, 7] });
      const driver = driverFor(sim, clock);
      await driver.open();
      await driver.setPower(2, false);
      await driver.setPower(5, false);
      const reading = await driver.readPower();
      assert.deepEqual(reading.power, [true, false, true, true, false, true, true]);
      // Node 2 and 5 are off: nothing to tell. Node 3 and 6 are on but draw no level: empty slots.
      assert.deepEqual(reading.present, [true, null, false, true, null, false, true]);
    },
  );

  it('refuses bad node numbers and switching before open, without touching the bus', async () => {
    const driver = driverFor(sim, clock);
    await assert.rejects(driver.setPower(3, false), isCode('USAGE'));
    await driver.open();
    const records = recordTransactions(sim);
    for (const node of [0, 8, 2.5, Number.NaN]) await assert.rejects(driver.setPower(node, false), isCode('USAGE'));
    assert.equal(records.length, 0);
  });

  it('runs concurrent switches one after the other, so neither undoes the other', async () => {
    sim.faults.setLatency(1); // every transaction takes 1 ms: unserialized read-modify-writes would interleave
    const driver = driverFor(sim, clock);
    await settle(clock, driver.open());
    const both = Promise.all([driver.setPower(2, false), driver.setPower(3, false)]);
    assert.deepEqual(await settle(clock, both), [false, false]);
    assert.equal(sim.ds4520.control, 0xff & ~0x04 & ~0x08);
  });

  it('never writes 0xF2 when it closes', async () => {
    const driver = driverFor(sim, clock);
    await driver.open();
    await driver.setPower(5, false);
    const records = recordTransactions(sim);
    await driver.close();
    await driver.close();
    assert.equal(records.filter((r) => r.operation === 'write').length, 0);
    assert.equal(sim.ds4520.control, 0x7f);
  });
});

describe('Tpi1Driver: SEE and the EEPROM', () => {
  let clock: FakeClock;
  let sim: SimulatedTpi1;

  beforeEach(() => {
    clock = new FakeClock(Date.UTC(2026, 0, 1, 12));
    sim = createSimulatedTpi1({ clock });
  });

  it('sets SEE = 1 at open without persisting, changing only bit 0 of 0xF4, before any 0xF2 write', async () => {
    await sim.bus.writeByte(0x57, 0xf4, 0xa0);
    const records = recordTransactions(sim);
    const driver = driverFor(sim, clock, { persistPowerState: false });
    await driver.open();
    assert.equal(sim.ds4520.config, 0xa1);
    await driver.setPower(3, false);
    const writes = records.filter((r) => r.operation === 'write').map((r) => r.register);
    assert.deepEqual(writes, [0xf4, 0xf2]);
    // The write went to shadow SRAM: the EEPROM still says "on", and a board power cycle restores it.
    assert.equal(sim.ds4520.eepromWrites, 0);
    assert.equal(sim.ds4520.eepromControl, 0xff);
    sim.ds4520.powerCycleBoard();
    assert.equal(sim.ds4520.control, 0xff);
  });

  it('clears SEE at open when persisting, keeping the other bits of 0xF4', async () => {
    await sim.bus.writeByte(0x57, 0xf4, 0xa1);
    const driver = driverFor(sim, clock, { persistPowerState: true });
    await driver.open();
    assert.equal(sim.ds4520.config, 0xa0);
  });

  it('writes nothing to 0xF4 when SEE already has the wanted value', async () => {
    await sim.bus.writeByte(0x57, 0xf4, 0x01);
    const records = recordTransactions(sim);
    await driverFor(sim, clock, { persistPowerState: false }).open();
    assert.equal(records.filter((r) => r.operation === 'write').length, 0);
  });

  it('fails open with VERIFY when SEE does not take', async () => {
    sim.faults.dropWrites({ address: 0x57, register: 0xf4 });
    const driver = driverFor(sim, clock, { persistPowerState: false });
    await assert.rejects(driver.open(), (error: unknown) => {
      assert.ok(isCode('VERIFY')(error));
      assert.match((error as Error).message, /SEE.*wrote 0x01.*read back 0x00/);
      return true;
    });
  });

  it('sets SEE again before writing when a board power cycle reset it while running', async () => {
    const driver = driverFor(sim, clock, { persistPowerState: false });
    await driver.open();
    sim.ds4520.powerCycleBoard(); // 0xF4 back to 0: writes would go to EEPROM
    await driver.setPower(7, false);
    assert.equal(sim.ds4520.config & 0x01, 0x01);
    assert.equal(sim.ds4520.eepromWrites, 0);
    assert.equal(sim.ds4520.control, 0xdf);
  });

  it('does not base a write of 0xF4 on an agreeing pair of garbage unlike the last known value', async () => {
    await sim.bus.writeByte(0x57, 0xf4, 0xa0);
    const driver = driverFor(sim, clock, { persistPowerState: false });
    await driver.open(); // 0xF4 = 0xa1, verified
    const records = recordTransactions(sim);
    // The same garbage three times: the one quick read and both reads of a pair.
    sim.faults.glitchReads(0x5e, { address: 0x57, register: 0xf4 }, 3);
    assert.equal(await driver.setPower(3, false), false);
    assert.equal(sim.ds4520.config, 0xa1, 'bits 1-7 of 0xF4 untouched');
    assert.deepEqual(
      records.filter((r) => r.operation === 'write').map((r) => r.register),
      [0xf2],
    );
  });

  it('persists to EEPROM, retrying the read-back while the chip does not acknowledge its write cycle', async () => {
    const driver = driverFor(sim, clock, { persistPowerState: true });
    await driver.open();
    const records = recordTransactions(sim);
    assert.equal(await settle(clock, driver.setPower(3, false)), false);
    assert.equal(sim.ds4520.eepromControl, 0xf7);
    assert.equal(sim.ds4520.eepromWrites, 1);
    const nacks = records.filter((r) => r.operation === 'read' && r.error?.includes('EREMOTEIO'));
    assert.ok(nacks.length >= 1, 'the read-back met at least one NACK');
    sim.ds4520.powerCycleBoard();
    assert.equal(sim.ds4520.control, 0xf7, 'the persisted state returns at power-up');
  });

  it('gives up with a BUS error when the chip stays silent past the read-back time-out', async () => {
    sim = createSimulatedTpi1({ clock, ds4520: { eepromWriteCycleMs: 500 } });
    const driver = driverFor(sim, clock, { persistPowerState: true });
    await driver.open();
    await assert.rejects(settle(clock, driver.setPower(3, false)), (error: unknown) => {
      assert.ok(isCode('BUS')(error));
      assert.match((error as Error).message, /did not answer for 50 ms/);
      return true;
    });
  });

  it('never clears node 1 while writes go to EEPROM, even when the config does not protect it', async () => {
    const driver = driverFor(sim, clock, { persistPowerState: true, protectedNodes: [] });
    await driver.open();
    const records = recordTransactions(sim);
    await assert.rejects(driver.setPower(1, false), (error: unknown) => {
      assert.ok(isCode('PROTECTED')(error));
      assert.match((error as Error).message, /node 1 is protected/);
      return true;
    });
    assert.deepEqual(controlWrites(records), []);
    assert.equal(sim.ds4520.control, 0xff);
  });

  it('never writes to EEPROM a 0xF2 whose node 1 bit is already clear (set so in shadow SRAM)', async () => {
    // Node 1 switched off in shadow SRAM (another tool, or this bridge with SEE = 1 on another node).
    await sim.bus.writeByte(0x57, 0xf4, 0x01);
    await sim.bus.writeByte(0x57, 0xf2, 0xfd);
    const driver = driverFor(sim, clock, { persistPowerState: true });
    await driver.open();
    const records = recordTransactions(sim);
    await assert.rejects(settle(clock, driver.setPower(3, false)), (error: unknown) => {
      assert.ok(isCode('PROTECTED')(error));
      assert.match((error as Error).message, /node 1's bit is clear/);
      return true;
    });
    assert.deepEqual(controlWrites(records), []);
    assert.equal(sim.ds4520.eepromControl, 0xff, 'the EEPROM still powers the master at the next power-up');
    // Switching node 1 on is the way out, and persists a byte with the master on.
    assert.equal(await settle(clock, driver.setPower(1, true)), true);
    assert.equal(sim.ds4520.eepromControl, 0xff);
    assert.equal(await settle(clock, driver.setPower(3, false)), false);
    assert.equal(sim.ds4520.eepromControl, 0xf7);
  });

  it('refuses to clear other protected nodes in EEPROM mode but switches them on', async () => {
    await setControlDirectly(sim, clock, 0xf7); // node 3 off
    const driver = driverFor(sim, clock, { persistPowerState: true, protectedNodes: [1, 3] });
    await driver.open();
    assert.equal(await settle(clock, driver.setPower(3, true)), true);
    await assert.rejects(settle(clock, driver.setPower(3, false)), isCode('PROTECTED'));
    assert.equal(sim.ds4520.control, 0xff);
  });

  it('lets node 1 be switched off in shadow-SRAM mode (the policy layer guards it there)', async () => {
    const driver = driverFor(sim, clock, { persistPowerState: false });
    await driver.open();
    assert.equal(await driver.setPower(1, false), false);
    assert.equal(sim.ds4520.control, 0xfd);
    assert.equal(sim.ds4520.eepromControl, 0xff);
  });

  it('refuses EEPROM writes beyond eeprom_writes_per_day in a rolling 24 hours', async () => {
    const driver = driverFor(sim, clock, { persistPowerState: true, eepromWritesPerDay: 2 });
    await driver.open();
    await settle(clock, driver.setPower(4, false));
    await settle(clock, driver.setPower(4, true));
    const before = sim.ds4520.eepromWrites;
    await assert.rejects(settle(clock, driver.setPower(4, false)), (error: unknown) => {
      assert.ok(isCode('BUSY')(error));
      assert.match((error as Error).message, /eeprom_writes_per_day: 2/);
      return true;
    });
    assert.equal(sim.ds4520.eepromWrites, before);
    assert.equal(sim.ds4520.control, 0xff);
    // A switch that needs no write is still fine.
    assert.equal(await driver.setPower(4, true), true);
    await clock.advance(24 * 60 * 60 * 1000);
    assert.equal(await settle(clock, driver.setPower(4, false)), false);
  });

  it('does not count writes against the budget in shadow-SRAM mode', async () => {
    const driver = driverFor(sim, clock, { persistPowerState: false, eepromWritesPerDay: 1 });
    await driver.open();
    for (let i = 0; i < 3; i++) {
      await driver.setPower(2, false);
      await driver.setPower(2, true);
    }
    assert.equal(sim.ds4520.control, 0xff);
  });
});

describe('Tpi1Driver: faults on the bus', () => {
  let clock: FakeClock;
  let sim: SimulatedTpi1;

  beforeEach(() => {
    clock = new FakeClock(Date.UTC(2026, 0, 1, 12));
    sim = createSimulatedTpi1({ clock });
  });

  it('fails with VERIFY, saying what was written and read, when a write does not take', async () => {
    const driver = driverFor(sim, clock);
    await driver.open();
    sim.faults.dropWrites({ address: 0x57, register: 0xf2 });
    await assert.rejects(driver.setPower(3, false), (error: unknown) => {
      assert.ok(isCode('VERIFY')(error));
      assert.match(
        (error as Error).message,
        /node 3 did not switch off: wrote 0xF2 = 0xf7 \(was 0xff\), read back 0xff/,
      );
      return true;
    });
  });

  it('does not fail a good write on one glitchy read-back', async () => {
    const driver = driverFor(sim, clock);
    await driver.open();
    const records = recordTransactions(sim);
    // The 2 reads of the base value, then the read-back glitches once.
    sim.faults.glitchReads((actual) => actual, { address: 0x57, register: 0xf2 }, 2);
    sim.faults.glitchReads(0xff, { address: 0x57, register: 0xf2 }, 1);
    assert.equal(await driver.setPower(3, false), false);
    assert.equal(sim.ds4520.control, 0xf7);
    assert.equal(controlWrites(records).length, 1);
  });

  it('retries disagreeing reads and bases the write on the agreeing value', async () => {
    const driver = driverFor(sim, clock);
    await driver.open();
    sim.faults.glitchReads(0x00, { address: 0x57, register: 0xf2 }, 1);
    assert.equal(await driver.setPower(5, false), false);
    assert.equal(sim.ds4520.control, 0x7f);
  });

  it('fails with BUS and writes nothing when reads never agree', async () => {
    const driver = driverFor(sim, clock);
    await driver.open();
    let reads = 0;
    // Every second read has node 6's bit flipped: no pair ever agrees.
    sim.faults.glitchReads(
      (actual) => (reads++ % 2 === 0 ? actual : actual ^ 0x40),
      { address: 0x57, register: 0xf2 },
      1000,
    );
    const records = recordTransactions(sim);
    await assert.rejects(driver.setPower(5, false), (error: unknown) => {
      assert.ok(isCode('BUS')(error));
      assert.match((error as Error).message, /disagree/);
      return true;
    });
    assert.deepEqual(controlWrites(records), []);
  });

  it(
    'does not use an agreeing pair that differs from the last known value until a second pair confirms ' + 'it',
    async () => {
      const driver = driverFor(sim, clock);
      await driver.open(); // last known: 0xff
      // A glitch that returns the same garbage twice (both reads of a pair agree).
      sim.faults.glitchReads(0x01, { address: 0x57, register: 0xf2 }, 2);
      assert.equal(await driver.setPower(3, false), false);
      // Based on garbage, the write would have been 0x01: every node off.
      assert.equal(sim.ds4520.control, 0xf7);
    },
  );

  it('accepts a confirmed change made by another tool and keeps it', async () => {
    const driver = driverFor(sim, clock);
    await driver.open();
    await setControlDirectly(sim, clock, 0xfb); // someone switched node 2 off
    assert.equal(await driver.setPower(3, false), false);
    assert.equal(sim.ds4520.control, 0xf3);
  });

  it('retries transient read errors', async () => {
    const driver = driverFor(sim, clock);
    await driver.open();
    sim.faults.failNext(2, { address: 0x57, operation: 'read' });
    assert.equal(await settle(clock, driver.setPower(2, false)), false);
    assert.equal(sim.ds4520.control, 0xfb);
  });

  it('writes again once when a write fails and the read-back shows nothing changed', async () => {
    const driver = driverFor(sim, clock);
    await driver.open();
    const records = recordTransactions(sim);
    sim.faults.failNext(1, { address: 0x57, operation: 'write', register: 0xf2 });
    assert.equal(await settle(clock, driver.setPower(2, false)), false);
    assert.equal(records.filter((r) => r.operation === 'write' && r.register === 0xf2).length, 2);
    assert.equal(sim.ds4520.control, 0xfb);
  });

  it('fails with BUS and leaves power as it was when the bus stays broken', async () => {
    const driver = driverFor(sim, clock);
    await driver.open();
    const remove = sim.faults.failAlways({ address: 0x57 });
    await assert.rejects(settle(clock, driver.setPower(2, false)), (error: unknown) => {
      assert.ok(isCode('BUS')(error));
      assert.match((error as Error).message, /failed 3 times on I2C bus 1: EREMOTEIO/);
      return true;
    });
    await assert.rejects(settle(clock, driver.readPower()), isCode('BUS'));
    remove();
    assert.equal(sim.ds4520.control, 0xff);
    assert.equal(await driver.setPower(2, false), false);
  });

  it('fails with BUS when a write keeps failing', async () => {
    const driver = driverFor(sim, clock);
    await driver.open();
    sim.faults.failAlways({ address: 0x57, operation: 'write' });
    await assert.rejects(settle(clock, driver.setPower(2, false)), (error: unknown) => {
      assert.ok(isCode('BUS')(error));
      assert.match((error as Error).message, /writing 0xF2 = 0xfb to 0x57 gave "EREMOTEIO/);
      return true;
    });
    assert.equal(sim.ds4520.control, 0xff);
  });

  it('still reports power when the presence register cannot be read', async () => {
    const driver = driverFor(sim, clock);
    await driver.open();
    sim.faults.failAlways({ address: 0x57, register: 0xf8 });
    const reading = await settle(clock, driver.readPower());
    assert.deepEqual(reading.power, [true, true, true, true, true, true, true]);
    assert.deepEqual(reading.present, [null, null, null, null, null, null, null]);
  });
});
