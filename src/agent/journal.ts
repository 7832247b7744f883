import { readFile, rename, rm, writeFile } from '../util/files.js';
import path from 'node:path';
import type { AgentAction } from './command.js';

/**
 * What the agent is doing with a command, kept where a restarted agent finds it (docs/agent.md,
 * "When the agent is restarted"): `running` while its argv runs, `succeeded` while it waits for the
 * OS to go down, `failed` while the error event is not yet acknowledged by the broker.
 */
export interface JournalEntry {
  /** The kernel's boot id when written: an entry of an earlier boot is stale and never reported. */
  boot: string;
  action: AgentAction;
  phase: 'running' | 'succeeded' | 'failed';
  /** The public reason of a failure (never the argv), for `failed`. */
  reason?: string;
}

export interface CommandJournal {
  /** Where it is kept, or undefined where it is not kept at all. */
  readonly file: string | undefined;
  /** The entry a previous run of the agent left in this boot, if any; one of an earlier boot is removed. */
  leftover(): Promise<JournalEntry | undefined>;
  write(action: AgentAction, phase: JournalEntry['phase'], reason?: string): Promise<void>;
  clear(): Promise<void>;
}

const BOOT_ID = '/proc/sys/kernel/random/boot_id';

async function bootId(): Promise<string> {
  try {
    return (await readFile(BOOT_ID, 'utf8')).trim();
  } catch {
    return ''; // not Linux: the runtime directory's emptying at boot alone tells boots apart
  }
}

function parse(text: string): JournalEntry | undefined {
  try {
    const entry = JSON.parse(text) as Partial<JournalEntry>;
    if (typeof entry.boot !== 'string') return undefined;
    if (entry.action !== 'shutdown' && entry.action !== 'reboot') return undefined;
    if (entry.phase !== 'running' && entry.phase !== 'succeeded' && entry.phase !== 'failed') return undefined;
    const reason = typeof entry.reason === 'string' ? entry.reason.slice(0, 400) : undefined;
    return { boot: entry.boot, action: entry.action, phase: entry.phase, ...(reason ? { reason } : {}) };
  } catch {
    return undefined;
  }
}

/**
 * The journal in `dir`: systemd's RuntimeDirectory= (`$RUNTIME_DIRECTORY`, below /run: a tmpfs,
 * empty after every boot, kept across the unit's restarts). Without a directory nothing is kept.
 */
export function commandJournal(dir: string | undefined, node: number): CommandJournal {
  const file = dir ? path.join(dir, `command-${node}.json`) : undefined;
  let boot: Promise<string> | undefined;
  const currentBoot = (): Promise<string> => (boot ??= bootId());
  const clear = async (): Promise<void> => {
    if (file) await rm(file, { force: true });
  };
  return {
    file,
    async leftover() {
      if (!file) return undefined;
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch {
        return undefined;
      }
      const entry = parse(text);
      if (entry && entry.boot === (await currentBoot())) return entry;
      await clear(); // an earlier boot's (the node was restarted since) or unreadable: never acted on
      return undefined;
    },
    async write(action, phase, reason) {
      if (!file) return;
      const entry: JournalEntry = { boot: await currentBoot(), action, phase, ...(reason ? { reason } : {}) };
      // Renamed into place: a restart in the middle of a write finds the old entry or the new one.
      const temporary = `${file}.${process.pid}.tmp`;
      await writeFile(temporary, JSON.stringify(entry), { mode: 0o600 });
      await rename(temporary, file);
    },
    clear,
  };
}

/** The `agent/event` reason for an entry a previous run left: the command is never run again. */
export function leftoverReason(entry: JournalEntry): string {
  if (entry.phase === 'failed' && entry.reason) return entry.reason;
  if (entry.phase === 'succeeded') {
    const still = 'and the OS is still up: back online, taking commands again';
    return `the agent was restarted after the ${entry.action} command succeeded, ${still}`;
  }
  return `the agent was restarted while the ${entry.action} command ran: it did not finish, and it is not run again`;
}
