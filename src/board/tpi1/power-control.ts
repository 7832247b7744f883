import { monotonicNow, sleep } from '../../util/clock.js';
import { TpmError, errorMessage } from '../../util/errors.js';
import type { PowerReading } from '../types.js';
import type { EepromWriteBudget } from './eeprom-budget.js';
import {
  DS4520,
  DS4520_ADDRESS,
  MASTER_NODE,
  SEE_BIT,
  TPI1_NODE_COUNT,
  UNUSED_POWER_BIT,
  hex,
  nodeMask,
} from './registers.js';
import type { BusTransactions } from './transactions.js';

const NODES = Array.from({ length: TPI1_NODE_COUNT }, (_, i) => i + 1);

export interface PowerControlOptions {
  /** false: SEE = 1, 0xF2 writes stay in shadow SRAM; true: SEE = 0, writes go to EEPROM. */
  persist: boolean;
  /** Nodes whose bit is never cleared while writes go to EEPROM (node 1 among them). */
  protectedInEeprom: ReadonlySet<number>;
  /** The EEPROM writes of 0xF2 allowed (persist mode only). */
  budget: EepromWriteBudget;
}

/**
 * Node power through the DS4520 at 0x57 (docs/hardware.md "DS4520 at 0x57" and "How the driver
 * switches a node"): 0xF2's one-bit read-modify-write, SEE in 0xF4, presence from 0xF8. It keeps
 * the last value of 0xF2 it trusts; the driver calls it on its queue, one operation at a time.
 */
export class Ds4520PowerControl {
  /** The last value of 0xF2 we trust: what we read and confirmed, or read back after our write. */
  private lastKnown: number | null = null;
  /** The same for 0xF4, whose other bits a write of SEE keeps. */
  private lastKnownConfig: number | null = null;

  constructor(
    private readonly io: BusTransactions,
    private readonly options: PowerControlOptions,
  ) {}

  /** 0xF2 from two agreeing reads, now the trusted value. */
  async readControl(): Promise<number> {
    this.lastKnown = await this.readAgreeing(DS4520.IO_CONTROL_0, 'power control 0xF2');
    return this.lastKnown;
  }

  /** Power from 0xF2 and, when it can be read, presence from 0xF8. */
  async read(): Promise<PowerReading> {
    const control = await this.readControl();
    let status: number | null = null;
    try {
      status = await this.io.readByte(DS4520_ADDRESS, DS4520.IO_STATUS_0, 'I/O status 0xF8');
    } catch (error) {
      // Power is what matters; presence can wait for the next poll.
      this.io.logger.warn({ err: errorMessage(error) }, 'reading module presence (0xF8) failed');
    }
    return readingFrom(control, status);
  }

