import type { CommandSource, NodeAction } from './types.js';

/** An operation under way, recorded so that a crash in the middle is reported at the next start. */
export interface JournalEntry {
  node: number;
  action: NodeAction;
  source: CommandSource;
  started_at: string;
  /**
   * Reported by an earlier start, and kept since: a graceful off whose node was still halted then
   * (src/app/start-up.ts, keepHalted).
   */
  reported?: boolean;
}

/** Where the power service records what it does (the bridge's state file, src/app/bridge-state.ts). */
export interface PowerJournal {
  begin(entry: JournalEntry): Promise<void>;
  /** The operation `entry` finished (only that entry is removed: another may have begun since). */
  end(entry: JournalEntry): Promise<void>;
  /** Remembers what a node was last switched to, for restore_on_start: last. */
  commanded(node: number, on: boolean): Promise<void>;
}
