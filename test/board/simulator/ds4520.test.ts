import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeClock } from '../../../src/util/fake-clock.js';
import type { I2cBus } from '../../../src/board/tpi1/i2c.js';
import { createSimulatedTpi1, type SimulatedTpi1 } from '../../../src/board/simulator/tpi1.js';

/** i2cset -m MASK -y 1 ADDR REG VALUE: i2c-tools reads the register and changes only the masked bits. */
async function i2cset(bus: I2cBus, address: number, register: number, value: number, mask = 0xff): Promise<void> {
  const old = mask === 0xff ? 0 : await bus.readByte(address, register);
  await bus.writeByte(address, register, (value & mask) | (old & ~mask & 0xff));
}

/** i2cget -y 1 ADDR REG */
function i2cget(bus: I2cBus, address: number, register: number): Promise<number> {
  return bus.readByte(address, register);
}

function poweredNodes(sim: SimulatedTpi1): number[] {
  return [1, 2, 3, 4, 5, 6, 7].filter((node) => sim.ds4520.nodePowered(node));
}

describe('simulated DS4520 (0x57)', () => {
  let clock: FakeClock;
  let sim: SimulatedTpi1;

  beforeEach(() => {
    clock = new FakeClock(Date.UTC(2026, 0, 1));
    sim = createSimulatedTpi1({ clock });
  });

  it('comes from the factory with 0xF2 = 0xFF: every node on', async () => {
    assert.equal(await i2cget(sim.bus, 0x57, 0xf2), 0xff);
    assert.deepEqual(poweredNodes(sim), [1, 2, 3, 4, 5, 6, 7]);
  });

  it('reproduces the official examples of docs/hardware.md', async () => {
    // SEE = 0 by default: each write is an EEPROM write cycle, during which the chip is deaf.
    await i2cset(sim.bus, 0x57, 0xf2, 0x00, 0x08); // node 3 off
    assert.deepEqual(poweredNodes(sim), [1, 2, 4, 5, 6, 7]);
    await clock.advance(20);
    assert.equal(await i2cget(sim.bus, 0x57, 0xf2), 0xf7);

    await i2cset(sim.bus, 0x57, 0xf2, 0x00, 0xfc); // nodes 2-7 off, node 1 and bit 0 untouched
    assert.deepEqual(poweredNodes(sim), [1]);
    await clock.advance(20);
    assert.equal(await i2cget(sim.bus, 0x57, 0xf2), 0x03);

    await i2cset(sim.bus, 0x57, 0xf2, 0xff, 0x20); // node 7 on
    assert.deepEqual(poweredNodes(sim), [1, 7]);
    await clock.advance(20);
    assert.equal(await i2cget(sim.bus, 0x57, 0xf2), 0x23);
    assert.equal(sim.ds4520.eepromControl, 0x23, 'persisted: SEE = 0');
  });

  it('wires node 5 to bit 7, node 6 to bit 6 and node 7 to bit 5', async () => {
    for (const [node, mask] of [
      [5, 0x80],
      [6, 0x40],
      [7, 0x20],
    ] as const) {
      await sim.bus.writeByte(0x57, 0xf4, 0x01); // shadow SRAM: no write cycle to wait for
      await sim.bus.writeByte(0x57, 0xf2, 0xff & ~mask);
      assert.deepEqual(poweredNodes(sim).includes(node), false, `node ${node}`);
      assert.equal(poweredNodes(sim).length, 6);
    }
  });

  it('with SEE = 0 writes 0xF2 to EEPROM too, counts it, and does not acknowledge during the write cycle', async () => {
    await sim.bus.writeByte(0x57, 0xf2, 0xf7);
    assert.equal(sim.ds4520.eepromWrites, 1);
    assert.equal(sim.ds4520.eepromControl, 0xf7);
    await assert.rejects(sim.bus.readByte(0x57, 0xf2), /EREMOTEIO/);
    await clock.advance(9);
    await assert.rejects(sim.bus.writeByte(0x57, 0xf2, 0xff), /EREMOTEIO/);
    await clock.advance(1);
    assert.equal(await sim.bus.readByte(0x57, 0xf2), 0xf7);
  });

  it('with SEE = 1 writes only the shadow SRAM; a board power cycle loads the EEPROM value again', async () => {
    await sim.bus.writeByte(0x57, 0xf4, 0x01);
    await sim.bus.writeByte(0x57, 0xf2, 0x03);
    assert.equal(await sim.bus.readByte(0x57, 0xf2), 0x03, 'no write cycle: answers at once');
    assert.equal(sim.ds4520.eepromWrites, 0);
    assert.equal(sim.ds4520.eepromControl, 0xff);
    sim.ds4520.powerCycleBoard();
    assert.equal(await sim.bus.readByte(0x57, 0xf2), 0xff);
    assert.equal(await sim.bus.readByte(0x57, 0xf4), 0x00, 'SEE is 0 after power-up');
  });

  it('shadows all of 0xF0-0xF3 in EEPROM, as 0xF2: SEE = 0 persists a write, SEE = 1 does not', async () => {
    await sim.bus.writeI2cBlock(0x57, 0xf0, 4, Buffer.from([0x11, 0x22, 0xff, 0x01])); // SEE = 0
    await clock.advance(20);
    await sim.bus.writeByte(0x57, 0xf4, 0x01);
    await sim.bus.writeI2cBlock(0x57, 0xf0, 4, Buffer.from([0x33, 0x44, 0xfb, 0x00]));
    const read = async () => [...(await sim.bus.readI2cBlock(0x57, 0xf0, 4, Buffer.alloc(4))).buffer];
    assert.deepEqual(await read(), [0x33, 0x44, 0xfb, 0x00]);
    sim.ds4520.powerCycleBoard();
    assert.deepEqual(await read(), [0x11, 0x22, 0xff, 0x01]);
  });

  it('does not acknowledge during the write cycle of its user EEPROM either, whatever SEE says', async () => {
    await sim.bus.writeByte(0x57, 0xf4, 0x01);
    await sim.bus.writeByte(0x57, 0x00, 0x5a);
    await assert.rejects(sim.bus.readByte(0x57, 0x00), /EREMOTEIO/);
    await clock.advance(10);
    assert.equal(await sim.bus.readByte(0x57, 0x00), 0x5a);
  });

  it('keeps user EEPROM (0x00-0x3F) and user SRAM (0xFA-0xFF) apart', async () => {
    await sim.bus.writeI2cBlock(0x57, 0x10, 3, Buffer.from([1, 2, 3]));
    await clock.advance(20);
    await sim.bus.writeI2cBlock(0x57, 0xfa, 2, Buffer.from([9, 8]));
    const eeprom = await sim.bus.readI2cBlock(0x57, 0x10, 3, Buffer.alloc(3));
    assert.deepEqual([...eeprom.buffer], [1, 2, 3]);
    sim.ds4520.powerCycleBoard();
    assert.deepEqual([...(await sim.bus.readI2cBlock(0x57, 0x10, 3, Buffer.alloc(3))).buffer], [1, 2, 3]);
    assert.deepEqual([...(await sim.bus.readI2cBlock(0x57, 0xfa, 2, Buffer.alloc(2))).buffer], [0, 0]);
  });

  it('reports in 0xF8 the slots that are powered and hold a module', async () => {
    sim = createSimulatedTpi1({ clock, modulesPresent: [1, 3, 5] });
    await sim.bus.writeByte(0x57, 0xf4, 0x01);
    assert.equal(await sim.bus.readByte(0x57, 0xf8), 0x02 | 0x08 | 0x80 | 0x01);
    await sim.bus.writeByte(0x57, 0xf2, 0xff & ~0x08); // node 3 off
    assert.equal(await sim.bus.readByte(0x57, 0xf8), 0x02 | 0x80 | 0x01);
    sim.ds4520.setModulePresent(2, true);
    assert.equal(await sim.bus.readByte(0x57, 0xf8), 0x02 | 0x04 | 0x80 | 0x01);
    await sim.bus.writeByte(0x57, 0xf8, 0x00); // read-only
    assert.equal(await sim.bus.readByte(0x57, 0xf8), 0x02 | 0x04 | 0x80 | 0x01);
  });

  it('tells listeners when 0xF2 changes', async () => {
    const changes: [number, number][] = [];
    sim.ds4520.onPowerChange((control, previous) => changes.push([control, previous]));
    await sim.bus.writeByte(0x57, 0xf4, 0x01);
    await sim.bus.writeByte(0x57, 0xf2, 0xfb);
    await sim.bus.writeByte(0x57, 0xf2, 0xfb);
    sim.ds4520.powerCycleBoard();
    assert.deepEqual(changes, [
      [0xfb, 0xff],
      [0xff, 0xfb],
    ]);
  });

  it('does not answer at an address nobody holds', async () => {
    await assert.rejects(sim.bus.readByte(0x22, 0x00), /ENXIO/);
  });

  describe('state file', () => {
    let dir: string;
    let stateFile: string;

    beforeEach(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'tpm-ds4520-'));
      stateFile = path.join(dir, 'sim', 'tpi1.json');
    });

    afterEach(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it(
      'keeps the current power and the EEPROM across a bridge restart; a power cycle then loads the ' + 'EEPROM',
      async () => {
        const first = createSimulatedTpi1({ clock, stateFile });
        await first.bus.writeByte(0x57, 0xf2, 0xef); // node 4 off, into EEPROM (SEE = 0)
        await clock.advance(20);
        await first.bus.writeByte(0x57, 0xf4, 0x01);
        await first.bus.writeByte(0x57, 0xf2, 0xeb); // node 2 off too, shadow SRAM only

        const second = createSimulatedTpi1({ clock, stateFile });
        assert.equal(await second.bus.readByte(0x57, 0xf2), 0xeb, 'the board stayed powered');
        assert.equal(await second.bus.readByte(0x57, 0xf4), 0x01);
        assert.equal(second.ds4520.eepromWrites, 1);
        second.ds4520.powerCycleBoard();

        const third = createSimulatedTpi1({ clock, stateFile });
        assert.equal(await third.bus.readByte(0x57, 0xf2), 0xef, 'the EEPROM value after the power cycle');
      },
    );

    it('refuses a damaged state file with its path in the message', () => {
      writeFileSync(path.join(dir, 'bad.json'), '{"format": "something else"}');
      assert.throws(
        () => createSimulatedTpi1({ clock, stateFile: path.join(dir, 'bad.json') }),
        /state file .*bad\.json is damaged/,
      );
    });
  });
});
