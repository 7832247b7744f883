import type { ResolvedNode } from '../config/nodes.js';
import type { JournalEntry, PowerJournal } from '../power/journal.js';
import type { PowerService } from '../power/power-service.js';
import type { EventSink } from './event-sink.js';
import type { NodeModel } from './node-model.js';
import type { AgentTracker } from '../power/agents.js';

/**
 * Operations a stop or crash of the last run left unfinished (state_dir's journal): one error
 * event each. None is resumed: power stays as the board reports it.
 */
export function reportInterrupted(interrupted: JournalEntry[], event: EventSink): void {
  for (const entry of interrupted) {
    if (entry.reported) continue;
    event({
      type: 'power',
      node: entry.node,
      action: entry.action,
      source: 'startup',
      result: 'error',
      error:
        `a ${entry.action} of node ${entry.node} (from ${entry.source}, started ${entry.started_at}) ` +
        'was interrupted by a stop or crash of the bridge; ' +
        'it was not resumed and power was left as the board reports it',
    });
  }
}

/**
 * An interrupted graceful off (every journalled action but a reboot: OFF, SHUTDOWN, a TOGGLE of a
 * node on) may have taken its OS down under power left on: the previous run's watchdog knew that
 * down was on purpose, this one must too, or it would power-cycle the node offline_after later and
 * boot the OS the user shut down. Returns the entries to keep journalled (reported), so that a
 * restart loop does not lose them: those of nodes the watchdog watches that are still on with
 * their agent not online. An agent online now, or power off, ends it (releaseHalted: the node is
 * watched as any other). Without a watchdog nothing is kept: nothing would power-cycle the node.
 */
export function keepHalted(
  interrupted: JournalEntry[],
  parts: {
    tracker: AgentTracker | undefined;
    watchdog: { watches(node: number): boolean; expectDown(node: number): void } | undefined;
  },
  power: (node: number) => boolean | null,
): JournalEntry[] {
  const { watchdog, tracker } = parts;
  const kept: JournalEntry[] = [];
  for (const entry of interrupted) {
    const n = entry.node;
    if (!watchdog?.watches(n) || entry.action === 'reboot') continue;
    if (tracker?.status(n) === 'online' || power(n) !== true) continue;
    watchdog.expectDown(n);
    kept.push({ ...entry, reported: true });
  }
  return kept;
}

/**
 * Ends, while the bridge runs, the entries keepHalted kept: once a node's agent is online again or
 * its power is off, its OS is no longer halted under power (the watchdog then watches it as any
 * other). Left in the journal, an entry would make a later start exempt the node from the
 * watchdog should it be hung then. A failed save leaves the entry to the next start, which
 * checks it again.
 */
export function releaseHalted(kept: JournalEntry[], model: NodeModel, journal: PowerJournal): void {
  if (kept.length === 0) return;
  const halted = new Map(kept.map((entry) => [entry.node, entry]));
  const release = (node: number): void => {
    const entry = halted.get(node);
    if (!entry) return;
    halted.delete(node);
    journal.end(entry).catch(() => undefined);
  };
  model.listen({
    power: (node, on) => {
      if (on === false) release(node);
    },
    agentOnline: release,
  });
}

/**
 * restore_on_start: last (docs/configuration.md): every enabled node is switched to what it
 * was last commanded to, through the power service; a protected node is never switched off.
 */
export async function restoreLast(
  commanded: Record<string, boolean>,
  nodes: ResolvedNode[],
  { model, power }: { model: NodeModel; power: PowerService },
  signal?: AbortSignal,
): Promise<void> {
  for (const node of nodes) {
    // A stop during the restore: the nodes not reached yet stay as they are.
    if (signal?.aborted) return;
    const wanted = commanded[String(node.number)];
    if (wanted === undefined || !node.enabled || wanted === model.power(node.number)) continue;
    if (!wanted && node.protected) continue;
    await power.execute(node.number, wanted ? 'on' : 'off', 'startup');
  }
}
