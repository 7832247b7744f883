/**
 * What Home Assistant discovery needs to know of the board: facts, not the driver. The bridge
 * hands over its driver's info, which has these fields; discovery never imports board/
 * (docs/ARCHITECTURE.md, "Layering rules").
 */
export interface BoardFacts {
  /** Model name shown on the board's device, e.g. "Turing Pi 1". */
  model: string;
  /** Number of node slots, numbered 1..nodes. */
  nodes: number;
  /** A real-time clock: the RTC entities. */
  hasRtc: boolean;
  /** Presence of a module per slot: the Present entities. */
  canTellPresence: boolean;
  /** When each slot was switched on: the Booted entity of nodes without an agent. */
  reportsPowerOnTime: boolean;
  /** A fan the bridge can read and set. */
  hasFans: boolean;
  /** Turing Pi 2: the firmware line and the bmcd version, for the device's software version. */
  firmware?: string | null;
  bmcd?: string | null;
  /** The board's hardware revision, where the board says it. */
  revision?: string | null;
  /** Names a user gave the nodes on the board itself (null where none). */
  nodeNames?: readonly (string | null)[];
  /** The USB modes the board's select may offer; only host and device are ever offered. */
  usbModes?: readonly string[];
}
