import type { AgentState } from '../agent/state.js';
import { monotonicNow, monotonicOfWall, wallOfMonotonic, type Clock, type TimerHandle } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import { type PolicyEvent, policyEvent } from './policy-event.js';

const HOUR = 3_600_000;
/** While maintenance pauses the watchdog, a hung node is looked at again this often. */
const PAUSED_RECHECK_MS = 60_000;

export interface WatchdogOptions {
  /** Nodes watched: `policies.watchdog.nodes` among the nodes that may run an agent (see policyNodes). */
  nodes: number[];
  /** Whether a node is an agent node now; others are never counted hung. Default: all of `nodes`. */
  isAgentNode?: (node: number) => boolean;
  /**
   * The node's agent stayed away across a whole watchdog power cycle: asked instead of the next
   * cycle. True when the node dropped out (an `auto` node then counts as agentless until its
   * agent is seen again: an uninstalled agent never leads to power cycles for ever); false
   * keeps it watched (`agent: true`, cycled up to max_per_hour).
   */
  agentLost?: (node: number) => boolean;
  offlineAfterMs: number;
  maxPerHour: number;
  clock: Clock;
  /** Maintenance ON pauses the policy (docs/topics.md, `bridge/maintenance`). */
  isPaused: () => boolean;
  /**
   * The times (ms) of the power cycles of earlier runs (state_dir): max_per_hour holds across
   * restarts, so a bridge its service manager restarts in a loop cycles a hung node no more often.
   */
  earlierCycles?: readonly number[];
  /** Saves the times of the last hour's power cycles; never rejects (a failure is the caller's to report). */
  saveCycles?: (cycles: readonly number[]) => Promise<void>;
  /** A hard power cycle (off, reboot_off_time, on): the bridge's hard reboot. */
  powerCycle: (node: number) => Promise<void>;
  onEvent: (event: PolicyEvent) => void;
}

interface WatchedNode {
  agent: AgentState | undefined;
  power: boolean | null;
  /** When power was last seen switching ON (monotonic, as every time kept here). */
  powerOnSince: number;
  /** The OS was taken down on purpose (agent shutting_down, or a graceful off under way). */
  downOnPurpose: boolean;
  /** Since when the agent has been away while power is on; undefined while it is not. */
  hungSince: number | undefined;
  timer: TimerHandle | undefined;
  /** Found hung while maintenance was ON, and said so: once it is OFF, offline_after starts again. */
  pausedReported: boolean;
  capReported: boolean;
  cycling: boolean;
  /** Power-cycled by the watchdog, and its agent not online since. */
  cycledWithoutAgent: boolean;
}

/**
 * Hard power-cycles a node whose agent has been offline for `offline_after` while its power
 * is ON, at most `max_per_hour` (a sliding hour).
 *
 * Not hung: a node whose power is off or unknown; one whose agent said `shutting_down`, or
 * for which the bridge called `expectDown` (a graceful off or shutdown), until its agent is
 * online again or its power goes off. A node halted on purpose and left powered (a graceful
 * sequence that failed, a bridge stopped mid-sequence) is therefore never switched back on
 * by the watchdog. An agent never heard from counts as offline from the time power is seen ON.
 * Only agent nodes are watched (isAgentNode); an agent still away after a watchdog power cycle
 * is asked about through agentLost before a second cycle.
 */
export class Watchdog {
  private readonly nodes = new Map<number, WatchedNode>();
  /**
   * When the power cycles of the last hour were made, oldest first (this run's and earlier runs'),
   * on the monotonic clock: the hour of max_per_hour neither ends at once nor lasts years when
   * network time or a person steps the system clock. Earlier runs' wall-clock times are turned
   * into monotonic ones at the start, and back into wall-clock times for the file.
   */
  private cycles: number[];
  private stopped = false;
  private brokerUp = true;

