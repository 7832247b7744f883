import type { MqttConnection } from '../mqtt/connection.js';
import type { Topics } from '../mqtt/topics.js';
import type { Origin } from '../power/types.js';
import type { Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { commandWord, type CommandTable } from './command-table.js';
import type { EventSink } from './event-sink.js';
import { InputError, knownKeys } from './input.js';
import type { RequestTable } from './request-table.js';
import type { RtcMonitor } from './rtc-monitor.js';

/** The board's clock drifts slowly; reading it every poll would only cost bus time. */
const RTC_READ_INTERVAL_MS = 60_000;

export interface BoardClockDeps {
  /** Absent on a board without a real-time clock. */
  rtc: RtcMonitor | undefined;
  connection: MqttConnection;
  topics: Topics;
  clock: Clock;
  event: EventSink;
  logger: Logger;
}

const NO_CLOCK = 'this board has no real-time clock';

/**
 * The board's real-time clock in MQTT (docs/topics.md, `<b>/rtc`): read once a minute from the
 * poll, published when a flag or the drift changed; set from the system time by `rtc/set SYNC`
 * or the `rtc/sync` request.
 */
export class BoardClock {
  private syncing: Promise<unknown> | undefined;
  private lastRead = Number.NEGATIVE_INFINITY;
  /** The last problem logged (a failed read, a clock without a date), so that one that repeats is logged once. */
  private lastProblem = '';

  constructor(private readonly deps: BoardClockDeps) {}

  /** Taken on every board, so that one without a clock answers SYNC with an error event, not silence. */
  commands(): CommandTable {
    const { rtc, event } = this.deps;
    return {
      [this.deps.topics.rtcSet]: async (_topic, payload) => {
        if (!commandWord(payload, 'rtc', ['SYNC'], event)) return;
        if (!rtc) {
          event({ type: 'rtc', action: 'sync', source: 'mqtt', result: 'error', error: NO_CLOCK });
          return;
        }
        await this.sync({ source: 'mqtt' }).catch(() => undefined);
      },
    };
  }

  /** Answered on every board, so that one without a clock says so. */
  requests(): RequestTable {
    return {
      'rtc/sync': async (request, origin) => {
        knownKeys(request, []);
        return this.sync(origin);
      },
    };
  }

  /**
   * From the poll: reads the clock when a minute has passed since the last reading. A clock that
   * fails to read is logged (once while it repeats), not thrown: the clock is not the board, and must
   * not fail the poll of node power.
   */
  async poll(): Promise<void> {
    const { rtc, clock, connection, topics } = this.deps;
    const since = clock.now() - this.lastRead;
    // A system clock stepped back (set right by network time) must not hold the readings off until it catches up.
    if (!rtc || (since >= 0 && since < RTC_READ_INTERVAL_MS)) return;
    this.lastRead = clock.now();
    let payload;
    try {
      payload = await rtc.poll();
    } catch (error) {
      this.noteProblem(`reading the board's clock failed: ${errorMessage(error)}`);
      return;
    }
    this.noteProblem(rtc.problem ?? '');
    if (payload) await connection.publishState(topics.rtc, JSON.stringify(payload));
  }

  private noteProblem(problem: string): void {
    if (problem && problem !== this.lastProblem) this.deps.logger.warn(problem);
    this.lastProblem = problem;
  }

  /**
   * Requests close together share one sync (rtc/set SYNC, rtc/sync requests, the button): each
   * would set the clock from the same system time, and each waits for a second boundary on the
   * bus. One sync under way answers every caller, with one event (carrying the first caller's
   * transaction).
   */
  sync(origin: Origin): Promise<unknown> {
    const { rtc } = this.deps;
    if (!rtc) return Promise.reject(new InputError(NO_CLOCK));
    this.syncing ??= this.runSync(rtc, origin).finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  private async runSync(rtc: RtcMonitor, origin: Origin): Promise<unknown> {
    const { connection, topics, event } = this.deps;
    try {
      const payload = await rtc.sync(); // the driver orders it with every other bus operation
      this.lastProblem = rtc.problem ?? '';
      await connection.publishState(topics.rtc, JSON.stringify(payload));
      const message = `clock set from the system time (drift now ${payload.drift}s)`;
      event({ type: 'rtc', action: 'sync', ...origin, result: 'ok', message });
      return payload;
    } catch (error) {
      const reason = `setting the clock failed: ${errorMessage(error)}`;
      event({ type: 'rtc', action: 'sync', ...origin, result: 'error', error: reason });
      throw error;
    }
  }
}
