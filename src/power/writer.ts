import type { BoardDriver } from '../board/types.js';
import type { Config } from '../config/schema.js';
import { monotonicNow, sleep, type Clock } from '../util/clock.js';
import { TpmError, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { Mutex } from '../util/mutex.js';
import type { PowerJournal } from './journal.js';
import type { NodeLifecycle } from './types.js';

export interface PowerWriterDeps {
  driver: BoardDriver;
  power: Config['power'];
  clock: Clock;
  logger: Logger;
  view: NodeLifecycle;
  journal: PowerJournal;
  /** Aborted when the bridge stops: a wait before a write ends then, nothing written. */
  stopping: AbortSignal;
}

/**
 * The board-wide write lock of the power service: two power changes never interleave,
 * on_stagger is measured between the writes it orders, and every write is read back and
 * handed to the node model (power is published as the board reads it after the write, never as
 * asked).
 */
export class PowerWriter {
  private readonly lock = new Mutex();
  private readonly lastOffAt = new Map<number, number>();
  private lastOnAt = Number.NEGATIVE_INFINITY;
  /** Saves of the last commanded power still being written: a stop waits for them. */
  private readonly saves = new Set<Promise<void>>();

  constructor(private readonly deps: PowerWriterDeps) {}

  /** Resolves once every save of last commanded power begun so far is written (or failed, logged). */
  async saved(): Promise<void> {
    await Promise.all([...this.saves]);
  }

  /** When this bridge last switched the node off (for min_off_time), on the monotonic clock (monotonicNow). */
  offAt(n: number): number | undefined {
    return this.lastOffAt.get(n);
  }

  /**
   * Writes one node's power under the board lock and hands the read-back on. A half of a hard
   * reboot: its off is no power anyone asked for (not saved: see commanded()); its on is one a
   * stop never prevents (its node must come back on).
   */
  write(n: number, on: boolean, rebootHalf?: 'off' | 'on'): Promise<boolean> {
    const { clock, power, driver, view } = this.deps;
    // Not async itself: the lock's promise is the caller's (an async wrapper returning it would
    // cost every command another promise and two turns before its answer).
    return this.lock.run(async () => {
      if (on) {
        // on_stagger: nodes switched on together start this far apart (inrush current). Monotonic:
        // a wall clock stepped back by NTP would otherwise hold the ON for as long as the step.
        const wait = this.lastOnAt + power.on_stagger - monotonicNow(clock);
        if (wait > 0 && rebootHalf === 'on') await sleep(clock, wait);
        else if (wait > 0) await this.waitBeforeWrite(wait, n);
      }
      // restore_on_start: last: saved before the write (a kill between a write and its save would
      // restore the older power); the halves of a hard reboot were saved as on at its start.
      if (power.restore_on_start === 'last' && !rebootHalf) await this.commanded(n, on);
      let readBack: boolean;
      try {
        readBack = await driver.setPower(n, on);
      } catch (error) {
        // The write may or may not have happened (a BMC stores the new power before it answers, so
        // a lost answer tells nothing): learn what the board says now, and never keep the reading
        // from before the write as if it were known.
        if (!(await this.refresh(n))) {
          view.powerUnknown(n, `switching ${on ? 'on' : 'off'} failed: ${errorMessage(error)}`);
        }
        throw error;
      }
      view.setPower(n, readBack);
      if (readBack !== on)
        throw new TpmError(
          'VERIFY',
          `node ${n} reads ${readBack ? 'ON' : 'OFF'} after switching it ${on ? 'on' : 'off'}`,
        );
      if (on) this.lastOnAt = monotonicNow(clock);
      else this.lastOffAt.set(n, monotonicNow(clock));
      return readBack;
    });
  }

  /**
   * Saves the power a node was asked for (only restore_on_start: last reads it); the returned
   * save never rejects. write() waits for it before the write, and a hard reboot, which asks for
   * on from its start, before its off: a crash after a write never restores the power before it.
   * An "already on/off" answer, which writes nothing, does not wait.
   */
  commanded(n: number, on: boolean): Promise<void> {
    if (this.deps.power.restore_on_start !== 'last') return Promise.resolve();
    const save: Promise<void> = this.deps.journal
      .commanded(n, on)
      .catch((error: unknown) => this.deps.logger.warn(`saving node ${n}'s power failed: ${errorMessage(error)}`))
      .finally(() => this.saves.delete(save));
    this.saves.add(save);
    return save;
  }

  /** The board's own reset of a node (a Turing Pi 2's), under the same lock. */
  async reset(n: number): Promise<void> {
    const { driver } = this.deps;
    if (!driver.reset) throw new TpmError('BAD_COMMAND', 'this board has no reset');
    await this.lock.run(() => driver.reset!(n));
  }

  /** A wait before a node is switched on (on_stagger, min_off_time): a stop ends it, nothing written. */
  async waitBeforeWrite(ms: number, n: number): Promise<void> {
    try {
      await sleep(this.deps.clock, ms, this.deps.stopping);
    } catch {
      throw new TpmError('BUSY', `the bridge is stopping: node ${n} was not switched on`);
    }
  }

  /**
   * Reads the node's power now, as a poll would (the model's reading may be a poll old: the node
   * may have been switched elsewhere since); undefined when the board could not be read.
   */
  async look(n: number): Promise<boolean | null | undefined> {
    let power: boolean | null;
    try {
      power = (await this.deps.driver.readPower()).power[n - 1] ?? null;
    } catch {
      return undefined;
    }
    this.deps.view.observe(n, power);
    return power;
  }

  /**
   * Reads the board again and hands the node's power to the model; false when the board could not
   * be read (the poll will tell; the caller's error already says what failed).
   */
  async refresh(n: number): Promise<boolean> {
    try {
      const reading = await this.deps.driver.readPower();
      this.deps.view.setPower(n, reading.power[n - 1] ?? null);
      return true;
    } catch {
      return false;
    }
  }
}
