import { JsonStateFile } from '../../state/store.js';
import { monotonicNow, monotonicOfWall, wallOfMonotonic, type Clock } from '../../util/clock.js';
import { TpmError } from '../../util/errors.js';
import type { Logger } from '../../util/logger.js';
import { isoTime } from '../../util/iso-time.js';

/**
 * The EEPROM write budget of persist_power_state (docs/configuration.md, docs/hardware.md "DS4520 at 0x57"):
 * every 0xF2 write with SEE = 0 wears the DS4520's EEPROM, so at most
 * `eeprom_writes_per_day` are made in any rolling 24 hours. The times of the writes are kept
 * in a store so that a restart does not reset the count.
 */

const DAY_MS = 24 * 60 * 60 * 1000;

/** Where the times (ms since the epoch) of recent EEPROM writes are kept. */
export interface EepromBudgetStore {
  load(): Promise<number[]>;
  save(writeTimes: number[]): Promise<void>;
}

export function memoryBudgetStore(initial: number[] = []): EepromBudgetStore {
  let saved = [...initial];
  return {
    load: async () => [...saved],
    save: async (writeTimes) => {
      saved = [...writeTimes];
    },
  };
}

const BUDGET_FILE_NAME = 'tpi1-eeprom-writes.json';

/**
 * A JSON file `<directory>/tpi1-eeprom-writes.json`, written like every state file: a temp file,
 * fsync, rename, fsync of the directory (a power cut never leaves it empty or half written). A
 * damaged file is kept aside and the count starts again, with a warning: refusing every write
 * until someone deletes it would leave power stuck, and at most one day's writes are forgotten.
 */
export function fileBudgetStore(directory: string, logger?: Logger): EepromBudgetStore {
  const file = new JsonStateFile<{ writes: number[] }>({
    dir: directory,
    name: BUDGET_FILE_NAME,
    defaults: () => ({ writes: [] }),
    validate: (raw) => {
      const writes = (raw as { writes?: unknown } | null)?.writes;
      if (!Array.isArray(writes) || !writes.every((t) => typeof t === 'number' && Number.isFinite(t))) {
        throw new Error('"writes" is not a list of times');
      }
      return { writes: writes as number[] };
    },
    ...(logger ? { logger } : {}),
  });
  return {
    load: async () => (await file.load()).writes,
    save: (writeTimes) => file.save({ writes: writeTimes }),
  };
}

export class EepromWriteBudget {
  /**
   * The writes' times on the monotonic clock: a step of the system clock (NTP setting a Pi that
   * booted in the past) neither empties the 24 hours nor stretches them. The store holds wall-clock
   * times (a restart's monotonic clock starts afresh): turned into monotonic ones when loaded, and
   * back, in the clock's time as it is then, when saved.
   */
  private writes: number[] | null = null;

  constructor(
    private readonly store: EepromBudgetStore,
    private readonly writesPerDay: number,
    private readonly clock: Clock,
  ) {}

  /** Writes counted in the last 24 hours. */
  async used(): Promise<number> {
    return (await this.recent()).length;
  }

  /**
   * Counts one EEPROM write, or refuses it when the budget is spent. Called before the
   * write and saved at once: a write that fails on the bus may still have reached the
   * EEPROM, and a crash right after it must not forget it.
   */
  async reserve(): Promise<void> {
    const writes = await this.recent();
    if (writes.length >= this.writesPerDay) {
      const oldest = Math.min(...writes);
      const nextAllowed = isoTime(wallOfMonotonic(this.clock, oldest + DAY_MS));
      throw new TpmError(
        'BUSY',
        `EEPROM write budget spent: ${writes.length} writes of 0xF2 to the DS4520's EEPROM in the last 24 hours ` +
          `(board.eeprom_writes_per_day: ${this.writesPerDay}); the next is allowed at ${nextAllowed}. ` +
          'Raise the limit, or set persist_power_state: false to write the shadow SRAM instead',
      );
    }
    writes.push(monotonicNow(this.clock));
    this.writes = writes;
    await this.store.save(writes.map((at) => wallOfMonotonic(this.clock, at)));
  }

  private async recent(): Promise<number[]> {
    if (this.writes === null) {
      const saved = await this.store.load();
      this.writes ??= saved.map((at) => monotonicOfWall(this.clock, at));
    }
    const now = monotonicNow(this.clock);
    // Writes stamped in the future (an earlier run's, the clock stepped back since) count until 24 h away.
    this.writes = this.writes.filter((time) => Math.abs(now - time) < DAY_MS);
    return this.writes;
  }
}
