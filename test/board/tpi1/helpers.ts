import type { FakeClock } from '../../../src/util/fake-clock.js';
import { silentLogger } from '../../../src/util/logger.js';
import { Tpi1Driver, type Tpi1DriverOptions } from '../../../src/board/tpi1/driver.js';
import { memoryBudgetStore } from '../../../src/board/tpi1/eeprom-budget.js';
import type { SimulatedTpi1 } from '../../../src/board/simulator/tpi1.js';
import type { TransactionRecord } from '../../../src/board/simulator/i2c-bus.js';

/**
 * Lets a promise run to its end while the fake clock moves on in small steps, so that code
 * waiting on the clock (NACK retries, oscillator polls) proceeds. Fails when it never ends.
 */
export async function settle<T>(clock: FakeClock, promise: Promise<T>, limitMs = 5000, stepMs = 1): Promise<T> {
  let done = false;
  const outcome = promise.then(
    (value) => {
      done = true;
      return { ok: true as const, value };
    },
    (error: unknown) => {
      done = true;
      return { ok: false as const, error };
    },
  );
  for (let waited = 0; !done && waited <= limitMs; waited += stepMs) await clock.advance(stepMs);
  if (!done) throw new Error(`the operation did not finish within ${limitMs} ms of fake time`);
  const result = await outcome;
  if (!result.ok) throw result.error;
  return result.value;
}

/** A Tpi1Driver on a simulated board, with test defaults (no lock file, kernel does not own the RTC). */
export function driverFor(sim: SimulatedTpi1, clock: FakeClock, options: Partial<Tpi1DriverOptions> = {}): Tpi1Driver {
  return new Tpi1Driver({
    bus: sim.bus,
    clock,
    logger: silentLogger(),
    persistPowerState: false,
    eepromWritesPerDay: 200,
    protectedNodes: [1],
    lock: null,
    rtcOwnedByKernel: async () => false,
    runHwclock: async () => {
      throw new Error('hwclock must not run in this test');
    },
    budgetStore: memoryBudgetStore(),
    ...options,
  });
}

/** Records every bus transaction of a simulated board. */
export function recordTransactions(sim: SimulatedTpi1): TransactionRecord[] {
  const records: TransactionRecord[] = [];
  sim.bus.onTransaction((record) => records.push(record));
  return records;
}

/** Writes 0xF2 directly, as another tool would (the EEPROM write cycle passes on the clock). */
export async function setControlDirectly(sim: SimulatedTpi1, clock: FakeClock, value: number): Promise<void> {
  await sim.bus.writeByte(0x57, 0xf2, value);
  await clock.advance(50);
}