  /** Switches one node (docs/hardware.md "How the driver switches a node"); the bit as read back. */
  async switchNode(node: number, on: boolean): Promise<boolean> {
    const { io } = this;
    const { persist } = this.options;
    const mask = nodeMask(node);
    const current = await this.readControlConfirmed();
    this.lastKnown = current;
    if (((current & mask) !== 0) === on) return on; // already so: a bit is written only when it changes
    const wanted = on ? current | mask : current & ~mask & 0xff;

    if (!on && persist && this.options.protectedInEeprom.has(node)) {
      throw new TpmError(
        'PROTECTED',
        `node ${node} is protected: its power bit is never cleared while writes go to EEPROM ` +
          '(persist_power_state: true); a persisted off master cannot boot again (docs/hardware.md)',
      );
    }
    if (persist && (wanted & nodeMask(MASTER_NODE)) === 0) {
      // The whole byte goes to EEPROM: node 1's bit, cleared in shadow SRAM by another tool or
      // while SEE was 1, would be persisted with it, and the master would never boot again.
      throw new TpmError(
        'PROTECTED',
        `node ${MASTER_NODE}'s bit is clear in 0xF2 (${hex(current)}): writing node ${node}'s bit to EEPROM ` +
          `(persist_power_state: true) would persist a master that cannot boot again (docs/hardware.md); ` +
          `switch node ${MASTER_NODE} on first`,
      );
    }

    // A board power cycle while we run resets 0xF4: check SEE before every write.
    await this.ensureSee('write');

    // Exactly the target bit changes and bit 0 never does: asserted, not trusted.
    if ((wanted ^ current) !== mask || (wanted & UNUSED_POWER_BIT) !== (current & UNUSED_POWER_BIT)) {
      throw new Error(`internal: ${hex(wanted)} differs from ${hex(current)} in more than node ${node}'s bit`);
    }

    const writeAttempts = 2;
    for (let attempt = 1; ; attempt++) {
      if (persist) await this.options.budget.reserve();
      let writeError: unknown = null;
      try {
        await io.bus.writeByte(DS4520_ADDRESS, DS4520.IO_CONTROL_0, wanted);
      } catch (error) {
        writeError = error;
      }
      const readBack = await this.readBackControl(wanted);
      this.lastKnown = readBack;
      const nodeIsOn = (readBack & mask) !== 0;
      if (nodeIsOn === on) {
        if (writeError)
          io.logger.warn({ node, err: errorMessage(writeError) }, 'write of 0xF2 reported an error but took');
        if (readBack !== wanted) {
          io.logger.warn(
            { node, wrote: hex(wanted), readBack: hex(readBack) },
            'other power bits of 0xF2 differ from what was written (changed by someone else?)',
          );
        }
        io.logger.debug({ node, on, control: hex(readBack) }, 'node power switched');
        return nodeIsOn;
      }
      if (writeError && readBack === current && attempt < writeAttempts) {
        // The write did not reach the chip: nothing changed, so the same write is safe again.
        io.logger.warn({ node, err: errorMessage(writeError) }, 'write of 0xF2 failed; trying once more');
        await sleep(io.clock, io.timing.retryDelayMs);
        continue;
      }
      if (writeError) {
        throw new TpmError(
          'BUS',
          `switching node ${node} ${on ? 'on' : 'off'} failed: writing 0xF2 = ${hex(wanted)} to 0x57 gave ` +
            `"${errorMessage(writeError)}", and 0xF2 reads ${hex(readBack)}`,
          { cause: writeError },
        );
      }
      throw new TpmError(
        'VERIFY',
        `node ${node} did not switch ${on ? 'on' : 'off'}: wrote 0xF2 = ${hex(wanted)} (was ${hex(current)}), ` +
          `read back ${hex(readBack)}`,
      );
    }
  }

  /**
   * Sets bit 0 (SEE) of 0xF4 per persist_power_state, keeping the other bits; verified
   * (docs/hardware.md "Persistence and wear (SEE)"). 'open' at start, 'write' before each write of 0xF2.
   */
  async ensureSee(when: 'open' | 'write'): Promise<void> {
    const { io } = this;
    const wantSee = !this.options.persist; // SEE = 1: writes stay in shadow SRAM
    // One read is enough to see that all is well; a change is based on two agreeing reads.
    const quick = await io.readByte(DS4520_ADDRESS, DS4520.CONFIG, 'configuration 0xF4');
    if (seeIs(quick, wantSee)) {
      // Only ever asks a later change for a second pair of reads: a glitch here costs a pair.
      this.lastKnownConfig = quick;
      return;
    }
    const config = await this.readConfirmed(DS4520.CONFIG, 'configuration 0xF4', this.lastKnownConfig);
    this.lastKnownConfig = config;
    if (seeIs(config, wantSee)) return;
    const wanted = wantSee ? config | SEE_BIT : config & ~SEE_BIT & 0xff;
    const log = when === 'open' ? io.logger.info.bind(io.logger) : io.logger.warn.bind(io.logger);
    log(
      { was: hex(config), now: hex(wanted) },
      when === 'open'
        ? `setting SEE so that power writes go to ${wantSee ? 'shadow SRAM' : 'EEPROM'}`
        : 'SEE in 0xF4 was reset (board power cycle?); setting it again before writing 0xF2',
    );
    try {
      await io.bus.writeByte(DS4520_ADDRESS, DS4520.CONFIG, wanted);
    } catch (error) {
      io.logger.debug({ err: errorMessage(error) }, 'write of 0xF4 reported an error; checking');
    }
    let readBack = await this.readAfterWrite(DS4520.CONFIG);
    if (readBack !== wanted) readBack = await this.readAfterWrite(DS4520.CONFIG);
    this.lastKnownConfig = readBack;
    if (readBack !== wanted) {
      throw new TpmError(
        'VERIFY',
        `setting SEE in 0xF4 of the DS4520 failed: wrote ${hex(wanted)} (was ${hex(config)}), ` +
          `read back ${hex(readBack)}; no power bit was written`,
      );
    }
  }

