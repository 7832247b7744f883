/**
 * The Turing Pi 1 register map the driver uses (docs/hardware.md "Turing Pi 1: the Cluster Management Bus").
 * The simulator keeps its own copy of the wiring on purpose: a mistake in one is caught by
 * the other's tests instead of being shared.
 */

/** 7-bit address of the Maxim DS4520 I/O expander that switches node power. */
export const DS4520_ADDRESS = 0x57;
/** 7-bit address of the Microchip MCP7940N real-time clock. */
export const MCP7940N_ADDRESS = 0x6f;

export const DS4520 = {
  /** I/O control 0: node power, 1 = on. SRAM-shadowed EEPROM. */
  IO_CONTROL_0: 0xf2,
  /** Configuration; bit 0 = SEE (shadow EEPROM enable: 1 = writes to F0-F3 stay in SRAM). */
  CONFIG: 0xf4,
  /** I/O status 0: pin levels, same bit map as 0xF2. */
  IO_STATUS_0: 0xf8,
} as const;

/** SEE bit of 0xF4. */
export const SEE_BIT = 0x01;

/** Bit 0 of 0xF2 is wired to no node; the driver never changes it (docs/hardware.md). */
export const UNUSED_POWER_BIT = 0x01;

/**
 * The master, node 1: a persisted 0xF2 with its bit clear leaves a board whose master never
 * boots again (docs/hardware.md "The master that never boots").
 */
export const MASTER_NODE = 1;

/** Number of node slots on a Turing Pi 1. */
export const TPI1_NODE_COUNT = 7;

/**
 * Node number (1-based) -> bit of 0xF2 / 0xF8 (docs/hardware.md): node1 0x02, node2 0x04,
 * node3 0x08, node4 0x10, node5 0x80, node6 0x40, node7 0x20 (nodes 5-7 run backwards).
 */
const NODE_MASKS: readonly number[] = [0x02, 0x04, 0x08, 0x10, 0x80, 0x40, 0x20];

export function isTpi1Node(node: number): boolean {
  return Number.isInteger(node) && node >= 1 && node <= TPI1_NODE_COUNT;
}

/** The 0xF2 bit of a node. Throws a RangeError for anything but 1-7. */
export function nodeMask(node: number): number {
  if (!isTpi1Node(node)) throw new RangeError(`a Turing Pi 1 has nodes 1-${TPI1_NODE_COUNT}, not ${node}`);
  return NODE_MASKS[node - 1] as number;
}

/** Two-digit hex with 0x, for messages: 0x0a. */
export function hex(value: number): string {
  return `0x${value.toString(16).padStart(2, '0')}`;
}

/** MCP7940N time-keeping registers and flag bits (datasheet DS20005010, docs/hardware.md "MCP7940N at 0x6F"). */
export const MCP7940N = {
  RTCSEC: 0x00,
  RTCMIN: 0x01,
  RTCHOUR: 0x02,
  RTCWKDAY: 0x03,
  RTCDATE: 0x04,
  RTCMTH: 0x05,
  RTCYEAR: 0x06,
  /** RTCSEC bit 7: start oscillator. */
  ST: 0x80,
  /** RTCHOUR bit 6: 1 = 12-hour format. */
  HOUR_12: 0x40,
  /** RTCHOUR bit 5 in 12-hour format: PM. */
  PM: 0x20,
  /** RTCWKDAY bit 5 (read-only): the oscillator is running. */
  OSCRUN: 0x20,
  /** RTCWKDAY bit 4: main power failed while on battery (cleared by writing 0). */
  PWRFAIL: 0x10,
  /** RTCWKDAY bit 3: run from the battery when main power fails. */
  VBATEN: 0x08,
  WEEKDAY_MASK: 0x07,
  /** RTCMTH bit 5 (read-only): leap year. */
  LPYR: 0x20,
} as const;
