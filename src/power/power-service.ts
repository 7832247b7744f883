import type { BoardDriver } from '../board/types.js';
import type { Config } from '../config/schema.js';
import { findNode, unknownNodeMessage, type ResolvedNode } from '../config/nodes.js';
import { formatDuration } from '../config/duration.js';
import { sleep, type Clock } from '../util/clock.js';
import { TpmError, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { Mutex } from '../util/mutex.js';
import type { AgentTracker } from './agents.js';
import { rebootOs, shutDownOs, STOPPING, type Sequence } from './graceful.js';
import type { CommandSource, EventInput, NodeAction, NodeResult, PowerView } from './types.js';

/** What an action comes to once toggle, off_mode and reboot_mode are resolved. */
type Step = 'on' | 'graceful-off' | 'cut' | 'graceful-reboot' | 'hard-reboot';

/** An operation under way, recorded so that a crash in the middle is reported at the next start. */
export interface JournalEntry {
  node: number;
  action: NodeAction;
  source: CommandSource;
  started_at: string;
}

export interface PowerJournal {
  begin(entry: JournalEntry): Promise<void>;
  /** The operation `entry` finished (only that entry is removed: another may have begun since). */
  end(entry: JournalEntry): Promise<void>;
  /** Remembers what a node was last switched to, for restore_on_start: last. */
  commanded(node: number, on: boolean): Promise<void>;
}

export interface PowerServiceDeps {
  driver: BoardDriver;
  nodes: ResolvedNode[];
  power: Config['power'];
  clock: Clock;
  logger: Logger;
  /** The bridge's view of power, updated from every read-back. */
  view: PowerView;
  event(event: EventInput): void;
  journal: PowerJournal;
  /** Present where any node may run an agent. */
  agents?: AgentTracker;
  /**
   * Whether a node is an agent node now (agent: true, or auto once its agent has been seen).
   * Default: the nodes configured with agent: true.
   */
  isAgentNode?(node: number): boolean;
  /** Tells policies a node is going down on purpose (not hung). */
  expectDown?(node: number): void;
}

export type { PowerView } from './types.js';

/**
 * Every power action of every source goes through here: checks (protected, disabled, off
 * nodes), per-node exclusivity, the board-wide write lock, on_stagger and min_off_time, the
 * graceful sequences with the agent (docs/topics.md, "What the words do"), and read-back of every change:
 * power is published as the board reads it after the write, never as asked.
 */
export class PowerService {
  private readonly writes = new Mutex();
  private readonly busy = new Map<number, NodeAction>();
  /** The operation holding each busy node, and the graceful sequences a FORCE_OFF may end. */
  private readonly operations = new Map<number, Promise<unknown>>();
  private readonly sequences = new Map<number, AbortController>();
  private readonly lastOffAt = new Map<number, number>();
  private lastOnAt = Number.NEGATIVE_INFINITY;
  private readonly stopping = new AbortController();
  /** Hard reboots under way: a stop waits for them so that no node is left off. */
  private readonly hardReboots = new Set<Promise<unknown>>();
  /**
   * Every operation under way, journal writes included: a stop waits for all of them (graceful
   * ones end at once on the abort), so none is left half-recorded in state_dir.
   */
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly deps: PowerServiceDeps) {}

  private node(number: number): ResolvedNode {
    const node = findNode(this.deps.nodes, number);
    if (!node) throw new TpmError('BAD_COMMAND', unknownNodeMessage(this.deps.nodes, String(number)));
    return node;
  }

  /** An agent node: graceful off, shutdown and reboot go through its agent. */
  private hasAgent(node: ResolvedNode): boolean {
    return this.deps.isAgentNode ? this.deps.isAgentNode(node.number) : node.agent === true;
  }

  /** Resolves the nodes of "all" (every enabled, non-protected node) or one node number. */
  targets(target: number | 'all'): number[] {
    if (target === 'all') return this.deps.nodes.filter((n) => n.enabled && !n.protected).map((n) => n.number);
    return [target];
  }

  /** Runs one action on several nodes; ONs are staggered by the write lock. One failure does not stop the others. */
  async executeMany(nodes: number[], action: NodeAction, source: CommandSource): Promise<NodeResult[]> {
    return Promise.all(nodes.map((n) => this.execute(n, action, source)));
  }

  /** Runs one action on one node and resolves when it is finished (never rejects). */
  async execute(number: number, action: NodeAction, source: CommandSource): Promise<NodeResult> {
    try {
      const node = this.node(number);
      if (action === 'status') return this.result(number, action, true);
      this.refuseWhileStopping(number, action);
      if (!node.enabled) throw new TpmError('BAD_COMMAND', `node ${number} is disabled in the config`);
      const resolved = this.resolveAction(node, action);
      this.checkProtected(node, resolved, action);
      return await this.exclusive(node, resolved, action, source);
    } catch (error) {
      const message = errorMessage(error);
      this.deps.event({ type: 'power', node: number, action, source, result: 'error', error: message });
      return { ...this.result(number, action, false), error: message };
    }
  }

  /** Once a stop began, nothing new starts: it could not finish (a stop never cuts power). */
  private refuseWhileStopping(node: number, action: NodeAction): void {
    if (this.stopping.signal.aborted) {
      throw new TpmError('BUSY', `the bridge is stopping: ${action} of node ${node} was not started`);
    }
  }

  /**
   * Runs `step` on a node that no other action holds. run() frees the node the moment the
   * outcome is known, on every path; nothing here frees it later, when another action may
   * already have taken it.
   */
  private async exclusive(
    node: ResolvedNode,
    step: Step,
    action: NodeAction,
    source: CommandSource,
  ): Promise<NodeResult> {
    if (action === 'force-off' && this.busy.has(node.number)) await this.override(node.number);
    const running = this.busy.get(node.number);
    if (running)
      throw new TpmError('BUSY', `node ${node.number} is busy (${running} under way); try again when it is done`);
    this.busy.set(node.number, action);
    const operation = this.track(this.run(node, step, action, source));
    this.operations.set(node.number, operation);
    const forget = (): void => {
      if (this.operations.get(node.number) === operation) this.operations.delete(node.number);
    };
    operation.then(forget, forget);
    return operation;
  }

  /**
   * FORCE_OFF always reaches a node: a graceful sequence under way (however stuck) is ended,
   * with nothing cut by it, and the FORCE_OFF goes on once it has let go of the node.
   */
  private async override(n: number): Promise<void> {
    const sequence = this.sequences.get(n);
    const operation = this.operations.get(n);
    if (!sequence || !operation) return;
    sequence.abort('overridden by FORCE_OFF');
    await Promise.allSettled([operation]);
  }

  private track<T>(operation: Promise<T>): Promise<T> {
    this.running.add(operation);
    const forget = (): void => {
      this.running.delete(operation);
    };
    operation.then(forget, forget);
    return operation;
  }

  private result(node: number, action: NodeAction, ok: boolean, note?: string): NodeResult {
    const { view } = this.deps;
    const result: NodeResult = { node, action, ok, power: view.power(node), state: view.state(node) };
    if (note) result.note = note;
    return result;
  }

  /** toggle and off follow the current power and off_mode; what is left are concrete steps. */
  private resolveAction(node: ResolvedNode, action: NodeAction): Step {
    const { power } = this.deps;
    const current = this.deps.view.power(node.number);
    switch (action) {
      case 'on':
        return 'on';
      case 'toggle':
        if (current === null)
          throw new TpmError('BAD_COMMAND', `node ${node.number}'s power is unknown; say ON or OFF`);
        return current ? this.resolveAction(node, 'off') : 'on';
      case 'off':
        return power.off_mode === 'graceful' && this.hasAgent(node) ? 'graceful-off' : 'cut';
      case 'shutdown':
        // Shuts the OS down: never a power cut without it. A node already off has nothing to shut down.
        if (this.hasAgent(node)) return 'graceful-off';
        // Already off: nothing to shut down. Protected: refused as such by checkProtected.
        if (current === false || node.protected) return 'cut';
        throw new TpmError('AGENT', noAgentMessage(node));
      case 'force-off':
        return 'cut';
      case 'reboot':
        if (current !== true)
          throw new TpmError('NODE_OFF', `node ${node.number} is off: REBOOT does not switch it on (say ON)`);
        return power.reboot_mode === 'graceful' && this.hasAgent(node) ? 'graceful-reboot' : 'hard-reboot';
      case 'status':
        throw new TpmError('BAD_COMMAND', 'status is not a power change');
    }
  }

  private checkProtected(node: ResolvedNode, step: string, action: NodeAction): void {
    if (!node.protected) return;
    if (step === 'on' || step === 'graceful-reboot') return;
    const word = action === 'toggle' ? 'TOGGLE (off)' : action.toUpperCase().replace('-', '_');
    throw new TpmError(
      'PROTECTED',
      `node ${node.number} is protected: ${word} refused (set nodes.${node.number}.protected: false to allow it)`,
    );
  }

  private async run(node: ResolvedNode, step: Step, action: NodeAction, source: CommandSource): Promise<NodeResult> {
    const n = node.number;
    const { journal } = this.deps;
    const entry: JournalEntry = { node: n, action, source, started_at: new Date(this.deps.clock.now()).toISOString() };
    // Only sequences of several steps are journalled: a single verified write ends in
    // milliseconds and the next start reads its result anyway, while each journal write is an
    // fsync'd file on an SD card (5-30 ms and wear) in the path of every command.
    const journalled = step !== 'on' && step !== 'cut';
    let begun = false;
    try {
      if (journalled) {
        await journal.begin(entry);
        begun = true;
      }
      switch (step) {
        case 'on':
          return await this.switchOn(n, action, source);
        case 'cut':
          return await this.cut(n, action, source, 'switched off');
        case 'graceful-off':
          return await this.gracefulOff(n, action, source);
        case 'graceful-reboot':
          return await this.gracefulReboot(n, action, source);
        case 'hard-reboot': {
          const reboot = this.hardReboot(n, action, source);
          this.hardReboots.add(reboot);
          try {
            return await reboot;
          } finally {
            this.hardReboots.delete(reboot);
          }
        }
      }
      throw new TpmError('BAD_COMMAND', `unknown step ${String(step)}`);
    } finally {
      // Not busy from the moment the outcome is known: a command right after the "ok" must
      // not be refused while the journal's file is being written (slow SD cards).
      this.busy.delete(n);
      if (begun) await journal.end(entry);
    }
  }

  /**
   * Writes one node's power under the board lock and publishes the read-back. `mustFinish`:
   * the second half of a hard reboot, which a stop never prevents (its node must come back on).
   */
  private async write(n: number, on: boolean, mustFinish = false): Promise<boolean> {
    return this.writes.run(async () => {
      if (on) {
        // on_stagger: nodes switched on together start this far apart (inrush current).
        const wait = this.lastOnAt + this.deps.power.on_stagger - this.deps.clock.now();
        if (wait > 0 && mustFinish) await sleep(this.deps.clock, wait);
        else if (wait > 0) await this.waitBeforeWrite(wait, n);
      }
      let readBack: boolean;
      try {
        readBack = await this.deps.driver.setPower(n, on);
      } catch (error) {
        // The write may or may not have happened: learn what the board says now, never assume.
        await this.refresh(n);
        throw error;
      }
      this.deps.view.setPower(n, readBack);
      if (readBack !== on)
        throw new TpmError(
          'VERIFY',
          `node ${n} reads ${readBack ? 'ON' : 'OFF'} after switching it ${on ? 'on' : 'off'}`,
        );
      if (on) this.lastOnAt = this.deps.clock.now();
      else this.lastOffAt.set(n, this.deps.clock.now());
      // Only restore_on_start: last reads it; written after the node is free again.
      if (this.deps.power.restore_on_start === 'last') {
        this.deps.journal
          .commanded(n, on)
          .catch((error: unknown) => this.deps.logger.warn(`saving node ${n}'s power failed: ${errorMessage(error)}`));
      }
      return readBack;
    });
  }

  /** A wait before a node is switched on (on_stagger, min_off_time): a stop ends it, nothing written. */
  private async waitBeforeWrite(ms: number, n: number): Promise<void> {
    try {
      await sleep(this.deps.clock, ms, this.stopping.signal);
    } catch {
      throw new TpmError('BUSY', `the bridge is stopping: node ${n} was not switched on`);
    }
  }

  private async refresh(n: number): Promise<void> {
    try {
      const reading = await this.deps.driver.readPower();
      this.deps.view.setPower(n, reading.power[n - 1] ?? null);
    } catch {
      // The poll will tell; the command's error already says the write failed.
    }
  }

  private async switchOn(n: number, action: NodeAction, source: CommandSource): Promise<NodeResult> {
    const { view, clock, power } = this.deps;
    if (view.power(n) === true) {
      this.deps.event({ type: 'power', node: n, action, source, result: 'ok', message: 'already on' });
      return this.result(n, action, true, 'already on');
    }
    let note: string | undefined;
    const offAt = this.lastOffAt.get(n);
    const delay = offAt === undefined ? 0 : offAt + power.min_off_time - clock.now();
    if (delay > 0) {
      note = `delayed ${formatDuration(Math.ceil(delay / 100) * 100)} by min_off_time`;
      this.deps.event({ type: 'power', node: n, action, source, result: 'progress', message: note });
      await this.waitBeforeWrite(delay, n);
    }
    await this.write(n, true);
    const node = this.node(n);
    view.setState(n, this.hasAgent(node) ? 'starting' : 'on', source, 'switched on');
    this.deps.event({ type: 'power', node: n, action, source, result: 'ok', message: note ?? 'switched on' });
    return this.result(n, action, true, note);
  }

  private async cut(n: number, action: NodeAction, source: CommandSource, reason: string): Promise<NodeResult> {
    const { view } = this.deps;
    if (view.power(n) === false) {
      this.deps.event({ type: 'power', node: n, action, source, result: 'ok', message: 'already off' });
      return this.result(n, action, true, 'already off');
    }
    this.deps.expectDown?.(n);
    await this.write(n, false);
    view.setState(n, 'off', source, reason);
    this.deps.event({ type: 'power', node: n, action, source, result: 'ok', message: reason });
    return this.result(n, action, true);
  }

  /** The graceful sequence under way on each node: a FORCE_OFF ends it, a stop too. */
  private sequence(n: number, action: NodeAction, source: CommandSource): Sequence {
    const own = new AbortController();
    this.sequences.set(n, own);
    return { node: n, action, source, signal: AbortSignal.any([this.stopping.signal, own.signal]) };
  }

  private async gracefulOff(n: number, action: NodeAction, source: CommandSource): Promise<NodeResult> {
    if (this.deps.view.power(n) === false) return this.cut(n, action, source, 'already off');
    try {
      await shutDownOs(this.deps, this.sequence(n, action, source));
    } finally {
      this.sequences.delete(n);
    }
    return this.cut(n, action, source, 'OS shut down, power cut');
  }

  private async gracefulReboot(n: number, action: NodeAction, source: CommandSource): Promise<NodeResult> {
    try {
      await rebootOs(this.deps, this.sequence(n, action, source));
    } finally {
      this.sequences.delete(n);
    }
    this.deps.event({ type: 'power', node: n, action, source, result: 'ok', message: 'OS rebooted' });
    return this.result(n, action, true);
  }

  private async hardReboot(n: number, action: NodeAction, source: CommandSource): Promise<NodeResult> {
    const { view, power, clock, driver } = this.deps;
    view.setState(n, 'rebooting', source, 'power cycle');
    this.deps.expectDown?.(n);
    this.deps.event({ type: 'power', node: n, action, source, result: 'progress', message: 'power cycling' });
    if (driver.info.nativeReset && driver.reset) {
      await this.writes.run(() => driver.reset!(n));
      await sleep(clock, power.reboot_off_time);
      await this.refresh(n);
    } else {
      await this.write(n, false);
      // Not abortable: a reboot under way when a stop is asked finishes first (docs/reliability.md, "What happens to power when the bridge is stopped or killed").
      await sleep(clock, power.reboot_off_time);
      await this.write(n, true, true);
    }
    view.setState(n, this.hasAgent(this.node(n)) ? 'starting' : 'on', source, 'power cycled');
    this.deps.event({ type: 'power', node: n, action, source, result: 'ok', message: 'power cycled' });
    return this.result(n, action, true);
  }

  /** A hard power cycle whatever reboot_mode says (the watchdog: a hung OS cannot reboot itself). */
  async powerCycle(number: number, source: CommandSource): Promise<NodeResult> {
    try {
      const node = this.node(number);
      if (node.protected) throw new TpmError('PROTECTED', `node ${number} is protected: a hard reboot is refused`);
      if (this.deps.view.power(number) !== true)
        throw new TpmError('NODE_OFF', `node ${number} is off: nothing to power cycle`);
      this.refuseWhileStopping(number, 'reboot');
      return await this.exclusive(node, 'hard-reboot', 'reboot', source);
    } catch (error) {
      const message = errorMessage(error);
      this.deps.event({ type: 'power', node: number, action: 'reboot', source, result: 'error', error: message });
      return { ...this.result(number, 'reboot', false), error: message };
    }
  }

  /** Aborts graceful waits (power stays as it is) and waits for hard reboots to switch their node back on. */
  async stop(): Promise<void> {
    this.stopping.abort(STOPPING);
    await Promise.allSettled([...this.hardReboots, ...this.running]);
  }
}

/** SHUTDOWN of a node without an agent: refused (power stays on), saying why and what cuts instead. */
function noAgentMessage(node: ResolvedNode): string {
  const n = node.number;
  const why = node.agent === 'auto' ? `no agent has been seen on node ${n}` : `nodes.${n}.agent is false`;
  return (
    `node ${n} has no agent (${why}): SHUTDOWN shuts the OS down and needs the agent; nothing was cut; ` +
    'use FORCE_OFF (or OFF) to cut power without an OS shutdown'
  );
}
