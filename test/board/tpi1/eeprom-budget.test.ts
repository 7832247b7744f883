import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeClock } from '../../../src/util/fake-clock.js';
import { TpmError } from '../../../src/util/errors.js';
import { BUDGET_FILE_NAME, DAY_MS, EepromWriteBudget, fileBudgetStore } from '../../../src/board/tpi1/eeprom-budget.js';
import { createSimulatedTpi1 } from '../../../src/board/simulator/tpi1.js';
import { driverFor, settle } from './helpers.js';

describe('EEPROM write budget', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tpm-budget-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts writes in a rolling 24 hours', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const budget = new EepromWriteBudget(fileBudgetStore(dir), 3, clock);
    await budget.reserve();
    await clock.advance(12 * 60 * 60 * 1000);
    await budget.reserve();
    await budget.reserve();
    await assert.rejects(budget.reserve(), (error: unknown) => error instanceof TpmError && error.code === 'BUSY');
    // 12 h later the first write has left the window, the other two have not.
    await clock.advance(12 * 60 * 60 * 1000);
    assert.equal(await budget.used(), 2);
    await budget.reserve();
    await assert.rejects(budget.reserve(), /the next is allowed at 2026-01-02T12:00:00.000Z/);
  });

  it('keeps the count across a restart in a JSON file', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    await new EepromWriteBudget(fileBudgetStore(dir), 2, clock).reserve();
    await new EepromWriteBudget(fileBudgetStore(dir), 2, clock).reserve();
    const saved = JSON.parse(readFileSync(path.join(dir, BUDGET_FILE_NAME), 'utf8')) as { writes: number[] };
    assert.equal(saved.writes.length, 2);
    await assert.rejects(new EepromWriteBudget(fileBudgetStore(dir), 2, clock).reserve(), /budget spent/);
    clock.jump(Date.UTC(2026, 0, 1) + DAY_MS);
    await new EepromWriteBudget(fileBudgetStore(dir), 2, clock).reserve();
  });

  it('refuses a damaged counter file instead of forgetting the writes', async () => {
    writeFileSync(path.join(dir, BUDGET_FILE_NAME), '{"writes": "many"}');
    const budget = new EepromWriteBudget(fileBudgetStore(dir), 2, new FakeClock());
    await assert.rejects(budget.reserve(), (error: unknown) => error instanceof TpmError && /damaged/.test(error.message));
  });

  it('is shared by driver restarts through stateDir', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const sim = createSimulatedTpi1({ clock });
    const options = { persistPowerState: true, eepromWritesPerDay: 1, stateDir: dir, budgetStore: undefined };
    const first = driverFor(sim, clock, options);
    await first.open();
    await settle(clock, first.setPower(3, false));
    await first.close();
    const second = driverFor(sim, clock, options);
    await second.open();
    await assert.rejects(settle(clock, second.setPower(3, true)), /budget spent/);
    assert.equal(sim.ds4520.control, 0xf7);
  });
});
