import { sleep, type Clock } from '../util/clock.js';
import { TpmError } from '../util/errors.js';

export type AgentStatus = 'online' | 'shutting_down' | 'offline' | 'unknown';

type Listener = (status: AgentStatus, failure?: string) => void;

/** One thing an agent said after a command was sent to it. */
interface Heard {
  status: AgentStatus;
  failure?: string;
}

/** More than a sequence ever needs (shutting_down, offline, online, a failure); bounds a flapping agent. */
const HEARD_LIMIT = 32;

/**
 * What the bridge knows of each node's agent, from `node/<n>/agent/state` and the agent's
 * failure reports, and the waits the graceful sequences need (SPEC section 6).
 */
export class AgentTracker {
  private readonly statuses = new Map<number, AgentStatus>();
  private readonly listeners = new Map<number, Set<Listener>>();
  /**
   * What each agent said since the last command to it. A fast agent answers (shutting_down,
   * even a failure and online again) before the publish of the command has been acknowledged,
   * i.e. before the caller's waitFor is listening: waitFor replays this first, so nothing
   * said in between is lost.
   */
  private readonly heard = new Map<number, Heard[]>();

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
    this.remember(node, { status });
    for (const listener of [...(this.listeners.get(node) ?? [])]) listener(status);
  }

  /** The agent ran its argv and it failed: the OS is still up. */
  reportFailure(node: number, error: string): void {
    this.remember(node, { status: this.status(node), failure: error });
    for (const listener of [...(this.listeners.get(node) ?? [])]) listener(this.status(node), error);
  }

  /** Sends the command; what the agent says from now on is kept for the waits that follow. */
  command(node: number, word: 'SHUTDOWN' | 'REBOOT'): Promise<void> {
    this.heard.set(node, []);
    return this.send(node, word);
  }

  private remember(node: number, entry: Heard): void {
    const heard = this.heard.get(node);
    if (!heard) return;
    heard.push(entry);
    if (heard.length > HEARD_LIMIT) heard.splice(0, heard.length - HEARD_LIMIT);
  }

  /**
   * Waits until `done(status)` is true. Rejects when the agent reports a failed command, when
   * `failIf(status)` is true, at the time-out, or when the signal aborts (a bridge stop).
   * What the agent said since the last command is taken into account first, in order.
   */
  waitFor(
    node: number,
    done: (status: AgentStatus) => boolean,
    options: { timeoutMs: number; signal?: AbortSignal; failIf?: (status: AgentStatus) => string | undefined; timeoutMessage: string },
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const set = this.listeners.get(node) ?? new Set<Listener>();
      this.listeners.set(node, set);
      const abort = new AbortController();
      let finished = false;
      const finish = (error?: Error): void => {
        if (finished) return;
        finished = true;
        set.delete(listener);
        abort.abort();
        options.signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const listener: Listener = (status, failure) => {
        if (finished) return;
        if (failure) return finish(new TpmError('AGENT', failure));
        const failed = options.failIf?.(status);
        if (failed) return finish(new TpmError('AGENT', failed));
        if (done(status)) finish();
      };
      const onAbort = (): void => finish(new TpmError('AGENT', 'the bridge is stopping'));
      // What was said before this wait began (a fast agent), then the status as it is now.
      for (const entry of this.heard.get(node) ?? []) listener(entry.status, entry.failure);
      listener(this.status(node));
      if (finished) return;
      set.add(listener);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      sleep(this.clock, options.timeoutMs, abort.signal).then(
        () => finish(new TpmError('TIMEOUT', options.timeoutMessage)),
        () => undefined,
      );
    });
  }
}
