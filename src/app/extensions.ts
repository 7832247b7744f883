import { expandNodeList } from '../config/nodes.js';
import type { ScheduleConfig } from '../config/schema.js';
import { nodeFromTopic } from '../mqtt/topics.js';
import { parseAgentState } from '../agent/state.js';
import { policyNodes, Thermal, Watchdog, type PolicyEvent } from '../schedule/policies.js';
import { schedulesStateFile } from '../schedule/schedule-state.js';
import { Scheduler, type RunContext, type RunOutcome } from '../schedule/scheduler.js';
import type { CommandSource, NodeAction } from '../power/types.js';
import { formatDuration } from '../config/duration.js';
import { errorMessage } from '../util/errors.js';
import type { IPublishPacket } from 'mqtt';
import type { AgentState } from '../agent/state.js';
import type { OpenedBoard } from '../board/factory.js';
import type { ResolvedNode } from '../config/nodes.js';
import type { Config } from '../config/schema.js';
import type { MqttConnection } from '../mqtt/connection.js';
import type { Topics } from '../mqtt/topics.js';
import type { PowerService } from '../power/power-service.js';
import type { EventInput } from '../power/types.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { HaPublisher } from './ha-publisher.js';
import type { NodeModel } from './node-model.js';
import type { AgentNodes } from '../power/agent-nodes.js';
import { sleep, systemClock } from '../util/clock.js';
import { BoardExtras } from './board-extras.js';
import { BoardControls } from './board-controls.js';
import { bridgeInfo } from './bridge-info.js';
import { BmcLoginReporter } from './bmc-login.js';
import { InputError, knownKeys, payloadText, quote } from './input.js';
import { BUILD_DATE } from './version.js';

/** The longest the start waits for the broker to hand over the agents' retained states. */
const AGENT_STATES_WAIT_MS = 5000;

const SCHEDULE_ACTIONS: Record<ScheduleConfig['action'], NodeAction> = {
  on: 'on',
  off: 'off',
  reboot: 'reboot',
  shutdown: 'shutdown',
};

/**
 * What the extensions use of the bridge, named here so that this file does not import
 * bridge.ts (no import circle; BridgeApp has all of it). The app-layer split replaces it with
 * explicit collaborators (docs/ARCHITECTURE.md, "Planned: the app-layer split").
 */
export interface ExtensionHost {
  readonly config: Config;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly topics: Topics;
  readonly nodes: ResolvedNode[];
  readonly connection: MqttConnection;
  readonly board: OpenedBoard;
  readonly model: NodeModel;
  readonly power: PowerService;
  readonly ha: HaPublisher | undefined;
  readonly startedAt: string;
  readonly maintenance: boolean;
  event(input: EventInput): void;
  guard(topic: string, packet: IPublishPacket, handle: () => Promise<void>): void;
  agentState(node: number, status: AgentState): void;
  agentFailure(node: number, error: string): void;
  /** Which nodes are agent nodes (agent: true, or auto once seen). */
  readonly agentNodes: AgentNodes;
  agentStatus(node: number): AgentState | 'unknown';
}

/**
 * The parts of the bridge beyond the board itself: schedules, policies and the agents'
 * topics. Kept apart from bridge.ts so each concern stays small.
 */
export class BridgeExtensions {
  private scheduler: Scheduler | undefined;
  private watchdog: Watchdog | undefined;
  private thermal: Thermal | undefined;
  private boardExtras: BoardExtras | undefined;
  private boardControls: BoardControls | undefined;
  /** What the board told about itself when last looked at (boardFacts). */
  private facts = '';
  private lastExtrasError = '';
  private bmcLogin: BmcLoginReporter | undefined;

  constructor(private readonly bridge: ExtensionHost) {}

