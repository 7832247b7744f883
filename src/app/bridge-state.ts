import { MAX_NODES } from '../config/limits.js';
import { parseDiscoveryIndex, type DiscoveryIndex } from '../homeassistant/cleanup.js';
import type { JournalEntry, PowerJournal } from '../power/journal.js';

/** What the bridge keeps in state_dir/bridge.json across restarts. */
export interface BridgeStateData {
  version: 1;
  /** The board.id of the bridge that keeps this file: another board's is refused (one state_dir per board). */
  board_id: string | null;
  maintenance: boolean;
  /** started_at of the last run, to tell our own stale retained `online` from another bridge's. */
  last_started_at: string | null;
  /** Operations under way; left here by a crash, reported at the next start. */
  in_flight: JournalEntry[];
  /** Last commanded power per node, for restore_on_start: last. */
  commanded: Record<string, boolean>;
  discovery: DiscoveryIndex;
  /** The nodes whose retained topics the bridge published: one disabled since has them cleared at start. */
  published_nodes: number[];
  /** When the watchdog power-cycled nodes (ms since the epoch, the last hour's): max_per_hour across restarts. */
  watchdog_cycles: number[];
}

export function defaultBridgeState(): BridgeStateData {
  return {
    version: 1,
    board_id: null,
    maintenance: false,
    last_started_at: null,
    in_flight: [],
    commanded: {},
    discovery: {},
    published_nodes: [],
    watchdog_cycles: [],
  };
}

/** More than max_per_hour's top (60) is never written: a damaged file cannot hand the watchdog thousands. */
const MAX_CYCLES_KEPT = 60;

/** Accepts what a file holds only when it has the right shape; else the caller uses defaults. */
export function parseBridgeState(value: unknown): BridgeStateData | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Partial<BridgeStateData>;
  if (v.version !== 1 || typeof v.maintenance !== 'boolean' || !Array.isArray(v.in_flight)) return undefined;
  if (
    typeof v.commanded !== 'object' ||
    v.commanded === null ||
    typeof v.discovery !== 'object' ||
    v.discovery === null
  )
    return undefined;
  return {
    version: 1,
    // Missing in a file of an older release: taken as this board's.
    board_id: typeof v.board_id === 'string' ? v.board_id : null,
    maintenance: v.maintenance,
    last_started_at: typeof v.last_started_at === 'string' ? v.last_started_at : null,
    // Only whole entries: a damaged one would make the interruption report unreadable.
    in_flight: v.in_flight.filter(
      (e): e is JournalEntry =>
        typeof e === 'object' &&
        e !== null &&
        Number.isInteger(e.node) &&
        typeof e.action === 'string' &&
        typeof e.source === 'string' &&
        typeof e.started_at === 'string',
    ),
    commanded: commandedPower(v.commanded),
    // A damaged index would make the start publish or clear topics that were never ours.
    discovery: parseDiscoveryIndex(v.discovery) ?? {},
    // Missing in a file of an older release; only node numbers a board may have, as the start
    // clears their topics (a damaged file must not make it clear thousands).
    published_nodes: Array.isArray(v.published_nodes)
      ? v.published_nodes.filter((n): n is number => Number.isInteger(n) && n > 0 && n <= MAX_NODES)
      : [],
    // Missing in a file of an older release; a damaged entry is dropped (the cap counts fewer).
    watchdog_cycles: Array.isArray(v.watchdog_cycles)
      ? v.watchdog_cycles
          .filter((t): t is number => typeof t === 'number' && Number.isFinite(t))
          .slice(-MAX_CYCLES_KEPT)
      : [],
  };
}

/**
 * Only true/false per node number: restore_on_start: last switches power from these, and a
 * damaged value (0, null, "off") must not switch a node off.
 */
function commandedPower(value: object): Record<string, boolean> {
  return Object.fromEntries(
    Object.entries(value).filter(([node, on]) => /^[0-9]+$/.test(node) && typeof on === 'boolean'),
  ) as Record<string, boolean>;
}

/** The state file's load/save, as the state module provides them. */
export interface StateFile<T> {
  load(): Promise<T>;
  save(value: T): Promise<void>;
}

/** The bridge's persisted state, with the power journal on top of it. */
export class BridgeState implements PowerJournal {
  constructor(
    private readonly file: StateFile<BridgeStateData>,
    public data: BridgeStateData,
  ) {}

  async update(change: (data: BridgeStateData) => void): Promise<void> {
    change(this.data);
    await this.file.save(this.data);
  }

  begin(entry: JournalEntry): Promise<void> {
    return this.update((d) => {
      d.in_flight = [...d.in_flight.filter((e) => e.node !== entry.node), entry];
    });
  }

  end(entry: JournalEntry): Promise<void> {
    return this.update((d) => {
      d.in_flight = d.in_flight.filter(
        (e) => !(e.node === entry.node && e.started_at === entry.started_at && e.action === entry.action),
      );
    });
  }

  commanded(node: number, on: boolean): Promise<void> {
    if (this.data.commanded[String(node)] === on) return Promise.resolve();
    return this.update((d) => {
      d.commanded[String(node)] = on;
    });
  }
}
