import { monotonicNow, sleep, type Clock, type TimerHandle } from '../util/clock.js';
import { TpmError } from '../util/errors.js';
import type { AgentState } from '../agent/state.js';

/** An agent's last word, or unknown before it said one. */
type LastWord = AgentState | 'unknown';

type Listener = (status: LastWord, failure?: string) => void;

/** One thing an agent said after a command was sent to it. */
interface Heard {
  status: LastWord;
  failure?: string;
}

/** What waitGone needs to know besides the node. */
export interface GoneOptions {
  /** How long `offline` must hold, without a break, before the agent counts as gone. */
  settleMs: number;
  /**
   * Monotonic time (monotonicNow) after which an `offline` that begins no longer counts: the wait
   * fails then. Not the wall clock: NTP stepping it forward while the OS goes down ended the wait at once.
   */
  deadline: number;
  signal?: AbortSignal;
  timeoutMessage: string;
  /**
   * Told when the settle wait starts (the agent went offline), when it is called off (it came
   * back), and of an offline before the agent said shutting_down (`lost`: it does not count).
   */
  onProgress?: (change: 'gone' | 'back' | 'lost', status: LastWord) => void;
}

/** More than a sequence ever needs (shutting_down, offline, online, a failure); bounds a flapping agent. */
const HEARD_LIMIT = 32;

/**
 * What the bridge knows of each node's agent, from `node/<n>/agent/state` and the agent's
 * failure reports, and the waits the graceful sequences need (docs/topics.md, `OFF`).
 */
export class AgentTracker {
  private readonly statuses = new Map<number, LastWord>();
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

  status(node: number): LastWord {
    return this.statuses.get(node) ?? 'unknown';
  }

  update(node: number, status: AgentState): void {
    this.set(node, status);
  }

  private set(node: number, status: LastWord): void {
    this.statuses.set(node, status);
    this.remember(node, { status });
    for (const listener of [...(this.listeners.get(node) ?? [])]) listener(status);
  }

  /**
   * The bridge lost the broker: it cannot hear any agent, so none counts as online or offline
   * (a graceful sequence's settle wait is called off) until their retained states arrive again.
   */
  connectionLost(): void {
    for (const node of [...this.statuses.keys()]) this.set(node, 'unknown');
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
   * Waits until the agent has been `offline` for `settleMs` without a break, after it said
   * `shutting_down` (since the command, and, unless it was already gone then, since the bridge
   * last lost the broker): an `offline` before that is the will of a link lost before the agent
   * took the command, or a state the broker kept from before (an earlier boot's), and the OS
   * runs on however long the agent stays away. An offline is not the end of the OS when the
   * agent comes back either: a connection dropped for a moment makes the broker publish the
   * will, and the agent, reconnected, says `shutting_down` again while its argv runs on. So any
   * other state (and `unknown`: the bridge lost the broker) calls the settle wait off, and it
   * starts again at the next `offline`. `online` after `shutting_down` means the agent's command
   * failed; a failure report, the deadline (no `offline` begun before it) and the signal end the
   * wait too. Bounded: deadline + settleMs.
   */
  waitGone(node: number, options: GoneOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      const { clock } = this;
      const set = this.listenersOf(node);
      let finished = false;
      /** shutting_down heard since the command: an online after it is a failed command. */
      let acknowledged = false;
      /** An offline counts: shutting_down heard since the command, and since the broker was lost (or gone then). */
      let goingDown = false;
      let settling: TimerHandle | undefined;
      /** The status this wait was last told. */
      let last: LastWord | undefined;
      // Set last, once the replay did not already end the wait.
      const timers: { deadline?: TimerHandle } = {};
      const finish = (error?: Error): void => {
        if (finished) return;
        finished = true;
        set.delete(listener);
        clock.clearTimeout(settling);
        clock.clearTimeout(timers.deadline);
        options.signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const timedOut = (): void => finish(new TpmError('TIMEOUT', options.timeoutMessage));
      const listener: Listener = (status, failure) => {
        if (finished) return;
        if (failure) return finish(new TpmError('AGENT', failure));
        const previous = last;
        last = status;
        if (status === 'shutting_down') acknowledged = goingDown = true;
        // The broker is lost. The states it hands over when it is back may be older than the last
        // word heard (one that kept them on disk restarts with its last save: an earlier boot's
        // offline); an offline then counts only if the agent was already gone, or said shutting_down.
        // Told again with no word between (the replay ends with the status as it is now), it is no
        // news: an agent gone before the loss stays gone.
        if (status === 'unknown' && previous !== 'unknown') goingDown = settling !== undefined;
        if (status === 'online' && acknowledged)
          return finish(new TpmError('AGENT', 'the agent went back online: its shutdown command failed'));
        if (status === 'offline') {
          // Before shutting_down, offline is the will of a link lost before the agent took the
          // command, or a stale state (its OS runs on): only an agent that said it goes down is gone.
          if (!goingDown) return options.onProgress?.('lost', status);
          if (settling !== undefined) return;
          if (monotonicNow(clock) >= options.deadline) return timedOut();
          settling = clock.setTimeout(() => finish(), options.settleMs);
          options.onProgress?.('gone', status);
          return;
        }
        if (settling === undefined) return;
        clock.clearTimeout(settling);
        settling = undefined;
        options.onProgress?.('back', status);
        if (monotonicNow(clock) >= options.deadline) timedOut();
      };
      const onAbort = (): void => finish(new TpmError('AGENT', 'the bridge is stopping'));
      for (const entry of this.heard.get(node) ?? []) listener(entry.status, entry.failure);
      listener(this.status(node));
      if (finished) return;
      set.add(listener);
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      // At the deadline only a settle wait under way may go on (it ends within settleMs).
      timers.deadline = clock.setTimeout(
        () => {
          if (settling === undefined) timedOut();
        },
        Math.max(0, options.deadline - monotonicNow(clock)),
      );
    });
  }

  private listenersOf(node: number): Set<Listener> {
    const set = this.listeners.get(node) ?? new Set<Listener>();
    this.listeners.set(node, set);
    return set;
  }

  /**
   * Waits until `done(status)` is true. Rejects when the agent reports a failed command, when
   * `failIf(status)` is true, at the time-out, or when the signal aborts (a bridge stop).
   * What the agent said since the last command is taken into account first, in order.
   */
  waitFor(
    node: number,
    done: (status: LastWord) => boolean,
    options: {
      timeoutMs: number;
      signal?: AbortSignal;
      failIf?: (status: LastWord) => string | undefined;
      timeoutMessage: string;
    },
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const set = this.listenersOf(node);
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
