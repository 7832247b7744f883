import type { ResolvedNode } from '../config/nodes.js';
import type { Clock } from '../util/clock.js';
import type { PowerView } from '../power/power-service.js';
import type { CommandSource, NodeState, NodeStateName } from '../power/types.js';

export interface NodeSnapshot {
  power: boolean | null;
  present: boolean | null;
  state: NodeState;
}

/**
 * The bridge's picture of every node: power as the board last reported it, presence learnt
 * while powered (kept while off, docs/hardware.md "DS4520 at 0x57"), and the lifecycle state. Every change
 * goes to `onChange`, which publishes it; unchanged values publish nothing.
 */
export class NodeModel implements PowerView {
  private readonly nodes = new Map<number, NodeSnapshot>();

  constructor(
    nodes: ResolvedNode[],
    private readonly clock: Clock,
    private readonly onChange: (node: number, snapshot: NodeSnapshot) => void,
  ) {
    const since = new Date(clock.now()).toISOString();
    for (const node of nodes) {
      this.nodes.set(node.number, {
        power: null,
        present: null,
        state: { state: 'unknown', since, source: 'board', reason: 'not read yet' },
      });
    }
  }

  snapshot(node: number): NodeSnapshot | undefined {
    return this.nodes.get(node);
  }

  power(node: number): boolean | null {
    return this.nodes.get(node)?.power ?? null;
  }

  state(node: number): NodeStateName {
    return this.nodes.get(node)?.state.state ?? 'unknown';
  }

  setPower(node: number, on: boolean | null): void {
    const snap = this.nodes.get(node);
    if (!snap || snap.power === on) return;
    snap.power = on;
    this.onChange(node, snap);
  }

  setPresent(node: number, present: boolean | null): void {
    const snap = this.nodes.get(node);
    // Presence can only be told while powered: an unknown reading keeps the last value.
    if (!snap || present === null || snap.present === present) return;
    snap.present = present;
    this.onChange(node, snap);
  }

  setState(node: number, state: NodeStateName, source: CommandSource | 'board', reason: string): void {
    const snap = this.nodes.get(node);
    if (!snap) return;
    const current = snap.state;
    if (current.state === state && current.reason === reason && current.source === source) return;
    snap.state = {
      state,
      since: current.state === state ? current.since : new Date(this.clock.now()).toISOString(),
      source,
      reason,
    };
    this.onChange(node, snap);
  }

  /**
   * A poll's reading: power changes not made by this bridge (another tool, a button) move
   * the state too. Busy states (shutting down, rebooting) are left to their sequence.
   */
  observe(node: number, power: boolean | null, hasAgent: boolean): void {
    this.setPower(node, power);
    const state = this.state(node);
    if (state === 'shutting_down' || state === 'rebooting') return;
    if (power === null) this.setState(node, 'unknown', 'board', 'the board cannot read this node');
    else if (!power && state !== 'off') this.setState(node, 'off', 'board', 'the board reports it off');
    else if (power && (state === 'off' || state === 'unknown')) {
      this.setState(node, hasAgent ? 'starting' : 'on', 'board', 'the board reports it on');
    }
  }
}
