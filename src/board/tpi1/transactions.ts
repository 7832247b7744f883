import { sleep, type Clock } from '../../util/clock.js';
import { TpmError, errorMessage } from '../../util/errors.js';
import type { Logger } from '../../util/logger.js';
import type { I2cBus } from './i2c.js';

/** Bounds of the driver's retries and waits. All waits run on the injected clock. */
export interface Tpi1Timing {
  /** Pairs of reads of a register before disagreeing reads are a bus fault. */
  readAttempts: number;
  /** Tries of one bus transaction that fails with an error (not a disagreement). */
  transferAttempts: number;
  /** Pause between retries. */
  retryDelayMs: number;
  /** How long the read-back after a write may be refused (DS4520 EEPROM write cycle: a few ms). */
  readBackTimeoutMs: number;
  /** How long to wait for OSCRUN to clear after clearing ST (datasheet: a few oscillator cycles). */
  oscillatorStopTimeoutMs: number;
}

export const DEFAULT_TPI1_TIMING: Tpi1Timing = {
  readAttempts: 4,
  transferAttempts: 3,
  retryDelayMs: 2,
  readBackTimeoutMs: 50,
  oscillatorStopTimeoutMs: 100,
};

/**
 * The bus as the two chips' code uses it: the open bus with the clock, logger and bounds they
 * wait and retry by, and one transaction retried a few times when it fails with an error.
 * The caller orders the transactions (the driver's queue); this holds no state of its own.
 */
export class BusTransactions {
  constructor(
    readonly bus: I2cBus,
    readonly clock: Clock,
    readonly logger: Logger,
    readonly timing: Tpi1Timing,
    /** The bus number, for messages. */
    readonly busNumber: number,
  ) {}

  /** One bus transaction, retried a few times when it fails with an error. */
  async transfer<T>(what: string, operation: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await operation();
      } catch (error) {
        await this.afterFailure(what, attempt, error);
      }
    }
  }

  /**
   * A one-byte read of `register` at `address`, retried as transfer() retries; `what` names the
   * register in a failure ("read of <what> failed ..."). Without transfer()'s closure and with
   * the message built only on failure: three of these are on every power command's path.
   */
  async readByte(address: number, register: number, what: string): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.bus.readByte(address, register);
      } catch (error) {
        await this.afterFailure(`read of ${what}`, attempt, error);
      }
    }
  }

  /** After a failed try: the pause before the next one, or the error once every try is used. */
  private async afterFailure(what: string, attempt: number, error: unknown): Promise<void> {
    this.logger.debug({ what, attempt, err: errorMessage(error) }, 'I2C transaction failed');
    if (attempt >= this.timing.transferAttempts) {
      throw new TpmError(
        'BUS',
        `${what} failed ${this.timing.transferAttempts} times on I2C bus ${this.busNumber}: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    await sleep(this.clock, this.timing.retryDelayMs);
  }
}
