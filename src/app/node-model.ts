import type { AgentState } from '../agent/state.js';
import type { ResolvedNode } from '../config/nodes.js';
import type { Clock } from '../util/clock.js';
import type { CommandSource, NodeLifecycle, NodeState, NodeStateName } from '../power/types.js';
import { isoTime } from '../util/iso-time.js';

/**
 * The source of a state the board's reading gave: the bridge on its own. docs/topics.md: the
 * contract's list of sources has nothing else for it, so it shares `startup`.
 */
const BOARD_READING: CommandSource = 'startup';

export interface NodeSnapshot {
  power: boolean | null;
  present: boolean | null;
  state: NodeState;
}

/** What changed of one node: only the fields that did. */
export type NodeChange = Partial<NodeSnapshot>;

/** Who hears of node changes: the node publisher (every change), the watchdog (power, deliberate downs). */
export interface NodeListener {
  /** Any change, with only what changed. */
  changed?(node: number, change: NodeChange): void;
  /** Power changed (once per real change). */
  power?(node: number, on: boolean | null): void;
  /** The bridge takes the node down on purpose (a cut, a shutdown, a power cycle): not a hang. */
  expectDown?(node: number): void;
  /** The node's agent said online (its OS runs). */
  agentOnline?(node: number): void;
}

/** What the model knows of the agents: which nodes are agent nodes, and what each agent last said. */
export interface AgentView {
  isAgentNode(node: number): boolean;
  status(node: number): AgentState | 'unknown';
}

/**
 * The bridge's picture of every node, and the one place that moves a node's lifecycle state
 * (docs/ARCHITECTURE.md, "Node lifecycle"): power as the board last reported it, presence
 * learnt while powered (kept while off, docs/hardware.md "DS4520 at 0x57"), and the state.
 * The power service and the agent feed say what happened; the model decides the state it leads
 * to and tells its listeners only what changed.
 */
export class NodeModel implements NodeLifecycle {
  private readonly nodes = new Map<number, NodeSnapshot>();
  private readonly listeners: NodeListener[] = [];

  constructor(
    nodes: ResolvedNode[],
    private readonly clock: Clock,
    /** Default: the nodes configured with agent: true, their agents never heard. */
    private readonly agents: AgentView = configuredAgents(nodes),
  ) {
    const since = isoTime(clock.now());
    for (const node of nodes) {
      this.nodes.set(node.number, {
        power: null,
        present: null,
        state: { state: 'unknown', since, source: BOARD_READING, reason: 'not read yet' },
      });
    }
  }

  listen(listener: NodeListener): void {
    this.listeners.push(listener);
  }

  snapshot(node: number): Readonly<NodeSnapshot> | undefined {
    return this.nodes.get(node);
  }

  power(node: number): boolean | null {
    return this.nodes.get(node)?.power ?? null;
  }

  state(node: number): NodeStateName {
    return this.nodes.get(node)?.state.state ?? 'unknown';
  }

  // ---- what the board says ------------------------------------------------------------------

  setPower(node: number, on: boolean | null): void {
    const snap = this.nodes.get(node);
    if (!snap || snap.power === on) return;
    snap.power = on;
    this.tell(node, { power: on });
    for (const listener of this.listeners) listener.power?.(node, on);
  }

  setPresent(node: number, present: boolean | null): void {
    const snap = this.nodes.get(node);
    // Presence can only be told while powered: an unknown reading keeps the last value.
    if (!snap || present === null || snap.present === present) return;
    snap.present = present;
    this.tell(node, { present });
  }

  /**
   * A poll's reading: power changes not made by this bridge (another tool, a button) move
   * the state too. Busy states (shutting down, rebooting) are left to their sequence.
   */
  observe(node: number, power: boolean | null): void {
    this.setPower(node, power);
    const state = this.state(node);
    if (state === 'shutting_down' || state === 'rebooting') return;
    if (power === null) this.setState(node, 'unknown', BOARD_READING, 'the board cannot read this node');
    else if (!power && state !== 'off') this.setState(node, 'off', BOARD_READING, 'the board reports it off');
    else if (power && (state === 'off' || state === 'unknown')) {
      // An agent node found on is starting until its agent says online.
      const awaitsAgent = this.agents.isAgentNode(node) && this.agents.status(node) !== 'online';
      this.setState(node, awaitsAgent ? 'starting' : 'on', BOARD_READING, 'the board reports it on');
    }
  }

  // ---- what the agents say ------------------------------------------------------------------

  /** The node's agent said online: a node starting is on. */
  agentOnline(node: number): void {
    if (this.state(node) === 'starting') this.setState(node, 'on', 'mqtt', 'agent online');
    for (const listener of this.listeners) listener.agentOnline?.(node);
  }

  // ---- what the power service did (NodeLifecycle) --------------------------------------------

  cutting(node: number): void {
    this.expectDown(node);
  }

  switchedOn(node: number, source: CommandSource, reason: string): void {
    this.setState(node, this.agents.isAgentNode(node) ? 'starting' : 'on', source, reason);
  }

  switchedOff(node: number, source: CommandSource, reason: string): void {
    this.setState(node, 'off', source, reason);
  }

  shuttingDown(node: number, source: CommandSource): void {
    this.expectDown(node);
    this.setState(node, 'shutting_down', source, 'agent asked to shut the OS down');
  }

  shutdownFailed(node: number, source: CommandSource, reason: string): void {
    const power = this.power(node);
    this.setState(node, power === null ? 'unknown' : power ? 'on' : 'off', source, reason);
  }

  powerUnknown(node: number, reason: string): void {
    this.setPower(node, null);
    const state = this.state(node);
    if (state !== 'shutting_down' && state !== 'rebooting') this.setState(node, 'unknown', BOARD_READING, reason);
  }

  powerCycling(node: number, source: CommandSource): void {
    this.setState(node, 'rebooting', source, 'power cycle');
    this.expectDown(node);
  }

  osRebooting(node: number, source: CommandSource): void {
    this.setState(node, 'rebooting', source, 'agent asked to reboot the OS');
  }

  rebooted(node: number, source: CommandSource): void {
    this.setState(node, 'on', source, 'rebooted');
  }

  rebootFailed(node: number, source: CommandSource, reason: string): void {
    this.setState(node, 'unknown', source, reason);
  }

  // ---- inside -----------------------------------------------------------------------------

  private setState(node: number, state: NodeStateName, source: CommandSource, reason: string): void {
    const snap = this.nodes.get(node);
    if (!snap) return;
    const current = snap.state;
    if (current.state === state && current.reason === reason && current.source === source) return;
    snap.state = {
      state,
      since: current.state === state ? current.since : isoTime(this.clock.now()),
      source,
      reason,
    };
    this.tell(node, { state: snap.state });
  }

  private expectDown(node: number): void {
    if (!this.nodes.has(node)) return;
    for (const listener of this.listeners) listener.expectDown?.(node);
  }

  private tell(node: number, change: NodeChange): void {
    for (const listener of this.listeners) listener.changed?.(node, change);
  }
}

function configuredAgents(nodes: ResolvedNode[]): AgentView {
  const agentNodes = new Set(nodes.filter((n) => n.agent === true).map((n) => n.number));
  return { isAgentNode: (n) => agentNodes.has(n), status: () => 'unknown' };
}