  constructor(private readonly opts: WatchdogOptions) {
    this.cycles = [...(opts.earlierCycles ?? [])]
      .filter(Number.isFinite)
      .map((at) => this.monotonicOf(at))
      .sort((a, b) => a - b);
    for (const node of opts.nodes) {
      this.nodes.set(node, {
        agent: undefined,
        power: null,
        powerOnSince: 0,
        downOnPurpose: false,
        hungSince: undefined,
        timer: undefined,
        pausedReported: false,
        capReported: false,
        cycling: false,
        cycledWithoutAgent: false,
      });
    }
  }

  /** What `<b>/node/<n>/agent/state` said, and when (default: now). */
  agentState(node: number, state: AgentState, at?: number): void {
    const watched = this.nodes.get(node);
    if (!watched) return;
    watched.agent = state;
    if (state === 'online') {
      watched.downOnPurpose = false;
      watched.cycledWithoutAgent = false;
    }
    if (state === 'shutting_down') watched.downOnPurpose = true;
    this.evaluate(node, watched, at);
  }

  /** The node's power as the board reports it (null: unknown). */
  power(node: number, on: boolean | null, at?: number): void {
    const watched = this.nodes.get(node);
    if (!watched) return;
    const wasOn = watched.power === true;
    watched.power = on;
    // Power off ends a deliberate shutdown: at the next power on the agent must come back.
    if (on === false) watched.downOnPurpose = false;
    if (on === true && !wasOn) {
      // A fresh boot gets a full offline_after before its agent is missed.
      watched.powerOnSince = Math.min(this.monotonicOf(at), this.now());
      watched.hungSince = undefined;
    }
    this.evaluate(node, watched, at);
  }

  /** Whether this node is one the policy watches (its `nodes`). */
  watches(node: number): boolean {
    return this.nodes.has(node);
  }

  /** The bridge starts a graceful off / shutdown of this node: its agent going away is expected. */
  expectDown(node: number): void {
    const watched = this.nodes.get(node);
    if (!watched) return;
    watched.downOnPurpose = true;
    this.evaluate(node, watched);
  }

  /**
   * The bridge lost (false) or regained (true) the broker. While it is away no agent can be
   * heard: nothing counts as hung, and every agent is unknown until its retained state comes
   * again. At the reconnection offline_after starts afresh, so an outage never power-cycles a
   * healthy node.
   */
  brokerConnection(connected: boolean, at?: number): void {
    this.brokerUp = connected;
    for (const [node, watched] of this.nodes) {
      if (!connected) watched.agent = undefined;
      watched.hungSince = undefined;
      this.evaluate(node, watched, at);
    }
  }

  /** Whether the node counts as hung now (for tests and status). */
  isHung(node: number): boolean {
    return this.nodes.get(node)?.hungSince !== undefined;
  }

  stop(): void {
    this.stopped = true;
    for (const watched of this.nodes.values()) this.disarm(watched);
  }

  private evaluate(node: number, watched: WatchedNode, at?: number): void {
    if (this.stopped || watched.cycling) return;
    const agentNode = this.opts.isAgentNode?.(node) ?? true;
    const agentAway = watched.agent !== 'online' && watched.agent !== 'shutting_down';
    const hung = this.brokerUp && agentNode && watched.power === true && agentAway && !watched.downOnPurpose;
    if (!hung) {
      watched.hungSince = undefined;
      watched.pausedReported = false;
      watched.capReported = false;
      this.disarm(watched);
      return;
    }
    if (watched.hungSince !== undefined) return; // already counting
    // Offline "while power is ON": counted from the later of the two.
    const now = this.now();
    watched.hungSince = Math.min(now, Math.max(this.monotonicOf(at), watched.powerOnSince));
    this.arm(node, watched, watched.hungSince + this.opts.offlineAfterMs - this.now());
  }

