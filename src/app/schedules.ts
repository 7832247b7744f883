import { expandNodeList, type ResolvedNode } from '../config/nodes.js';
import type { Config, ScheduleConfig } from '../config/schema.js';
import type { MqttConnection } from '../mqtt/connection.js';
import type { Topics } from '../mqtt/topics.js';
import type { PowerService } from '../power/power-service.js';
import type { NodeAction, Origin } from '../power/types.js';
import { schedulesStateFile } from '../schedule/schedule-state.js';
import type { RunContext, RunOutcome } from '../schedule/scheduler-types.js';
import { ScheduleBook } from '../schedule/schedule-book.js';
import { Scheduler } from '../schedule/scheduler.js';
import type { Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { CommandTable } from './command-table.js';
import type { EventSink } from './event-sink.js';
import { InputError, knownKeys, payloadText, quote, type CommandPayload } from './input.js';
import type { RequestTable } from './request-table.js';
import { BUILD_DATE } from './version.js';

const SCHEDULE_ACTIONS: Record<ScheduleConfig['action'], NodeAction> = {
  on: 'on',
  off: 'off',
  reboot: 'reboot',
  shutdown: 'shutdown',
};

export interface SchedulesDeps {
  config: Config;
  nodes: ResolvedNode[];
  power: PowerService;
  connection: MqttConnection;
  topics: Topics;
  clock: Clock;
  logger: Logger;
  event: EventSink;
  /** Maintenance mode: occurrences are skipped while it is on. */
  isPaused(): boolean;
}

/**
 * The schedules in MQTT (docs/schedules.md): the scheduler runs their actions through the power
 * service; `schedule/<name>` is each one's state, `schedule/<name>/set` (ON, OFF, RUN) and the
 * `schedule/run` and `schedule/enable` requests change it.
 */
export class Schedules {
  private readonly scheduler: Scheduler | undefined;

  constructor(private readonly deps: SchedulesDeps) {
    const { config, clock, logger, connection, topics, event } = deps;
    if (config.schedules.length === 0) return;
    this.scheduler = new Scheduler({
      onRemoved: (name) => this.clearRetained(name),
      schedules: config.schedules,
      clock,
      logger: logger.child({ part: 'schedule' }),
      store: schedulesStateFile(config.state_dir, logger),
      buildTime: BUILD_DATE,
      runAction: (schedule, context) => this.run(schedule, context),
      isPaused: deps.isPaused,
      onStateChange: (name, state) => {
        connection.publishState(topics.schedule(name), JSON.stringify(state)).catch(() => undefined);
      },
      onSkipped: (schedule, report) => {
        event({
          type: 'schedule',
          action: schedule.action,
          source: 'schedule',
          result: 'error',
          error: `schedule ${schedule.name}: occurrence ${report.occurrenceKey} not run: ${report.reason}`,
        });
      },
    });
  }

  /** For Home Assistant discovery: one switch per schedule. */
  names(): { name: string }[] {
    return (this.scheduler?.names() ?? []).map((name) => ({ name }));
  }

  /** Taken without schedules too, so that a command to one says that none is configured. */
  commands(): CommandTable {
    return { [this.deps.topics.scheduleSetWildcard]: (topic, payload) => this.onSet(topic, payload) };
  }

  /** Answered without schedules too: they then say that none is configured. */
  requests(): RequestTable {
    return {
      'schedule/run': async (request, { transaction }) => {
        knownKeys(request, ['name']);
        const { scheduler, name } = this.require(request.name);
        const outcome = await scheduler.runNow(name, transaction);
        if (outcome.result === 'error') throw new InputError(outcome.error ?? 'schedule run failed');
        return scheduler.state(name);
      },
      'schedule/enable': async (request, origin) => {
        knownKeys(request, ['name', 'enabled']);
        const { scheduler, name } = this.require(request.name);
        if (typeof request.enabled !== 'boolean') throw new InputError('"enabled" must be true or false');
        const state = await scheduler.setEnabled(name, request.enabled);
        this.enabledEvent(name, request.enabled, origin);
        return state;
      },
    };
  }

  /** For the status request: each schedule's state. */
  status(): object {
    const { scheduler } = this;
    if (!scheduler) return {};
    return { schedules: Object.fromEntries(scheduler.names().map((n) => [n, scheduler.state(n)])) };
  }

  async start(): Promise<void> {
    if (this.scheduler) return this.scheduler.start();
    // No schedules now: those the state file still knows were all taken out of the config.
    const { config, logger } = this.deps;
    const store = schedulesStateFile(config.state_dir, logger);
    await new ScheduleBook({ schedules: [], store, logger, onRemoved: (name) => this.clearRetained(name) }).load();
  }

  /** A schedule gone from the config: its retained `schedule/<name>` would stay on the broker for ever. */
  private clearRetained(name: string): void {
    const { connection, topics, logger } = this.deps;
    connection.clearRetained(topics.schedule(name)).catch((error: unknown) => {
      logger.warn(`could not clear the retained state of the removed schedule ${name}: ${errorMessage(error)}`);
    });
  }

  async stop(): Promise<void> {
    await this.scheduler?.stop();
  }

  /** Every run under way finished and recorded (after the power service's stop has ended them). */
  async runsRecorded(): Promise<void> {
    await this.scheduler?.runsRecorded();
  }

  private async run(schedule: ScheduleConfig, context: RunContext): Promise<RunOutcome> {
    const { nodes: resolved, power, event } = this.deps;
    const nodes = expandNodeList(schedule.nodes, resolved);
    const how = context.manual
      ? 'run by request'
      : context.catchUp
        ? `catch-up of ${context.occurrenceKey}`
        : `occurrence ${context.occurrenceKey}`;
    const { action, name } = schedule;
    const message = `schedule ${name}: ${how}, nodes ${nodes.join(', ')}`;
    // A run asked by a request: its events carry the request's transaction (docs/topics.md).
    const origin: Origin = { source: 'schedule', transaction: context.transaction };
    event({ type: 'schedule', action, ...origin, result: 'progress', message });
    const results = await power.executeMany(nodes, SCHEDULE_ACTIONS[action], origin);
    const failed = results.filter((r) => !r.ok);
    const outcome: RunOutcome = { result: failed.length === 0 ? 'ok' : 'error', perNode: results };
    if (failed.length > 0) outcome.error = failed.map((r) => `node ${r.node}: ${r.error}`).join('; ');
    event({
      type: 'schedule',
      action,
      ...origin,
      result: outcome.result,
      ...(outcome.error ? { error: `schedule ${name}: ${outcome.error}` } : { message: `schedule ${name} done` }),
    });
    return outcome;
  }

  private async onSet(topic: string, payload: CommandPayload): Promise<void> {
    const { config, event } = this.deps;
    const name = topic.slice(`${config.mqtt.base_topic}/schedule/`.length, -'/set'.length);
    try {
      const text = payloadText(payload).trim();
      const word = text.toUpperCase();
      const { scheduler } = this.require(name);
      if (word === 'ON' || word === 'OFF') await scheduler.setEnabled(name, word === 'ON');
      else if (word === 'RUN') await scheduler.runNow(name);
      else throw new InputError(`unknown schedule command ${quote(text)}: use ON, OFF or RUN`);
      if (word !== 'RUN') this.enabledEvent(name, word === 'ON', { source: 'mqtt' });
    } catch (error) {
      event({ type: 'schedule', source: 'mqtt', result: 'error', error: errorMessage(error) });
    }
  }

  /** The same event for `schedule/<name>/set ON|OFF` and the `schedule/enable` request. */
  private enabledEvent(name: string, enabled: boolean, origin: Origin): void {
    const message = `schedule ${name} ${enabled ? 'enabled' : 'disabled'}`;
    this.deps.event({ type: 'schedule', ...origin, result: 'ok', message });
  }

  private require(name: unknown): { scheduler: Scheduler; name: string } {
    const { scheduler } = this;
    if (typeof name !== 'string') {
      throw new InputError(
        name === undefined ? '"name" is missing: the name of a schedule' : '"name" must be a string',
      );
    }
    if (!scheduler?.names().includes(name)) {
      const known = scheduler?.names().join(', ') || 'none configured';
      throw new InputError(`unknown schedule ${quote(String(name))} (schedules: ${known})`);
    }
    return { scheduler, name };
  }
}
