import type { Config } from '../config/schema.js';
import { formatDuration } from '../config/duration.js';
import { monotonicNow, type Clock } from '../util/clock.js';
import { TpmError, errorMessage } from '../util/errors.js';
import type { AgentTracker } from './agents.js';
import { powerEvent, type EventInput, type NodeAction, type NodeLifecycle, type Origin } from './types.js';

/** What the graceful sequences need of the power service. */
export interface GracefulDeps {
  view: NodeLifecycle;
  power: Config['power'];
  clock: Clock;
  event(event: EventInput): void;
  agents?: AgentTracker;
}

/**
 * One graceful sequence: its node, who asked for it (with the request's transaction, which its
 * events carry), and what ends it early (a stop, a FORCE_OFF).
 */
export interface Sequence extends Origin {
  node: number;
  action: NodeAction;
  signal: AbortSignal;
}

/** Why a sequence's signal was aborted: said in its error. */
export const STOPPING = 'the bridge is stopping';

/** A step of the sequence as it happens: a `progress` event on `bridge/event` (docs/topics.md). */
function progress(deps: GracefulDeps, seq: Sequence, message: string): void {
  deps.event(powerEvent(seq.node, seq.action, seq, { result: 'progress', message }));
}

function requireAgent(deps: GracefulDeps, n: number): AgentTracker {
  const agents = deps.agents;
  const status = agents?.status(n) ?? 'unknown';
  if (!agents || status !== 'online') {
    throw new TpmError(
      'AGENT',
      `the agent of node ${n} is not online (${status}): nothing was cut; use FORCE_OFF to cut power anyway`,
    );
  }
  return agents;
}

/**
 * Resolves with `promise`, or rejects when `deadline` (monotonicNow: a clock step moves no
 * deadline) passes or `signal` aborts first: the agent command's delivery is part of
 * graceful_timeout, and a stop ends it.
 */
function within<T>(
  clock: Clock,
  promise: Promise<T>,
  deadline: number,
  signal: AbortSignal,
  timeoutMessage: string,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = clock.setTimeout(
      () => done(new TpmError('TIMEOUT', timeoutMessage)),
      Math.max(0, deadline - monotonicNow(clock)),
    );
    const onAbort = (): void => done(new TpmError('AGENT', String(signal.reason ?? STOPPING)));
    const done = (error?: Error, value?: T): void => {
      clock.clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(value as T);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => done(undefined, value),
      (error: unknown) => done(error instanceof Error ? error : new Error(String(error))),
    );
  });
}

/** The progress events of the settle wait (waitGone's onProgress). */
function settleWords(power: Config['power']): Record<'gone' | 'back' | 'lost', (status: string) => string> {
  return {
    gone: () => `agent gone; waiting ${formatDuration(power.settle_time)} for the OS to finish before cutting power`,
    back: (status) => `the agent is back (${status}) before settle_time passed: waiting for it to go again`,
    lost: () =>
      'agent offline before it said shutting_down (a link lost before it took the command, or a state from ' +
      'before the broker came back): not the end of its OS; waiting for the agent',
  };
}

/**
 * The OS half of a graceful off: command the agent, wait until it is gone and has stayed gone
 * for settle_time (docs/topics.md, "What the words do"). Resolves when power may be
 * cut; throws, with nothing cut and the node's state back to what it is, otherwise. Everything,
 * the command's delivery included, is bounded by graceful_timeout (plus one settle_time).
 */
export async function shutDownOs(deps: GracefulDeps, seq: Sequence): Promise<void> {
  const { view, power, clock } = deps;
  const { node: n, source, signal } = seq;
  const agents = requireAgent(deps, n);
  const words = settleWords(power);
  const deadline = monotonicNow(clock) + power.graceful_timeout;
  const timeoutMessage =
    `node ${n}'s OS did not go down within ${formatDuration(power.graceful_timeout)}: ` +
    `nothing was cut; use FORCE_OFF to cut power anyway`;
  view.shuttingDown(n, source);
  progress(deps, seq, 'asking the agent to shut the OS down');
  try {
    await within(clock, agents.command(n, 'SHUTDOWN'), deadline, signal, timeoutMessage);
    await agents.waitGone(n, {
      settleMs: power.settle_time,
      deadline,
      signal,
      timeoutMessage,
      // Called from the agent's MQTT messages; its events carry this action's transaction (seq).
      onProgress: (change: 'gone' | 'back' | 'lost', status: string) => progress(deps, seq, words[change](status)),
    });
  } catch (error) {
    if (signal.aborted && signal.reason !== STOPPING)
      throw new TpmError('AGENT', `shutdown ended: ${String(signal.reason)}`);
    view.shutdownFailed(n, source, `shutdown failed: ${errorMessage(error)}`);
    if (signal.aborted) throw new TpmError('AGENT', `shutdown interrupted by a bridge stop; power left on`);
    const reason = errorMessage(error);
    // Whatever went wrong (a lost broker included), the way out is the same: say it every time.
    const advice = /FORCE_OFF/.test(reason)
      ? ''
      : '; nothing was cut: check the node, and use FORCE_OFF to cut power anyway';
    throw new TpmError('AGENT', `shutdown failed, power stays on: ${reason}${advice}`);
  }
}

/** A reboot by the agent: command, offline, online again, all within graceful_timeout each. */
export async function rebootOs(deps: GracefulDeps, seq: Sequence): Promise<void> {
  const { view, power, clock } = deps;
  const { node: n, source, signal } = seq;
  const agents = requireAgent(deps, n);
  view.osRebooting(n, source);
  progress(deps, seq, 'asking the agent to reboot the OS');
  const timeoutMessage = `node ${n} did not come back within ${formatDuration(power.graceful_timeout)}`;
  try {
    await within(
      clock,
      agents.command(n, 'REBOOT'),
      monotonicNow(clock) + power.graceful_timeout,
      signal,
      timeoutMessage,
    );
    // As for a shutdown, an offline before shutting_down is a link lost before the agent took the
    // command: with it, the agent's return would pass for a reboot that never happened. Each wait
    // replays all the agent said since the command: the second counts only an online after that offline.
    const options = { timeoutMs: power.graceful_timeout, signal, timeoutMessage };
    await agents.waitFor(n, rebootSteps('offline'), options);
    await agents.waitFor(n, rebootSteps('online'), options);
  } catch (error) {
    if (signal.aborted && signal.reason !== STOPPING)
      throw new TpmError('AGENT', `reboot ended: ${String(signal.reason)}`);
    view.rebootFailed(n, source, `reboot: ${errorMessage(error)}`);
    throw new TpmError('AGENT', `reboot failed: ${errorMessage(error)}`);
  }
  view.rebooted(n, source);
}

/** True once the agent has said, in this order, shutting_down, offline and (for `until` online) online. */
function rebootSteps(until: 'offline' | 'online'): (status: string) => boolean {
  const steps = ['shutting_down', 'offline', 'online'];
  let next = 0;
  return (status) => {
    if (status === steps[next]) next++;
    return steps[next - 1] === until;
  };
}
