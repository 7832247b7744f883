import type { Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import { type PolicyEvent, policyEvent } from './policy-event.js';

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

/**
 * A node above `max_celsius` gets `action` once, and not again until it has been below
 * `clear_celsius` (hysteresis: a node hovering at the limit is not acted on per sample).
 * While maintenance is ON nothing is done (one event says so); a node still hot when
 * maintenance ends is acted on at its next temperature.
 */
export class Thermal {
  private readonly tripped = new Set<number>();
  private readonly pausedReported = new Set<number>();
  private readonly watched: Set<number>;
  private brokerUp = true;

  constructor(private readonly opts: ThermalOptions) {
    this.watched = new Set(opts.nodes);
  }

  /** Without the broker no agent can be commanded: temperatures wait for the reconnection. */
  brokerConnection(connected: boolean): void {
    this.brokerUp = connected;
  }

  /** A temperature from `<b>/node/<n>/agent/telemetry` (null: not readable, ignored). */
  async temperature(node: number, celsius: number | null): Promise<void> {
    if (!this.brokerUp || !this.watched.has(node) || celsius === null || !Number.isFinite(celsius)) return;
    if (this.tripped.has(node)) {
      if (celsius < this.opts.clearCelsius) this.tripped.delete(node);
      return;
    }
    if (celsius <= this.opts.maxCelsius) {
      this.pausedReported.delete(node);
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
    this.pausedReported.delete(node);
    this.tripped.add(node); // before acting: a second sample during the action does not act again
    try {
      await this.opts.act(node, this.opts.action);
      this.emit(node, 'ok', reason);
    } catch (error) {
      this.emit(node, 'error', reason, `${this.opts.action} failed: ${errorMessage(error)}`);
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
