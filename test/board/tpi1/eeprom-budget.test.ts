import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeClock } from '../../../src/util/fake-clock.js';
import { TpmError } from '../../../src/util/errors.js';
import { EepromWriteBudget, fileBudgetStore } from '../../../src/board/tpi1/eeprom-budget.js';
import { createSimulatedTpi1 } from '../../../src/board/simulator/tpi1.js';
import { driverFor, settle } from './helpers.js';
import { watchFsync } from '../../support/fsync-watch.js';
import { captureLogger } from '../../support/log-capture.js';

/** The budget's file in state_dir (docs/configuration.md, board.eeprom_writes_per_day). */
const BUDGET_FILE_NAME = 'tpi1-eeprom-writes.json';
const DAY_MS = 24 * 60 * 60 * 1000;

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

  it('keeps its 24 hours when the system clock steps forward a year (NTP) or back', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const budget = new EepromWriteBudget(fileBudgetStore(dir), 2, clock);
    await budget.reserve();
    await budget.reserve();
    clock.step(Date.UTC(2027, 0, 1));
    await assert.rejects(budget.reserve(), /budget spent: 2 writes .* the next is allowed at 2027-01-02T00:00:00.000Z/);
    clock.step(Date.UTC(2025, 0, 1));
    await clock.advance(DAY_MS);
    await budget.reserve();
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

  it(
    'resets a damaged counter file with a warning, keeping it aside, instead of refusing every write (issue ' + '13)',
    async () => {
      writeFileSync(path.join(dir, BUDGET_FILE_NAME), '{"writes": "many"}');
      const log = captureLogger();
      const budget = new EepromWriteBudget(fileBudgetStore(dir, log.logger), 2, new FakeClock());
      await budget.reserve();
      assert.equal(await budget.used(), 1);
      assert.ok(
        log.messages(40).some((m) => m.includes(BUDGET_FILE_NAME) && /not valid.*kept as/.test(m)),
        log.text(),
      );
      assert.ok(
        readdirSync(dir).some((name) => name.startsWith(`${BUDGET_FILE_NAME}.corrupt-`)),
        'the damaged file is kept aside',
      );
      const saved = JSON.parse(readFileSync(path.join(dir, BUDGET_FILE_NAME), 'utf8')) as { writes: number[] };
      assert.equal(saved.writes.length, 1);
    },
  );

  it('fsyncs the new counter before it replaces the old one (issue 13)', async () => {
    const file = path.join(dir, BUDGET_FILE_NAME);
    const synced = await watchFsync(
      () => ({ fileThere: existsSync(file) }),
      () => new EepromWriteBudget(fileBudgetStore(dir), 3, new FakeClock()).reserve(),
    );
    assert.ok(synced.length >= 1, 'no fsync at all');
    assert.equal(synced[0]?.fileThere, false, 'the data must be synced before the rename puts it in place');
    assert.equal((JSON.parse(readFileSync(file, 'utf8')) as { writes: number[] }).writes.length, 1);
  });

  it('an empty file (a power cut before the data reached the disk) counts as damaged, not as a refusal', async () => {
    writeFileSync(path.join(dir, BUDGET_FILE_NAME), '');
    const budget = new EepromWriteBudget(fileBudgetStore(dir), 2, new FakeClock());
    await budget.reserve();
    assert.ok(!readdirSync(dir).some((name) => name.endsWith('.tmp')), 'no temp file left');
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
