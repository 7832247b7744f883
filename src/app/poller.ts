import type { OpenedBoard } from '../board/factory.js';
import type { ResolvedNode } from '../config/nodes.js';
import type { MqttConnection } from '../mqtt/connection.js';
import type { Topics } from '../mqtt/topics.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { EventSink } from './event-sink.js';
import type { NodeModel } from './node-model.js';
import { isoTime } from '../util/iso-time.js';

/** After this many failed polls in a row, board/state says offline (docs/reliability.md, "bus gone"). */
const FAILURES_BEFORE_OFFLINE = 3;
/** The longest back-off between polls of a board that does not answer. */
const MAX_BACKOFF_MS = 60_000;

/** Something read at every poll, after the board's power. */
export interface PollPart {
  poll(): Promise<void>;
}

export interface PollerDeps {
  board: OpenedBoard;
  nodes: ResolvedNode[];
  model: NodeModel;
  connection: MqttConnection;
  topics: Topics;
  clock: Clock;
  logger: Logger;
  event: EventSink;
  /** board.poll_interval. */
  intervalMs: number;
  /**
   * What only some boards report (booted times, fan, USB): a failure there is no reason to call
   * the board offline; it is logged, once while it repeats.
   */
  extras: PollPart[];
  /** The board's clock, on its own cadence: its failure is the board's. */
  boardClock: PollPart;
  /** Told after each good reading (the board's facts, the BMC login); they never throw. */
  followers: PollPart[];
}

/**
 * Reads the board every poll_interval and hands what it read to the node model and the board's
 * extras; `board/state` says whether the board answers. A fault is retried with back-off (up to
 * a minute), never a crash.
 */
export class Poller {
  private timer: TimerHandle | undefined;
  private running = false;
  private polling = false;
  private failures = 0;
  private lastExtrasError = '';
  private boardOnline = false;
  /** Good readings since the start, and the time of the last (for the status request). */
  private reads = 0;
  private readAt: number | undefined;

  constructor(private readonly deps: PollerDeps) {}

  get online(): boolean {
    return this.boardOnline;
  }

  /** For the status request: whether the board answers, how often it was read, and when last. */
  status(): { state: 'online' | 'offline'; polls: number; read_at: string | null } {
    const readAt = this.readAt === undefined ? null : isoTime(this.readAt);
    return { state: this.boardOnline ? 'online' : 'offline', polls: this.reads, read_at: readAt };
  }

  /** Polls every poll_interval from now on (the first reading is the start's own `poll`). */
  start(): void {
    this.running = true;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delay = this.deps.intervalMs): void {
    if (!this.running) return;
    this.timer = this.deps.clock.setTimeout(() => {
      this.timer = undefined;
      void this.poll().then(() => {
        // Back off while the board does not answer, up to a minute.
        const backoff = Math.min(MAX_BACKOFF_MS, this.deps.intervalMs * 2 ** Math.max(0, this.failures - 1));
        this.schedule(this.failures > 0 ? backoff : undefined);
      });
    }, delay);
  }

  /** Reads the board and hands on what it read. Never throws; a poll under way makes this one a no-op. */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    const { board, nodes, model, clock } = this.deps;
    try {
      await board.ensureOpen();
      const reading = await board.driver.readPower();
      // An index, not for...of: a poll runs every few seconds and stays in the interpreter,
      // where each step of an iterator is an object (0.8 KiB of garbage a poll at 64 nodes).
      for (let i = 0; i < nodes.length; i++) {
        const { number } = nodes[i] as ResolvedNode;
        model.observe(number, reading.power[number - 1] ?? null);
        if (reading.present) model.setPresent(number, reading.present[number - 1] ?? null);
      }
      await this.readExtras();
      for (const follower of this.deps.followers) await follower.poll();
      await this.deps.boardClock.poll();
      this.failures = 0;
      this.reads++;
      this.readAt = clock.now();
      await this.setBoardOnline(true);
    } catch (error) {
      await this.failed(errorMessage(error));
    } finally {
      this.polling = false;
    }
  }

  private async readExtras(): Promise<void> {
    try {
      for (const extra of this.deps.extras) await extra.poll();
      this.lastExtrasError = '';
    } catch (error) {
      const reason = errorMessage(error);
      if (reason !== this.lastExtrasError) this.deps.logger.warn(`reading the board's extras failed: ${reason}`);
      this.lastExtrasError = reason;
    }
  }

  private async failed(reason: string): Promise<void> {
    this.failures++;
    const { failures } = this;
    if (failures === 1 || failures === FAILURES_BEFORE_OFFLINE)
      this.deps.logger.warn(`reading the board failed (${failures}x): ${reason}`);
    if (failures === FAILURES_BEFORE_OFFLINE || (!this.boardOnline && failures === 1)) {
      const error = `the board does not answer: ${reason}`;
      this.deps.event({ type: 'board', source: 'startup', result: 'error', error });
    }
    if (failures >= FAILURES_BEFORE_OFFLINE || !this.running) await this.setBoardOnline(false);
  }

  private async setBoardOnline(online: boolean): Promise<void> {
    if (online && !this.boardOnline && this.running) this.deps.logger.info('the board answers again');
    this.boardOnline = online;
    await this.deps.connection.publishState(this.deps.topics.boardState, online ? 'online' : 'offline');
  }
}