  async prepare(): Promise<void> {
    this.preparePolicies();
    const extras = new BoardExtras(
      this.bridge.board.driver,
      this.bridge.nodes,
      this.bridge.connection,
      this.bridge.topics,
      this.bridge.clock,
    );
    if (extras.active) this.boardExtras = extras;
    const { driver } = this.bridge.board;
    if (driver.setFanLevel || driver.setUsb) {
      const { connection, topics } = this.bridge;
      this.boardControls = new BoardControls({
        driver,
        connection,
        topics,
        event: (e) => this.bridge.event(e),
        guard: (topic, packet, handle) => this.bridge.guard(topic, packet, handle),
      });
    }
    this.facts = this.boardFacts();
    const login = this.bridge.board.driver.login;
    if (login) this.bmcLogin = new BmcLoginReporter(this.bridge, login);
    const { config, clock, logger } = this.bridge;
    if (config.schedules.length === 0) return;
    this.scheduler = new Scheduler({
      schedules: config.schedules,
      clock,
      logger: logger.child({ part: 'schedule' }),
      store: schedulesStateFile(config.state_dir, logger),
      buildTime: BUILD_DATE,
      runAction: (schedule, context) => this.runSchedule(schedule, context),
      isPaused: () => this.bridge.maintenance,
      onStateChange: (name, state) => {
        this.bridge.connection
          .publishState(this.bridge.topics.schedule(name), JSON.stringify(state))
          .catch(() => undefined);
      },
      onSkipped: (schedule, report) => {
        this.bridge.event({
          type: 'schedule',
          action: schedule.action,
          source: 'schedule',
          result: 'error',
          error: `schedule ${schedule.name}: occurrence ${report.occurrenceKey} not run: ${report.reason}`,
        });
      },
    });
  }

  private preparePolicies(): void {
    const { config, clock } = this.bridge;
    const { watchdog, thermal } = config.policies;
    const onEvent = (e: PolicyEvent): void =>
      this.bridge.event({
        type: e.type,
        node: e.node,
        action: e.action,
        source: 'policy',
        result: e.result,
        message: e.reason,
        ...(e.error ? { error: e.error } : {}),
      });
    const isPaused = (): boolean => this.bridge.maintenance;
    if (watchdog.enabled) {
      const { agentNodes } = this.bridge;
      this.watchdog = new Watchdog({
        nodes: policyNodes(config, 'watchdog'),
        isAgentNode: (n) => agentNodes.isAgentNode(n),
        agentLost: (n) => {
          const away = formatDuration(watchdog.offline_after);
          return agentNodes.forget(n, `the watchdog power-cycled node ${n} and its agent stayed offline for ${away}`);
        },
        offlineAfterMs: watchdog.offline_after,
        maxPerHour: watchdog.max_per_hour,
        clock,
        isPaused,
        // A hung OS cannot shut itself down: the watchdog's cycle is always a hard one.
        powerCycle: async (n) => {
          const result = await this.bridge.power.powerCycle(n, 'policy');
          if (!result.ok) throw new Error(result.error);
        },
        onEvent,
      });
    }
    if (thermal.enabled) {
      this.thermal = new Thermal({
        nodes: policyNodes(config, 'thermal'),
        maxCelsius: thermal.max_celsius,
        clearCelsius: thermal.clear_celsius,
        action: thermal.action,
        isPaused,
        clock,
        act: async (n, action) => {
          const result = await this.bridge.power.execute(n, action, 'policy');
          if (!result.ok) throw new Error(result.error);
        },
        onEvent,
      });
    }
  }

  scheduleNames(): { name: string }[] {
    return (this.scheduler?.names() ?? []).map((name) => ({ name }));
  }

  private async runSchedule(schedule: ScheduleConfig, context: RunContext): Promise<RunOutcome> {
    const nodes = expandNodeList(schedule.nodes, this.bridge.nodes);
    const how = context.manual
      ? 'run by request'
      : context.catchUp
        ? `catch-up of ${context.occurrenceKey}`
        : `occurrence ${context.occurrenceKey}`;
    this.bridge.event({
      type: 'schedule',
      action: schedule.action,
      source: 'schedule',
      result: 'progress',
      message: `schedule ${schedule.name}: ${how}, nodes ${nodes.join(', ')}`,
    });
    const results = await this.bridge.power.executeMany(nodes, SCHEDULE_ACTIONS[schedule.action], 'schedule');
    const failed = results.filter((r) => !r.ok);
    const outcome: RunOutcome = { result: failed.length === 0 ? 'ok' : 'error', perNode: results };
    if (failed.length > 0) outcome.error = failed.map((r) => `node ${r.node}: ${r.error}`).join('; ');
    this.bridge.event({
      type: 'schedule',
      action: schedule.action,
      source: 'schedule',
      result: outcome.result,
      ...(outcome.error
        ? { error: `schedule ${schedule.name}: ${outcome.error}` }
        : { message: `schedule ${schedule.name} done` }),
    });
    return outcome;
  }

