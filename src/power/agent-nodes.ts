import type { AgentState } from '../agent/state.js';
import type { ResolvedNode } from '../config/nodes.js';
import { JsonStateFile } from '../state/store.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { Mutex } from '../util/mutex.js';

export const AGENTS_SEEN_FILE = 'agents.json';

/** What state_dir/agents.json keeps: the nodes whose agent has been seen (agent: auto). */
export interface AgentsSeenData {
  version: 1;
  seen: number[];
}

function defaultAgentsSeen(): AgentsSeenData {
  return { version: 1, seen: [] };
}

/** Node numbers only; anything else makes the file count as damaged (start afresh, nothing seen). */
function parseAgentsSeen(value: unknown): AgentsSeenData | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Partial<AgentsSeenData>;
  if (v.version !== 1 || !Array.isArray(v.seen)) return undefined;
  if (!v.seen.every((n) => Number.isInteger(n) && n >= 1)) return undefined;
  return { version: 1, seen: [...new Set(v.seen)].sort((a, b) => a - b) };
}

export interface AgentNodesDeps {
  nodes: readonly ResolvedNode[];
  /** The nodes seen by earlier runs (agents.json). */
  seen: readonly number[];
  save(data: AgentsSeenData): Promise<void>;
  logger: Logger;
}

/** Told when a node became an agent node (its agent was seen) or stopped being one (forgotten). */
export type AgentNodeListener = (node: number, isAgentNode: boolean, reason: string) => void;

/** Agent states that only a running agent publishes (`offline` may be a will retained for years). */
const LIVE_STATES: ReadonlySet<AgentState> = new Set<AgentState>(['online', 'shutting_down']);

/**
 * Which nodes are agent nodes (docs/configuration.md, `nodes.<n>.agent`): `true` and `false`
 * as configured; `auto` once the node's agent has been seen saying `online` or
 * `shutting_down`. Seen agents are remembered in state_dir, so that after a restart a node
 * whose agent is offline (the node is off, or its OS is down) is still an agent node: its
 * SHUTDOWN and OFF wait for the agent instead of cutting power.
 */
export class AgentNodes {
  private readonly settings = new Map<number, ResolvedNode['agent']>();
  private readonly seen: Set<number>;
  /** Saves run one after the other, in order: the last one holds what is known now. */
  private readonly saves = new Mutex();
  private readonly listeners: AgentNodeListener[] = [];

  constructor(private readonly deps: AgentNodesDeps) {
    for (const node of deps.nodes) this.settings.set(node.number, node.agent);
    // Only auto nodes are remembered: a node set to true or false since is as the config says.
    this.seen = new Set(deps.seen.filter((n) => this.settings.get(n) === 'auto'));
  }

  listen(listener: AgentNodeListener): void {
    this.listeners.push(listener);
  }

  isAgentNode(node: number): boolean {
    const setting = this.settings.get(node);
    return setting === 'auto' ? this.seen.has(node) : setting === true;
  }

  /** Whether the bridge listens to this node's agent topics: every node not set to `agent: false`. */
  listensTo(node: number): boolean {
    const setting = this.settings.get(node);
    return setting !== undefined && setting !== false;
  }

  /** Whether the node is an `auto` one (the watchdog lets those drop out, see forget). */
  isAuto(node: number): boolean {
    return this.settings.get(node) === 'auto';
  }

  /** What `node/<n>/agent/state` said: a live agent makes an auto node an agent node. */
  observed(node: number, state: AgentState): void {
    if (!this.isAuto(node) || this.seen.has(node) || !LIVE_STATES.has(state)) return;
    this.seen.add(node);
    this.deps.logger.info(`node ${node}: its agent is ${state}: an agent node from now on (agent: auto)`);
    this.persist();
    for (const listener of this.listeners) listener(node, true, `its agent was seen (${state})`);
  }

  /**
   * An auto node counts as agentless again until its agent is seen anew (the watchdog: its
   * agent stayed away across a power cycle, e.g. it was uninstalled). False for other nodes.
   */
  forget(node: number, reason: string): boolean {
    if (!this.isAuto(node) || !this.seen.delete(node)) return false;
    this.deps.logger.warn(`node ${node} counts as agentless until its agent is seen again: ${reason}`);
    this.persist();
    for (const listener of this.listeners) listener(node, false, reason);
    return true;
  }

  /** The nodes with `agent` resolved to what it is now (for Home Assistant discovery). */
  resolved(): ResolvedNode[] {
    return this.deps.nodes.map((node) => ({ ...node, agent: this.isAgentNode(node.number) }));
  }

  /** Resolves when what was learnt so far is on disk. */
  flushed(): Promise<void> {
    return this.saves.idle();
  }

  private persist(): void {
    const data: AgentsSeenData = { version: 1, seen: [...this.seen].sort((a, b) => a - b) };
    void this.saves.run(async () => {
      try {
        await this.deps.save(data);
      } catch (error) {
        this.deps.logger.warn(`saving the agents seen failed (a restart may not know them): ${errorMessage(error)}`);
      }
    });
  }
}

/** Loads `<state_dir>/agents.json` (a missing or damaged file: nothing seen yet) and tracks the agent nodes. */
export async function openAgentNodes(
  stateDir: string,
  nodes: readonly ResolvedNode[],
  logger: Logger,
): Promise<AgentNodes> {
  const file = new JsonStateFile<AgentsSeenData>({
    dir: stateDir,
    name: AGENTS_SEEN_FILE,
    defaults: defaultAgentsSeen,
    // A newer release's file is refused, left as it is (docs/configuration.md `state_dir`).
    version: 1,
    logger,
    validate: (raw) => {
      const value = parseAgentsSeen(raw);
      if (value === undefined) throw new Error('unexpected content');
      return value;
    },
  });
  const { seen } = await file.load();
  return new AgentNodes({ nodes, seen, save: (data) => file.save(data), logger });
}