  /** 0xF2 as a base for a read-modify-write: readConfirmed against the last value trusted. */
  private readControlConfirmed(): Promise<number> {
    return this.readConfirmed(DS4520.IO_CONTROL_0, 'power control 0xF2', this.lastKnown);
  }

  /**
   * A register as a base for a read-modify-write (docs/hardware.md "How the driver switches a
   * node"): two agreeing reads, and when the value differs from the last known one (bits we did
   * not change) it is confirmed by a second pair before it is used.
   */
  private async readConfirmed(register: number, what: string, lastKnown: number | null): Promise<number> {
    const { logger, timing } = this.io;
    for (let attempt = 1; attempt <= timing.readAttempts; attempt++) {
      const value = await this.readAgreeing(register, what);
      if (lastKnown === null || value === lastKnown) return value;
      const confirmation = await this.readAgreeing(register, what);
      if (confirmation === value) {
        logger.warn(
          { was: hex(lastKnown), now: hex(value) },
          `${what} changed outside this bridge (another tool, or a board power cycle)`,
        );
        return value;
      }
      logger.warn({ first: hex(value), second: hex(confirmation) }, `unstable reads of ${what}; reading again`);
    }
    throw new TpmError('BUS', `reads of ${what} on I2C bus ${this.io.busNumber} do not settle; nothing was written`);
  }

  /** Two reads of a DS4520 register that agree; a glitch on the bus never becomes a base value. */
  private async readAgreeing(register: number, what: string): Promise<number> {
    const { io } = this;
    const seen: string[] = [];
    for (let attempt = 1; attempt <= io.timing.readAttempts; attempt++) {
      const first = await io.readByte(DS4520_ADDRESS, register, what);
      const second = await io.readByte(DS4520_ADDRESS, register, what);
      if (first === second) return first;
      seen.push(`${hex(first)}/${hex(second)}`);
      io.logger.debug({ register: hex(register), first: hex(first), second: hex(second) }, 'reads disagree');
    }
    throw new TpmError(
      'BUS',
      `reads of ${what} on I2C bus ${io.busNumber} disagree (${seen.join(', ')}); nothing was written`,
    );
  }

  /**
   * The read-back after a write. While the DS4520 writes its EEPROM it does not acknowledge
   * (docs/hardware.md "DS4520 at 0x57", "Write cycle"), so errors are retried until readBackTimeoutMs.
   * A value unlike what was written is read once more, so a glitch neither fails a good write nor
   * passes a bad one.
   */
  private async readBackControl(written: number): Promise<number> {
    const value = await this.readAfterWrite(DS4520.IO_CONTROL_0);
    if (value === written) return value;
    return this.readAfterWrite(DS4520.IO_CONTROL_0);
  }

  private async readAfterWrite(register: number): Promise<number> {
    const { bus, clock, timing } = this.io;
    const deadline = monotonicNow(clock) + timing.readBackTimeoutMs;
    for (;;) {
      try {
        return await bus.readByte(DS4520_ADDRESS, register);
      } catch (error) {
        if (monotonicNow(clock) >= deadline) {
          throw new TpmError(
            'BUS',
            `the DS4520 at 0x57 did not answer for ${timing.readBackTimeoutMs} ms after a write of ` +
              `${hex(register)}: ${errorMessage(error)}`,
            { cause: error },
          );
        }
        await sleep(clock, timing.retryDelayMs);
      }
    }
  }
}

/** Whether SEE (bit 0 of 0xF4) is as wanted. */
function seeIs(config: number, wanted: boolean): boolean {
  return ((config & SEE_BIT) !== 0) === wanted;
}

/** Power and presence from 0xF2 and 0xF8 (docs/hardware.md: status 1 = present and powered). */
function readingFrom(control: number, status: number | null): PowerReading {
  const power = NODES.map((node) => (control & nodeMask(node)) !== 0);
  const present = NODES.map((node, index) => {
    if (!power[index] || status === null) return null; // an unpowered slot tells nothing
    return (status & nodeMask(node)) !== 0;
  });
  return { power, present };
}