  /**
   * Subscribes to the agents' own topics (every node not set to `agent: false`) and resolves
   * once their retained states are in: before it, no power action may run, or a restart could
   * take an agent node for an agentless one and cut power under its OS.
   */
  async watchAgents(): Promise<void> {
    const { connection, topics, nodes, agentNodes } = this.bridge;
    if (!nodes.some((n) => agentNodes.listensTo(n.number))) return;
    await connection.subscribe(topics.agentStateWildcard, (topic, payload) => this.onAgentState(topic, payload));
    await connection.subscribe(topics.agentEventWildcard, (topic, payload) => this.onAgentEvent(topic, payload));
    await connection.subscribe(topics.agentTelemetryWildcard, (topic, payload) => this.onTelemetry(topic, payload));
    // The broker sends retained messages before it answers a later request on the same
    // connection; bounded, so that a broker that never answers cannot hold the start for ever.
    const timeUp = new AbortController();
    const answered = connection.roundTrip(`${topics.agentStateWildcard}/none`).then(() => true);
    const late = sleep(systemClock, AGENT_STATES_WAIT_MS, timeUp.signal).then(
      () => false,
      () => true,
    );
    const inTime = await Promise.race([answered, late]).finally(() => timeUp.abort());
    if (!inTime) {
      const waited = `${AGENT_STATES_WAIT_MS} ms`;
      this.bridge.logger.warn(`the broker did not answer within ${waited}: going on without the agents' states`);
    }
  }

  /** A node became an agent node (its agent was seen) or stopped being one (the watchdog gave up on it). */
  agentNodeChanged(node: number, isAgentNode: boolean, reason: string): void {
    this.bridge.event({
      type: 'agent',
      node,
      source: isAgentNode ? 'mqtt' : 'policy',
      result: 'ok',
      message: isAgentNode
        ? `node ${node} is an agent node: ${reason}`
        : `node ${node} counts as agentless until its agent is seen again: ${reason}`,
    });
  }

  async subscribe(): Promise<void> {
    const { connection, topics } = this.bridge;
    await this.boardControls?.subscribe();
    if (this.scheduler) {
      await connection.subscribe(topics.scheduleSetWildcard, (topic, payload, packet) =>
        this.bridge.guard(topic, packet, () => this.onScheduleSet(topic, payload)),
      );
    }
  }

  private agentNode(topic: string, suffix: string): number | undefined {
    const n = nodeFromTopic(this.bridge.topics, topic, suffix);
    return n !== undefined && this.bridge.agentNodes.listensTo(n) ? n : undefined;
  }

  /** Whether a node found on is `starting` (an agent node whose agent is not online yet). */
  awaitsAgent(node: number): boolean {
    return this.bridge.agentNodes.isAgentNode(node) && this.bridge.agentStatus(node) !== 'online';
  }

  private onAgentState(topic: string, payload: Buffer): void {
    const n = this.agentNode(topic, 'agent/state');
    const status = parseAgentState(payload.toString());
    if (n === undefined || status === undefined) return;
    this.bridge.agentNodes.observed(n, status);
    this.bridge.agentState(n, status);
    this.watchdog?.agentState(n, status);
    const { model } = this.bridge;
    if (status === 'online' && model.state(n) === 'starting') model.setState(n, 'on', 'board', 'agent online');
  }

  private onAgentEvent(topic: string, payload: Buffer): void {
    const n = this.agentNode(topic, 'agent/event');
    if (n === undefined || payload.length > 4096) return;
    try {
      const event = JSON.parse(payload.toString()) as { result?: unknown; error?: unknown };
      if (event.result === 'error' && typeof event.error === 'string')
        this.bridge.agentFailure(n, `the agent reports: ${event.error.slice(0, 300)}`);
    } catch {
      // not an agent of ours: ignored
    }
  }

  private onTelemetry(topic: string, payload: Buffer): void {
    const n = this.agentNode(topic, 'agent/telemetry');
    if (n === undefined || !this.thermal || payload.length > 4096 || !this.bridge.agentNodes.isAgentNode(n)) return;
    try {
      const { temperature } = JSON.parse(payload.toString()) as { temperature?: unknown };
      void this.thermal.temperature(n, typeof temperature === 'number' ? temperature : null);
    } catch {
      // malformed telemetry: ignored
    }
  }

