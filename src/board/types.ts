/**
 * The narrow interface every board hides behind (docs/ARCHITECTURE.md "The parts"). The bridge
 * and the power queue know only this (Home Assistant discovery gets the facts it needs as
 * homeassistant/board-facts.ts's BoardFacts); each driver knows only its hardware.
 * Node numbers are 1-based everywhere (docs/topics.md).
 */

import type { ResolvedNode } from '../config/nodes.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';

/** What building a driver needs besides the config: the clock, a logger and the board's slots. */
export interface BoardContext {
  clock: Clock;
  logger: Logger;
  nodes: ResolvedNode[];
  /** The file the config was read from, for messages that say what to run on it. */
  configFile?: string;
}

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
  /** The board has a fan it reports and sets as a cooling level (tpi2.5's cooling). */
  hasFans: boolean;
  /**
   * The board's firmware line and its daemon's version, where the board says (tpi2's about,
   * docs/turing-pi-2.md): e.g. "2.1" and "2.3.4", or "2.0.5" and "2.0.5". null: unknown yet.
   */
  firmware?: string | null;
  bmcd?: string | null;
  /** The board revision the board reports, e.g. "2.5.1" (tpi2's about, bmcd 2.3+). */
  revision?: string | null;
  /** Names a user gave the nodes on the board itself (tpi2's node_info), null where unset. */
  nodeNames?: (string | null)[];
  /** The USB modes a node can be switched to (tpi2's usb); empty or absent: no USB control. */
  usbModes?: UsbMode[];
}

/** One reading of every slot. `null` means the board could not say ("Unknown"). */
export interface PowerReading {
  /** power[n - 1] is node n. */
  power: (boolean | null)[];
  /** present[n - 1], where the board can tell right now; null where it cannot (e.g. slot off). */
  present?: (boolean | null)[];
}

export interface RtcReading {
  /**
   * The clock's time (the chip holds UTC); null when its registers hold no valid date (a clock
   * that lost its time with its battery, or a chip that reads garbage). The flags are read all the same.
   */
  time: Date | null;
  /** Why `time` is null: what the registers held. */
  problem?: string;
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
  /** Cooling level 0..maxSpeed (Linux cur_state/max_state), not RPM. */
  speed: number;
  maxSpeed: number;
}

/** host: the node is the USB host; device: the node is a device of the port; flash: usbboot raised. */
export type UsbMode = 'host' | 'device' | 'flash';

/** Where the board's USB goes (tpi2's usb). */
export interface UsbReading {
  /** 1-based. */
  node: number;
  mode: UsbMode;
  /** port: the board's USB port (USB-A on a 2.4, the USB OTG port on a 2.5); bmc: the BMC itself. */
  route: 'port' | 'bmc';
}

/** Where a login to the board's controller (the Turing Pi 2 BMC) stands; see docs/turing-pi-2.md. */
export interface BmcLoginStatus {
  /** ok; failed (automatic logins go on); paused (no automatic login until a retry or a new password). */
  login: 'ok' | 'failed' | 'paused';
  reason: string | null;
  /** Failed logins in a row, as the BMC counts them for this host. */
  failures: number;
}

export interface BmcLoginControl {
  /** null until the first login attempt (or a persisted failure) says anything. */
  status(): BmcLoginStatus | null;
  onChange(listener: (status: BmcLoginStatus) => void): void;
  /** One login now, asked for by a person; `force` even where the next failure gets this host banned. */
  retry(force: boolean): Promise<BmcLoginStatus | null>;
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
  /** The board's fan (only where info.hasFans). */
  readFan?(): Promise<FanReading>;
  /** Sets the fan's cooling level and returns the level read back. */
  setFanLevel?(level: number): Promise<FanReading>;
  /** Where the board's USB goes (only where info.usbModes is not empty). */
  readUsb?(): Promise<UsbReading>;
  /** Routes the board's USB port to a node in host or device mode (never flash); returns the read-back. */
  setUsb?(node: number, mode: 'host' | 'device'): Promise<UsbReading>;
  /** Boards behind a login (tpi2): its state, and a retry on request. */
  readonly login?: BmcLoginControl;
}
