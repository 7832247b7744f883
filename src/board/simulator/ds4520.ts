import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../../util/clock.js';
import { TpmError, errorMessage } from '../../util/errors.js';
import { i2cError } from './faults.js';
import { readRegisters, registerAt, type I2cDevice } from './i2c-bus.js';

/**
 * The Maxim DS4520 I/O expander of a Turing Pi 1, at register level (docs/hardware.md "DS4520 at
 * 0x57"): 64 B user EEPROM, SRAM-shadowed EEPROM control registers 0xF0-0xF3 with the SEE
 * bit in 0xF4, pin status in 0xF8, 6 B user SRAM, and no acknowledge while it writes EEPROM.
 *
 * Two kinds of restart are modelled: a bridge restart (the board stays powered, so the SRAM
 * keeps the current power; the state file carries it across a re-creation) and a board power
 * cycle (powerCycleBoard(): the SRAM is loaded from EEPROM, SEE returns to 0).
 */

/**
 * Which pin of 0xF2/0xF8 powers which slot of a Turing Pi 1 (docs/hardware.md "DS4520 at 0x57"). Kept
 * apart from the driver's table on purpose: a wrong table in one fails the other's tests.
 */
export const TPI1_SLOT_PINS: Readonly<Record<number, number>> = {
  1: 1 << 1,
  2: 1 << 2,
  3: 1 << 3,
  4: 1 << 4,
  5: 1 << 7,
  6: 1 << 6,
  7: 1 << 5,
};

const USER_EEPROM_SIZE = 0x40; // 0x00-0x3F
const USER_SRAM_START = 0xfa; // 0xFA-0xFF
const USER_SRAM_SIZE = 6;
const PULLUP_0 = 0xf0;
const CONTROL_1 = 0xf3;
const CONFIG = 0xf4;
const STATUS_0 = 0xf8;
const STATUS_1 = 0xf9;
const SEE = 0x01;

/** Factory contents of the shadowed registers 0xF0-0xF3: no pull-ups, all I/O off the pin (all nodes on). */
const FACTORY_SHADOWED = [0x00, 0x00, 0xff, 0xff];
const STATE_FORMAT = 'turingpi-mqtt ds4520 simulator 1';

export interface Ds4520Options {
  clock: Clock;
  /** Turing Pi 1 slots that hold a module (they read 1 in 0xF8 while powered). Default: all 7. */
  modulesPresent?: number[];
  /** JSON file keeping the chip across re-creation (a bridge restart). Default: none. */
  stateFile?: string | null;
  /** How long the chip does not acknowledge after an EEPROM write. Default 10 ms (datasheet tW). */
  eepromWriteCycleMs?: number;
}

/** The state file's shape. */
export interface Ds4520State {
  format: typeof STATE_FORMAT;
  /** EEPROM 0x00-0x3F. */
  userEeprom: number[];
  /** EEPROM copies of 0xF0-0xF3 (what a power-up loads). */
  shadowEeprom: number[];
  /** SRAM 0xF0-0xF3: what the pins do now. */
  control: number[];
  /** 0xF4. */
  config: number;
  /** 0xFA-0xFF. */
  userSram: number[];
  /** EEPROM write cycles so far (wear). */
  eepromWrites: number;
}

export type PowerChangeListener = (control: number, previous: number) => void;

export class Ds4520 implements I2cDevice {
  private readonly clock: Clock;
  private readonly stateFile: string | null;
  private readonly writeCycleMs: number;
  private state: Ds4520State;
  private presentPins: number;
  private busyUntil = Number.NEGATIVE_INFINITY;
  private listeners: PowerChangeListener[] = [];

  constructor(options: Ds4520Options) {
    this.clock = options.clock;
    this.stateFile = options.stateFile ?? null;
    this.writeCycleMs = options.eepromWriteCycleMs ?? 10;
    this.presentPins = pinsOf(options.modulesPresent ?? [1, 2, 3, 4, 5, 6, 7]);
    this.state = (this.stateFile && loadState(this.stateFile)) || factoryState();
    this.save();
  }

  // ---- I2cDevice -----------------------------------------------------------------------

  read(register: number, length: number): number[] {
    this.acknowledge();
    return readRegisters(register, length, (reg) => this.readRegister(reg));
  }

  write(register: number, bytes: readonly number[]): void {
    this.acknowledge();
    const previousControl = this.control;
    let eepromTouched = false;
    bytes.forEach((byte, i) => {
      if (this.writeRegister(registerAt(register, i), byte & 0xff)) eepromTouched = true;
    });
    if (eepromTouched) {
      this.state.eepromWrites++;
      // The datasheet's write cycle: the chip is deaf until the EEPROM is written.
      this.busyUntil = this.clock.now() + this.writeCycleMs;
    }
    this.save();
    if (this.control !== previousControl) this.notify(previousControl);
  }

  // ---- inspection and board events -------------------------------------------------------

  /** 0xF2 as the pins see it (the SRAM). */
  get control(): number {
    return this.state.control[2] ?? 0;
  }

  /** 0xF2 in EEPROM: what the next board power-up loads. */
  get eepromControl(): number {
    return this.state.shadowEeprom[2] ?? 0;
  }

  /** 0xF4. */
  get config(): number {
    return this.state.config;
  }

  /** EEPROM write cycles so far. */
  get eepromWrites(): number {
    return this.state.eepromWrites;
  }