  private async onScheduleSet(topic: string, payload: Buffer): Promise<void> {
    const name = topic.slice(`${this.bridge.config.mqtt.base_topic}/schedule/`.length, -'/set'.length);
    try {
      const word = payloadText(payload).trim().toUpperCase();
      this.requireSchedule(name);
      if (word === 'ON' || word === 'OFF') await this.scheduler!.setEnabled(name, word === 'ON');
      else if (word === 'RUN') await this.scheduler!.runNow(name);
      else throw new InputError(`unknown schedule command ${quote(word)}: use ON, OFF or RUN`);
      if (word !== 'RUN')
        this.bridge.event({
          type: 'schedule',
          source: 'mqtt',
          result: 'ok',
          message: `schedule ${name} ${word === 'ON' ? 'enabled' : 'disabled'}`,
        });
    } catch (error) {
      this.bridge.event({ type: 'schedule', source: 'mqtt', result: 'error', error: errorMessage(error) });
    }
  }

  private requireSchedule(name: unknown): string {
    if (typeof name !== 'string' || !this.scheduler?.names().includes(name)) {
      const known = this.scheduler?.names().join(', ') || 'none configured';
      throw new InputError(`unknown schedule ${quote(String(name))} (schedules: ${known})`);
    }
    return name;
  }

  /** bridge/request/schedule/*; undefined when the action is not ours. */
  async request(action: string, request: Record<string, unknown>, source: CommandSource): Promise<unknown> {
    if (action === 'bmc/login' && this.bmcLogin) return this.bmcLogin.request(request, source);
    if (action === 'schedule/run') {
      knownKeys(request, ['name']);
      const name = this.requireSchedule(request.name);
      const outcome = await this.scheduler!.runNow(name);
      if (outcome.result === 'error') throw new InputError(outcome.error ?? 'schedule run failed');
      return this.scheduler!.state(name);
    }
    if (action === 'schedule/enable') {
      knownKeys(request, ['name', 'enabled']);
      const name = this.requireSchedule(request.name);
      if (typeof request.enabled !== 'boolean') throw new InputError('"enabled" must be true or false');
      return this.scheduler!.setEnabled(name, request.enabled);
    }
    return undefined;
  }

  status(): object {
    if (!this.scheduler) return {};
    return { schedules: Object.fromEntries(this.scheduler.names().map((n) => [n, this.scheduler!.state(n)])) };
  }

  async start(): Promise<void> {
    await this.bmcLogin?.start();
    await this.scheduler?.start();
  }

  /**
   * Called on every poll, after the board's power was read. What only some boards report is no
   * reason to call the board offline: a failure here is logged (once while it repeats), not thrown.
   */
  async poll(): Promise<void> {
    try {
      await this.boardExtras?.poll();
      await this.boardControls?.poll();
      this.lastExtrasError = '';
    } catch (error) {
      const reason = errorMessage(error);
      if (reason !== this.lastExtrasError) this.bridge.logger.warn(`reading the board's extras failed: ${reason}`);
      this.lastExtrasError = reason;
    }
    await this.boardFactsChanged().catch((error: unknown) =>
      this.bridge.logger.warn(`republishing the board's facts failed: ${errorMessage(error)}`),
    );
    await this.bmcLogin?.refresh().catch(() => undefined);
  }

  /** The facts about the board that discovery and bridge/info show; they change when a late BMC answers. */
  private boardFacts(): string {
    const info = this.bridge.board.driver.info;
    const { firmware, bmcd, revision, hasFans, usbModes, reportsPowerOnTime, nodeNames } = info;
    return JSON.stringify([firmware, bmcd, revision, hasFans, usbModes, reportsPowerOnTime, nodeNames]);
  }

  private async boardFactsChanged(): Promise<void> {
    const facts = this.boardFacts();
    if (facts === this.facts) return;
    this.facts = facts;
    const { connection, topics, config, board } = this.bridge;
    const info = bridgeInfo(config, board.driver.info, this.bridge.startedAt);
    await connection.publishState(topics.bridgeInfo, JSON.stringify(info));
    await this.bridge.ha?.refresh();
  }

  powerChanged(node: number, on: boolean | null): void {
    this.watchdog?.power(node, on);
  }

  /** Lost broker: the policies pause (offline_after starts again at the reconnection). */
  brokerConnection(connected: boolean): void {
    this.watchdog?.brokerConnection(connected);
    this.thermal?.brokerConnection(connected);
  }

  expectDown(node: number): void {
    this.watchdog?.expectDown(node);
  }

  async stop(): Promise<void> {
    this.watchdog?.stop();
    await this.scheduler?.stop();
  }
}
