import type { Clock } from '../../util/clock.js';
import { Ds4520, type Ds4520Options } from './ds4520.js';
import { FaultInjector } from './faults.js';
import { SimulatedI2cBus } from './i2c-bus.js';
import { Mcp7940n, type Mcp7940nOptions } from './mcp7940n.js';

/** The Cluster Management Bus addresses of a Turing Pi 1 (docs/hardware.md "Turing Pi 1"). */
const SIMULATED_DS4520_ADDRESS = 0x57;
const SIMULATED_MCP7940N_ADDRESS = 0x6f;

export interface SimulatedTpi1Options {
  clock: Clock;
  /** The DS4520's state file (survives re-creation, like a board that stays powered). */
  stateFile?: string | null;
  /** Slots holding a module. Default: all 7. */
  modulesPresent?: number[];
  /** The RTC's time at creation. Default: the clock's now. null: an unset, stopped clock. */
  startTime?: Date | number | null;
  faults?: FaultInjector;
  /** Further chip options (e.g. eepromWriteCycleMs, oscillatorStopMs). */
  ds4520?: Partial<Omit<Ds4520Options, 'clock' | 'stateFile' | 'modulesPresent'>>;
  rtc?: Partial<Omit<Mcp7940nOptions, 'clock' | 'startTime'>>;
}

export interface SimulatedTpi1 {
  bus: SimulatedI2cBus;
  ds4520: Ds4520;
  rtc: Mcp7940n;
  faults: FaultInjector;
}

/** A Turing Pi 1's Cluster Management Bus with its DS4520 and MCP7940N, for the Tpi1Driver. */
export function createSimulatedTpi1(options: SimulatedTpi1Options): SimulatedTpi1 {
  const faults = options.faults ?? new FaultInjector();
  const bus = new SimulatedI2cBus({ clock: options.clock, faults });
  const ds4520 = new Ds4520({
    ...options.ds4520,
    clock: options.clock,
    stateFile: options.stateFile ?? null,
    ...(options.modulesPresent ? { modulesPresent: options.modulesPresent } : {}),
  });
  const rtc = new Mcp7940n({
    ...options.rtc,
    clock: options.clock,
    ...(options.startTime !== undefined ? { startTime: options.startTime } : {}),
  });
  bus.attach(SIMULATED_DS4520_ADDRESS, ds4520);
  bus.attach(SIMULATED_MCP7940N_ADDRESS, rtc);
  return { bus, ds4520, rtc, faults };
}
