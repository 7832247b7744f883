/**
 * The narrow interface every board hides behind (docs/ARCHITECTURE.md "The parts"). The bridge, the
 * power queue and Home Assistant know only this; each driver knows only its hardware.
 * Node numbers are 1-based everywhere (docs/topics.md).
 */

export type BoardType = 'tpi1' | 'tpi2' | 'gpio' | 'simulator';

export interface BoardInfo {
  /** The configured board type (simulator for every simulated model). */
  type: BoardType;
  /** Human model name for discovery, e.g. "Turing Pi 1", "Turing Pi 2 (simulated)". */
  model: string;
  /** Number of node slots, numbered 1..nodes. */
  nodes: number;
  /** The board has a real-time clock (tpi1's MCP7940N). */
  hasRtc: boolean;
  /** The board can tell whether a module sits in a slot (tpi1's 0xF8, learnt while powered). */
  canTellPresence: boolean;
  /** The board power-cycles a node natively (tpi2's reset); else a hard reboot is off-pause-on. */
  nativeReset: boolean;
  /** The board reports when each slot was switched on (tpi2's node_info). */
  reportsPowerOnTime: boolean;
  /** The board reports fan speeds (tpi2.5's cooling). */
  hasFans: boolean;
}

/** One reading of every slot. `null` means the board could not say ("Unknown"). */
export interface PowerReading {
  /** power[n - 1] is node n. */
  power: (boolean | null)[];
  /** present[n - 1], where the board can tell right now; null where it cannot (e.g. slot off). */
  present?: (boolean | null)[];
}

export interface RtcReading {
  /** The clock's time (the chip holds UTC). */
  time: Date;
  oscillatorRunning: boolean;
  /** VBATEN: the clock is set to run from the battery when main power fails. */
  batteryBackup: boolean;
  /** PWRFAIL: main power failed while on battery since the flag was last cleared. */
  powerFailed: boolean;
}

export interface NodeTimes {
  /** Seconds since the board switched each slot on, or null (tpi2 node_info). */
  powerOnSeconds: (number | null)[];
}

export interface FanReading {
  device: string;
  speed: number;
  maxSpeed: number;
}

export interface BoardDriver {
  readonly info: BoardInfo;
  /** Claims the hardware (locks, configuration bits, login). Throws a TpmError with a reason. */
  open(): Promise<void>;
  /** Releases the hardware without changing any node's power. Safe to call twice. */
  close(): Promise<void>;
  /** Reads every slot's power (and presence where known). */
  readPower(): Promise<PowerReading>;
  /**
   * Switches one node and verifies by reading back. Writes only when the state actually
   * changes. Returns the read-back power of that node. Throws on a failed verification.
   */
  setPower(node: number, on: boolean): Promise<boolean>;
  /** A native power cycle (only where info.nativeReset). Only for nodes that are on. */
  reset?(node: number): Promise<void>;
  readRtc?(): Promise<RtcReading>;
  /** Writes the given time (UTC) to the clock. */
  writeRtc?(time: Date): Promise<void>;
  readNodeTimes?(): Promise<NodeTimes>;
  readFans?(): Promise<FanReading[]>;
}
