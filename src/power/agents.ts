import { sleep, type Clock } from '../util/clock.js';
import { TpmError } from '../util/errors.js';

export type AgentStatus = 'online' | 'shutting_down' | 'offline' | 'unknown';

type Listener = (status: AgentStatus, failure?: string) => void;

/**
 * What the bridge knows of each node's agent, from `node/<n>/agent/state` and the agent's
 * failure reports, and the waits the graceful sequences need (SPEC section 6).
 */
export class AgentTracker {
  private readonly statuses = new Map<number, AgentStatus>();
  private readonly listeners = new Map<number, Set<Listener>>();

  constructor(
    private readonly clock: Clock,
    /** Sends SHUTDOWN or REBOOT to a node's agent (not retained, QoS 1). */
    private readonly send: (node: number, word: 'SHUTDOWN' | 'REBOOT') => Promise<void>,
  ) {}

  status(node: number): AgentStatus {
    return this.statuses.get(node) ?? 'unknown';
  }

  update(node: number, status: AgentStatus): void {
    this.statuses.set(node, status);
    for (const listener of this.listeners.get(node) ?? []) listener(status);
  }

  /** The agent ran its argv and it failed: the OS is still up. */
  reportFailure(node: number, error: string): void {
    for (const listener of this.listeners.get(node) ?? []) listener(this.status(node), error);
  }

  command(node: number, word: 'SHUTDOWN' | 'REBOOT'): Promise<void> {
    return this.send(node, word);
  }

  /**
   * Waits until `done(status)` is true. Rejects when the agent reports a failed command, when
   * `failIf(status)` is true, at the time-out, or when the signal aborts (a bridge stop).
   */
  waitFor(
    node: number,
    done: (status: AgentStatus) => boolean,
    options: { timeoutMs: number; signal?: AbortSignal; failIf?: (status: AgentStatus) => string | undefined; timeoutMessage: string },
  ): Promise<void> {
    if (done(this.status(node))) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const set = this.listeners.get(node) ?? new Set<Listener>();
      this.listeners.set(node, set);
      const abort = new AbortController();
      const finish = (error?: Error): void => {
        set.delete(listener);
        abort.abort();
        options.signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const listener: Listener = (status, failure) => {
        if (failure) return finish(new TpmError('AGENT', failure));
        const failed = options.failIf?.(status);
        if (failed) return finish(new TpmError('AGENT', failed));
        if (done(status)) finish();
      };
      const onAbort = (): void => finish(new TpmError('AGENT', 'the bridge is stopping'));
      set.add(listener);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      sleep(this.clock, options.timeoutMs, abort.signal).then(
        () => finish(new TpmError('TIMEOUT', options.timeoutMessage)),
        () => undefined,
      );
    });
  }
}
