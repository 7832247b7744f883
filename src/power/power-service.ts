import type { BoardDriver } from '../board/types.js';
import type { Config } from '../config/schema.js';
import { expandNodeList, findNode, unknownNodeMessage, type ResolvedNode } from '../config/nodes.js';
import { monotonicNow, type Clock } from '../util/clock.js';
import { TpmError, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { AgentTracker } from './agents.js';
import { rebootOs, shutDownOs, STOPPING, type Sequence } from './graceful.js';
import type { JournalEntry, PowerJournal } from './journal.js';
import { hardReboot } from './hard-reboot.js';
import { checkProtected, inSequence, noAgentMessage, resolveStep, type Step } from './steps.js';
import {
  powerEvent,
  type CommandSource,
  type EventInput,
  type NodeAction,
  type NodeLifecycle,
  type NodeResult,
  type Origin,
} from './types.js';
import { PowerWriter } from './writer.js';
import { isoTime } from '../util/iso-time.js';
import { keepUntilSettled } from '../util/under-way.js';

export interface PowerServiceDeps {
  driver: BoardDriver;
  nodes: ResolvedNode[];
  power: Config['power'];
  clock: Clock;
  logger: Logger;
  /** The node model: power from every read-back, and every lifecycle transition. */
  view: NodeLifecycle;
  event(event: EventInput): void;
  journal: PowerJournal;
  /** Present where any node may run an agent. */
  agents?: AgentTracker;
  /**
   * Whether a node is an agent node now (agent: true, or auto once its agent has been seen).
   * Default: the nodes configured with agent: true.
   */
  isAgentNode?(node: number): boolean;
}

/**
 * Every power action of every source goes through here: checks (protected, disabled, off
 * nodes), per-node exclusivity, the board-wide write lock, on_stagger and min_off_time, the
 * graceful sequences with the agent (docs/topics.md, "What the words do"), and read-back of every change:
 * power is published as the board reads it after the write, never as asked.
 */
export class PowerService {
  private readonly writer: PowerWriter;
  private readonly busy = new Map<number, NodeAction>();
  /** The operation holding each busy node, and the graceful sequences a FORCE_OFF may end. */
  private readonly operations = new Map<number, Promise<unknown>>();
  private readonly sequences = new Map<number, AbortController>();
  private readonly stopping = new AbortController();
  /** Hard reboots under way: a stop waits for them so that no node is left off. */
  private readonly hardReboots = new Set<Promise<unknown>>();
  /**
   * Every operation under way, journal writes included: a stop waits for all of them (graceful
   * ones end at once on the abort), so none is left half-recorded in state_dir.
   */
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly deps: PowerServiceDeps) {
    this.writer = new PowerWriter({ ...deps, stopping: this.stopping.signal });
  }

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
    if (target === 'all') return expandNodeList('all', this.deps.nodes);
    return [target];
  }

  /** Runs one action on several nodes; ONs are staggered by the write lock. One failure does not stop the others. */
  async executeMany(nodes: number[], action: NodeAction, source: CommandSource | Origin): Promise<NodeResult[]> {
    return Promise.all(nodes.map((n) => this.execute(n, action, source)));
  }

  /**
   * Runs one action on one node and resolves when it is finished (never rejects). `source`: who
   * asked, with the transaction of their request where it had one (its events carry it).
   */
  async execute(number: number, action: NodeAction, source: CommandSource | Origin): Promise<NodeResult> {
    const origin = typeof source === 'string' ? { source } : source;
    try {
      const node = this.node(number);
      if (action === 'status') return this.result(number, action, true);
      if (!node.enabled) throw new TpmError('BAD_COMMAND', `node ${number} is disabled in the config`);
      const current = action === 'toggle' ? await this.currentPower(number) : this.deps.view.power(number);
      this.refuseWhileStopping(number, action);
      const resolved = resolveStep(node, action, current, this.deps.power, this.hasAgent(node));
      checkProtected(node, resolved, action);
      return await this.exclusive(node, resolved, action, origin);
    } catch (error) {
      const message = errorMessage(error);
      this.deps.event(powerEvent(number, action, origin, { result: 'error', error: message }));
      return { ...this.result(number, action, false), error: message };
    }
  }

  /**
   * What TOGGLE flips: read now (switched elsewhere since the last poll, a flip of that reading
   * changes nothing); a busy node is refused anyway, an unreadable board leaves the last reading.
   */
  private async currentPower(n: number): Promise<boolean | null> {
    const last = this.deps.view.power(n);
    const now = this.busy.has(n) ? undefined : await this.writer.look(n);
    return now === undefined ? last : now;
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
  private exclusive(node: ResolvedNode, step: Step, action: NodeAction, origin: Origin): Promise<NodeResult> {
    if (action === 'force-off' && this.busy.has(node.number))
      return this.override(node.number).then(() => this.claim(node, step, action, origin));
    return this.claim(node, step, action, origin);
  }

  /**
   * Takes a free node for `step` (a busy one: throws BUSY). Not async: the operation's own
   * promise is returned, without a wrapper's promise and turns on every command's path.
   */
  private claim(node: ResolvedNode, step: Step, action: NodeAction, origin: Origin): Promise<NodeResult> {
    const running = this.busy.get(node.number);
    if (running)
      throw new TpmError('BUSY', `node ${node.number} is busy (${running} under way); try again when it is done`);
    this.busy.set(node.number, action);
    const operation = keepUntilSettled(this.running, this.run(node, step, action, origin));
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

  private result(node: number, action: NodeAction, ok: boolean, note?: string): NodeResult {
    const { view } = this.deps;
    const result: NodeResult = { node, action, ok, power: view.power(node), state: view.state(node) };
    if (note) result.note = note;
    return result;
  }

  private async run(node: ResolvedNode, step: Step, action: NodeAction, origin: Origin): Promise<NodeResult> {
    const n = node.number;
    const { journal } = this.deps;
    // Only sequences of several steps are journalled (nor is an entry built for the others): a
    // single verified write ends in milliseconds and the next start reads its result anyway, while
    // a journal write is an fsync'd file on an SD card (5-30 ms and wear) in every command's path.
    const entry: JournalEntry | undefined =
      step === 'on' || step === 'cut'
        ? undefined
        : { node: n, action, source: origin.source, started_at: isoTime(this.deps.clock.now()) };
    /** The entry once journal.begin took it: journal.end is owed for it. */
    let begun: JournalEntry | undefined;
    let finished = false;
    try {
      if (entry) {
        await journal.begin(entry);
        begun = entry;
      }
      switch (step) {
        case 'on':
          return await this.switchOn(n, action, origin);
        case 'cut':
          // SHUTDOWN comes to a cut only for a node read off (steps.ts): one found on now is not cut.
          return await this.cut(n, action, origin, 'switched off', action === 'shutdown');
        case 'graceful-off': {
          const result = await this.gracefulOff(n, action, origin);
          finished = true;
          return result;
        }
        case 'graceful-reboot':
          return await this.gracefulReboot(n, action, origin);
        case 'hard-reboot': {
          const reboot = this.hardReboot(n, action, origin);
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
      // Not busy once the outcome is known: a command right after the "ok" waits for no journal write.
      this.busy.delete(n);
      // A graceful off a stop abandoned stays journalled: its OS may be going down under power
      // left on, and the next start must say so and keep its watchdog off it (start-up.ts).
      const abandoned = step === 'graceful-off' && !finished && this.stopping.signal.aborted;
      if (begun && !abandoned) await journal.end(begun);
    }
  }

  private async switchOn(n: number, action: NodeAction, origin: Origin): Promise<NodeResult> {
    const { view, clock, power } = this.deps;
    // "Already on" only from a reading made now: it may have been switched elsewhere since the last poll.
    if (view.power(n) === true && (await this.writer.look(n)) === true) {
      // Asked for all the same: a restart must not switch it back to an older power (restore_on_start: last).
      void this.writer.commanded(n, true);
      this.deps.event(powerEvent(n, action, origin, { result: 'ok', message: 'already on' }));
      return this.result(n, action, true, 'already on');
    }
    let note: string | undefined;
    const offAt = this.writer.offAt(n);
    // Both on the monotonic clock: a clock step neither cuts min_off_time short nor makes it years.
    const delay = offAt === undefined ? 0 : offAt + power.min_off_time - monotonicNow(clock);
    if (delay > 0) {
      // Tenths of a second, as people read them: "delayed 2.3s", "delayed 3s".
      note = `delayed ${Math.ceil(delay / 100) / 10}s by min_off_time`;
      this.deps.event(powerEvent(n, action, origin, { result: 'progress', message: note }));
      await this.writer.waitBeforeWrite(delay, n);
    }
    await this.writer.write(n, true);
    view.switchedOn(n, origin.source, 'switched on');
    this.deps.event(powerEvent(n, action, origin, { result: 'ok', message: 'switched on' }));
    return this.result(n, action, true, note);
  }

  private async cut(n: number, action: NodeAction, origin: Origin, reason: string, ifOff = false): Promise<NodeResult> {
    const { view } = this.deps;
    // "Already off" likewise, read now. `ifOff`: a SHUTDOWN's, which is only ever an "already off".
    if (view.power(n) === false && (await this.writer.look(n)) === false) return this.alreadyOff(n, action, origin);
    // On now: it has an OS, and no agent to shut it down (else this were a graceful off).
    if (ifOff) throw new TpmError('AGENT', noAgentMessage(this.node(n)));
    view.cutting(n);
    try {
      await this.writer.write(n, false);
    } catch (error) {
      // A failed cut ends a sequence too: a poll would leave the node shutting_down or rebooting.
      if (inSequence(view.state(n)))
        view.shutdownFailed(n, origin.source, `cutting power failed: ${errorMessage(error)}`);
      throw error;
    }
    view.switchedOff(n, origin.source, reason);
    this.deps.event(powerEvent(n, action, origin, { result: 'ok', message: reason }));
    return this.result(n, action, true);
  }

  /** The graceful sequence under way on each node: a FORCE_OFF ends it, a stop too. */
  private sequence(n: number, action: NodeAction, origin: Origin): Sequence {
    const own = new AbortController();
    this.sequences.set(n, own);
    return { ...origin, node: n, action, signal: AbortSignal.any([this.stopping.signal, own.signal]) };
  }

  /** Read off now: nothing written. Cut elsewhere mid-sequence, it ends the sequence (a poll would not). */
  private alreadyOff(n: number, action: NodeAction, origin: Origin): NodeResult {
    const { view } = this.deps;
    if (inSequence(view.state(n))) view.switchedOff(n, origin.source, 'already off');
    void this.writer.commanded(n, false);
    this.deps.event(powerEvent(n, action, origin, { result: 'ok', message: 'already off' }));
    return this.result(n, action, true, 'already off');
  }

  private async gracefulOff(n: number, action: NodeAction, origin: Origin): Promise<NodeResult> {
    // Off as last read and still off now; switched on since, its OS is shut down first.
    if (this.deps.view.power(n) === false && (await this.writer.look(n)) === false)
      return this.alreadyOff(n, action, origin);
    try {
      await shutDownOs(this.deps, this.sequence(n, action, origin));
    } finally {
      this.sequences.delete(n);
    }
    return this.cut(n, action, origin, 'OS shut down, power cut');
  }

  private async gracefulReboot(n: number, action: NodeAction, origin: Origin): Promise<NodeResult> {
    try {
      await rebootOs(this.deps, this.sequence(n, action, origin));
    } finally {
      this.sequences.delete(n);
    }
    this.deps.event(powerEvent(n, action, origin, { result: 'ok', message: 'OS rebooted' }));
    return this.result(n, action, true);
  }

  private async hardReboot(n: number, action: NodeAction, origin: Origin): Promise<NodeResult> {
    await hardReboot(this.deps, this.writer, n, action, origin);
    return this.result(n, action, true);
  }

  /** A hard power cycle whatever reboot_mode says (the watchdog: a hung OS cannot reboot itself). */
  async powerCycle(number: number, source: CommandSource): Promise<NodeResult> {
    const origin = { source };
    try {
      const node = this.node(number);
      if (node.protected) throw new TpmError('PROTECTED', `node ${number} is protected: a hard reboot is refused`);
      if (this.deps.view.power(number) !== true)
        throw new TpmError('NODE_OFF', `node ${number} is off: nothing to power cycle`);
      this.refuseWhileStopping(number, 'reboot');
      return await this.exclusive(node, 'hard-reboot', 'reboot', origin);
    } catch (error) {
      const message = errorMessage(error);
      this.deps.event(powerEvent(number, 'reboot', origin, { result: 'error', error: message }));
      return { ...this.result(number, 'reboot', false), error: message };
    }
  }

  /**
   * Aborts graceful waits (power stays as it is) and waits for hard reboots to switch their node
   * back on, then for the saves of last commanded power (restore_on_start: last reads them at the
   * next start: one lost to an exit right after the stop would restore an older power).
   */
  async stop(): Promise<void> {
    this.stopping.abort(STOPPING);
    await Promise.allSettled([...this.hardReboots, ...this.running]);
    await this.writer.saved();
  }
}