  private arm(node: number, watched: WatchedNode, delayMs: number): void {
    this.disarm(watched);
    watched.timer = this.opts.clock.setTimeout(
      () => {
        watched.timer = undefined;
        void this.fire(node, watched);
      },
      Math.max(0, delayMs),
    );
  }

  private disarm(watched: WatchedNode): void {
    this.opts.clock.clearTimeout(watched.timer);
    watched.timer = undefined;
  }

  private async fire(node: number, watched: WatchedNode): Promise<void> {
    if (this.stopped || watched.hungSince === undefined) return;
    const now = this.now();
    const away = formatMinutes(now - watched.hungSince);
    const reason = `agent offline for ${away} while power is ON`;
    if (this.opts.isPaused()) {
      if (!watched.pausedReported) {
        watched.pausedReported = true;
        this.emit(node, 'error', reason, `not power-cycled: maintenance is ON (${reason})`);
      }
      this.arm(node, watched, PAUSED_RECHECK_MS);
      return;
    }
    if (watched.pausedReported) {
      // Maintenance has just ended: whoever worked on the node (a new OS, an agent not yet
      // installed) gets a whole offline_after before its power is cut, as after a broker outage.
      watched.pausedReported = false;
      watched.hungSince = now;
      this.arm(node, watched, this.opts.offlineAfterMs);
      return;
    }
    if (watched.cycledWithoutAgent && this.opts.agentLost?.(node)) {
      watched.cycledWithoutAgent = false;
      const lost =
        `not power-cycled again: its agent did not come back after the last power cycle; ` +
        `node ${node} counts as agentless until its agent is seen again`;
      this.emit(node, 'error', reason, lost);
      watched.hungSince = undefined;
      this.evaluate(node, watched);
      return;
    }
    // Cycles stamped ahead of now (an earlier run's, the clock stepped back since) count until an hour away.
    this.cycles = this.cycles.filter((at) => Math.abs(now - at) < HOUR);
    if (this.cycles.length >= this.opts.maxPerHour) {
      if (!watched.capReported) {
        watched.capReported = true;
        this.emit(
          node,
          'error',
          reason,
          `not power-cycled: already ${this.cycles.length} watchdog power cycles in the last hour ` +
            `(max_per_hour ${this.opts.maxPerHour})`,
        );
      }
      // Look again when the oldest cycle leaves the sliding hour.
      this.arm(node, watched, this.cycles[0]! + HOUR - now);
      return;
    }
    this.cycles.push(now);
    watched.cycling = true;
    watched.capReported = false;
    try {
      // Saved before the cycle: a bridge that crashes or is restarted during it still counts it.
      await this.opts.saveCycles?.(this.cycles.map((at) => wallOfMonotonic(this.opts.clock, at)));
      await this.opts.powerCycle(node);
      watched.cycledWithoutAgent = watched.agent !== 'online';
      this.emit(node, 'ok', `power-cycled: ${reason}`);
    } catch (error) {
      this.emit(node, 'error', reason, `power cycle failed: ${errorMessage(error)}`);
    } finally {
      watched.cycling = false;
    }
    // The offline timer restarts after a cycle: the node gets a full offline_after to boot.
    watched.hungSince = undefined;
    this.disarm(watched);
    this.evaluate(node, watched);
  }

  private now(): number {
    return monotonicNow(this.opts.clock);
  }

  /** A wall-clock time (default: now) on the monotonic clock. */
  private monotonicOf(wallMs: number | undefined): number {
    return wallMs === undefined ? this.now() : monotonicOfWall(this.opts.clock, wallMs);
  }

  private emit(node: number, result: 'ok' | 'error', reason: string, error?: string): void {
    this.opts.onEvent(
      policyEvent(this.opts.clock, { type: 'watchdog', node, action: 'power_cycle', result, reason, error }),
    );
  }
}

function formatMinutes(ms: number): string {
  const minutes = ms / 60_000;
  return Number.isInteger(minutes) ? `${minutes}m` : `${Math.round(ms / 1000)}s`;
}
