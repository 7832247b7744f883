import type { AgentState } from '../agent/state.js';
import { monotonicNow, type Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import { type PolicyEvent, policyEvent } from './policy-event.js';

/** A node the action failed on (nothing was done: busy, agent away...) is tried again this long after, at the least. */
export const THERMAL_RETRY_MS = 60_000;
/** Each failure in a row doubles the wait before the next try, up to this. */
const THERMAL_RETRY_MAX_MS = 30 * 60_000;

export interface ThermalOptions {
  /** Nodes watched: `policies.thermal.nodes` among the nodes with `agent: true` (see policyNodes). */
  nodes: number[];
  maxCelsius: number;
  clearCelsius: number;
  action: 'shutdown' | 'off';
  isPaused: () => boolean;
  clock: Clock;
  /** The bridge's SHUTDOWN (graceful) or OFF of the node, from source `policy`. */
  act: (node: number, action: 'shutdown' | 'off') => Promise<void>;
  onEvent: (event: PolicyEvent) => void;
}

/** A failed try: when the next may be made, and how many failed in a row (the back-off). */
interface Failed {
  retryAt: number;
  count: number;
}

/**
 * A node above `max_celsius` gets `action` once, and not again until it has been below
 * `clear_celsius` (hysteresis: a node hovering at the limit is not acted on per sample).
 * Only the readings of an agent online now count: the telemetry is retained, and the last one of
 * an agent that is gone (its node cut, or booting again) says nothing about the node now.
 * While maintenance is ON nothing is done (one event says so); a node still hot when
 * maintenance ends is acted on then, on its last reading (the agent publishes only changes).
 * An action that failed is tried again at a later reading, after a back-off.
 */
export class Thermal {
  private readonly tripped = new Set<number>();
  private readonly pausedReported = new Set<number>();
  private readonly watched: Set<number>;
  /** The agents online now, as their `agent/state` last said (none while the broker is lost). */
  private readonly online = new Set<number>();
  /** The last reading of each node whose agent is online. */
  private readonly last = new Map<number, number>();
  private readonly failed = new Map<number, Failed>();
  private brokerUp = true;

  constructor(private readonly opts: ThermalOptions) {
    this.watched = new Set(opts.nodes);
  }

  /**
   * Without the broker no agent can be commanded nor heard: readings count again once each agent's
   * state is back. Not later (the reconnection is told after the resubscription): the retained
   * readings handed back with it may be the only ones of a node that got hot meanwhile.
   */
  brokerConnection(connected: boolean): void {
    this.brokerUp = connected;
    if (connected) return;
    this.online.clear();
    this.last.clear();
  }

  /** An `agent/state`: a reading counts only while its agent is online. */
  agentState(node: number, status: AgentState): void {
    if (status === 'online') {
      this.online.add(node);
      return;
    }
    this.online.delete(node);
    this.last.delete(node);
  }

  /** A temperature from `<b>/node/<n>/agent/telemetry` (null: not readable, ignored). */
  async temperature(node: number, celsius: number | null): Promise<void> {
    if (!this.watched.has(node) || !this.online.has(node)) return;
    if (celsius === null || !Number.isFinite(celsius)) return;
    this.last.set(node, celsius);
    await this.judge(node, celsius);
  }

  /** Maintenance ended: every node whose last reading is still too hot is acted on now. */
  async maintenanceEnded(): Promise<void> {
    if (!this.brokerUp) return;
    await Promise.all([...this.last].map(([node, celsius]) => this.judge(node, celsius)));
  }

  private async judge(node: number, celsius: number): Promise<void> {
    if (this.tripped.has(node)) {
      if (celsius < this.opts.clearCelsius) this.tripped.delete(node);
      return;
    }
    if (celsius <= this.opts.maxCelsius) {
      this.pausedReported.delete(node);
      this.failed.delete(node);
      return;
    }
    const reason = `temperature ${celsius} °C above max_celsius ${this.opts.maxCelsius} °C`;
    if (this.opts.isPaused()) {
      if (!this.pausedReported.has(node)) {
        this.pausedReported.add(node);
        this.emit(node, 'error', reason, `no ${this.opts.action}: maintenance is ON (${reason})`);
      }
      return;
    }
    const failed = this.failed.get(node);
    if (failed && monotonicNow(this.opts.clock) < failed.retryAt) return;
    this.pausedReported.delete(node);
    this.tripped.add(node); // before acting: a second sample during the action does not act again
    try {
      await this.opts.act(node, this.opts.action);
      this.failed.delete(node);
      this.emit(node, 'ok', reason);
    } catch (error) {
      // Nothing was done (the node stays as it was): tried again at a reading after the back-off.
      this.tripped.delete(node);
      const count = (failed?.count ?? 0) + 1;
      const wait = Math.min(THERMAL_RETRY_MS * 2 ** (count - 1), THERMAL_RETRY_MAX_MS);
      // Monotonic: a clock stepped back must not leave a hot node alone for as long as the step.
      this.failed.set(node, { retryAt: monotonicNow(this.opts.clock) + wait, count });
      const again = `tried again at a reading from ${Math.round(wait / 60_000)} min on`;
      this.emit(node, 'error', reason, `${this.opts.action} failed: ${errorMessage(error)}; ${again}`);
    }
  }

  /** Whether the node has been acted on and not yet cooled below clear_celsius. */
  isTripped(node: number): boolean {
    return this.tripped.has(node);
  }

  private emit(node: number, result: 'ok' | 'error', reason: string, error?: string): void {
    this.opts.onEvent(
      policyEvent(this.opts.clock, { type: 'thermal', node, action: this.opts.action, result, reason, error }),
    );
  }
}
