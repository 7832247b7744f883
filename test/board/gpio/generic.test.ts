import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GpioDriver } from '../../../src/board/gpio/driver.js';
import { createSimulatedGpioLines } from '../../../src/board/simulator/generic.js';

describe('generic simulated GPIO board with the real GpioDriver', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tpm-generic-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function driverOn(sim: ReturnType<typeof createSimulatedGpioLines>): GpioDriver {
    return new GpioDriver({
      lines: sim.mapping,
      gpio: sim.gpio,
      currentLevel: sim.currentLevel,
      type: 'simulator',
      model: 'GPIO cluster (simulated)',
    });
  }

  it('drives 512 nodes, switching only the ones asked for, and keeps power across a restart', async () => {
    const stateFile = join(dir, 'generic.json');
    const sim = createSimulatedGpioLines({ nodes: 512, stateFile });
    const driver = driverOn(sim);
    await driver.open();
    assert.equal(driver.info.nodes, 512);
    const start = (await driver.readPower()).power;
    assert.equal(start.length, 512);
    assert.ok(start.every((on) => on === false));

    await driver.setPower(257, true);
    await driver.setPower(512, true);
    const after = (await driver.readPower()).power;
    assert.deepEqual(
      after.flatMap((on, i) => (on ? [i + 1] : [])),
      [257, 512],
    );
    await driver.close();
    assert.equal(sim.stats.unexports, 0);

    const restarted = createSimulatedGpioLines({ nodes: 512, stateFile });
    const again = driverOn(restarted);
    await again.open();
    const power = (await again.readPower()).power;
    assert.deepEqual(
      power.flatMap((on, i) => (on ? [i + 1] : [])),
      [257, 512],
    );
    assert.equal(restarted.stats.glitches, 0);
  });

  it('maps node n to line n, active high, for 1 to 1024 nodes', () => {
    assert.deepEqual(createSimulatedGpioLines({ nodes: 2 }).mapping, {
      1: { line: 1, active_low: false },
      2: { line: 2, active_low: false },
    });
    assert.equal(Object.keys(createSimulatedGpioLines({ nodes: 1024 }).mapping).length, 1024);
    assert.throws(() => createSimulatedGpioLines({ nodes: 1025 }), /1-1024/);
  });
});