  /** Whether a slot's power pin is on. */
  nodePowered(node: number): boolean {
    return (this.control & slotPin(node)) !== 0;
  }

  /** Puts a module into a slot or takes it out. */
  setModulePresent(node: number, present: boolean): void {
    const pin = slotPin(node);
    this.presentPins = present ? this.presentPins | pin : this.presentPins & ~pin;
  }

  /** Main power off and on: the SRAM is loaded from EEPROM; SEE and user SRAM reset. */
  powerCycleBoard(): void {
    const previous = this.control;
    this.state.control = [...this.state.shadowEeprom];
    this.state.config = 0x00;
    this.state.userSram = new Array<number>(USER_SRAM_SIZE).fill(0);
    this.busyUntil = Number.NEGATIVE_INFINITY;
    this.save();
    if (this.control !== previous) this.notify(previous);
  }

  /** Calls `listener` when 0xF2 (the SRAM) changes. Returns a function that removes it. */
  onPowerChange(listener: PowerChangeListener): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** A copy of the whole state (what the state file holds). */
  snapshot(): Ds4520State {
    return structuredClone(this.state);
  }

  // ---- registers -------------------------------------------------------------------------

  private acknowledge(): void {
    // The clock is read only while a write cycle may be under way: a read of it costs more than
    // the rest of a simulated transaction, five of which are in every command.
    if (this.busyUntil === Number.NEGATIVE_INFINITY) return;
    if (this.clock.now() >= this.busyUntil) {
      this.busyUntil = Number.NEGATIVE_INFINITY;
      return;
    }
    throw i2cError('EREMOTEIO', 'simulated: DS4520 at 0x57 does not acknowledge while writing its EEPROM');
  }

  private readRegister(register: number): number {
    if (register < USER_EEPROM_SIZE) return this.state.userEeprom[register] ?? 0;
    if (register >= PULLUP_0 && register <= CONTROL_1) return this.state.control[register - PULLUP_0] ?? 0;
    if (register === CONFIG) return this.state.config;
    // Status: a pin reads high where its output is released (1) and a module draws it up.
    if (register === STATUS_0) return this.control & (this.presentPins | 0x01);
    if (register === STATUS_1) return (this.state.control[3] ?? 0) & 0x01;
    if (register >= USER_SRAM_START) return this.state.userSram[register - USER_SRAM_START] ?? 0;
    return 0x00; // reserved
  }

  /** Applies one byte; returns true when it went to EEPROM. */
  private writeRegister(register: number, byte: number): boolean {
    if (register < USER_EEPROM_SIZE) {
      this.state.userEeprom[register] = byte;
      return true;
    }
    if (register >= PULLUP_0 && register <= CONTROL_1) {
      const index = register - PULLUP_0;
      this.state.control[index] = byte;
      // SEE = 0: the write goes to EEPROM as well (docs/hardware.md: EEPROM wear).
      if ((this.state.config & SEE) === 0) {
        this.state.shadowEeprom[index] = byte;
        return true;
      }
      return false;
    }
    if (register === CONFIG) this.state.config = byte;
    else if (register >= USER_SRAM_START) this.state.userSram[register - USER_SRAM_START] = byte;
    // Status and reserved registers ignore writes.
    return false;
  }

  private notify(previous: number): void {
    for (const listener of this.listeners) listener(this.control, previous);
  }

  private save(): void {
    if (!this.stateFile) return;
    mkdirSync(path.dirname(this.stateFile), { recursive: true });
    const temporary = `${this.stateFile}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(this.state)}\n`, 'utf8');
    renameSync(temporary, this.stateFile);
  }
}

function factoryState(): Ds4520State {
  return {
    format: STATE_FORMAT,
    userEeprom: new Array<number>(USER_EEPROM_SIZE).fill(0),
    shadowEeprom: [...FACTORY_SHADOWED],
    control: [...FACTORY_SHADOWED],
    config: 0x00,
    userSram: new Array<number>(USER_SRAM_SIZE).fill(0),
    eepromWrites: 0,
  };
}

/** The state in the file, or null when there is no file yet. A damaged file is an error, not a reset. */
function loadState(file: string): Ds4520State | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new TpmError('STATE', `cannot read the simulator state file ${file}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  try {
    const state = JSON.parse(text) as Partial<Ds4520State>;
    const bytes = (value: unknown, length: number): value is number[] =>
      Array.isArray(value) && value.length === length && value.every((b) => Number.isInteger(b) && b >= 0 && b <= 255);
    if (
      state.format !== STATE_FORMAT ||
      !bytes(state.userEeprom, USER_EEPROM_SIZE) ||
      !bytes(state.shadowEeprom, 4) ||
      !bytes(state.control, 4) ||
      !bytes(state.userSram, USER_SRAM_SIZE) ||
      !bytes([state.config], 1) ||
      !Number.isInteger(state.eepromWrites)
    ) {
      throw new Error('not a DS4520 simulator state');
    }
    return state as Ds4520State;
  } catch (error) {
    throw new TpmError(
      'STATE',
      `the simulator state file ${file} is damaged (${errorMessage(error)}); delete it to start from factory state`,
      { cause: error },
    );
  }
}

function slotPin(node: number): number {
  const pin = TPI1_SLOT_PINS[node];
  if (pin === undefined) throw new RangeError(`a Turing Pi 1 has slots 1-7, not ${node}`);
  return pin;
}

function pinsOf(nodes: number[]): number {
  return nodes.reduce((pins, node) => pins | slotPin(node), 0);
}
