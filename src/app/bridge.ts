import type { IClientOptions, IPublishPacket } from 'mqtt';
import { randomUUID } from 'node:crypto';
import { openBoard, type BoardDeps, type OpenedBoard } from '../board/factory.js';
import type { Config } from '../config/schema.js';
import { findNode, resolveNodes, unknownNodeMessage, type ResolvedNode } from '../config/nodes.js';
import { MqttConnection } from '../mqtt/connection.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../mqtt/embedded-broker.js';
import { brokerUrl, mqttClientOptions, mqttUrl } from '../mqtt/options.js';
import { nodeFromTopic, topics, type Topics } from '../mqtt/topics.js';
import type { AgentState } from '../agent/state.js';
import { AgentTracker } from '../power/agents.js';
import { openAgentNodes, type AgentNodes } from '../power/agent-nodes.js';
import { PowerService } from '../power/power-service.js';
import {
  parseSetPayload,
  type BridgeEvent,
  type CommandSource,
  type EventInput,
  type NodeResult,
} from '../power/types.js';
import { systemClock, sleep, type Clock, type TimerHandle } from '../util/clock.js';
import { TpmError, errorMessage } from '../util/errors.js';
import { createLogger, type Logger } from '../util/logger.js';
import { BridgeState, defaultBridgeState, parseBridgeState } from './bridge-state.js';
import { HaPublisher } from './ha-publisher.js';
import { currentTransaction, withTransaction } from './transaction-context.js';
import { InputError, payloadText, powerRequest, quote, requestObject, transactionOf, knownKeys } from './input.js';
import { NodeModel, type NodeSnapshot } from './node-model.js';
import { RtcMonitor } from './rtc-monitor.js';
import { openStateFile } from './state-file.js';
import { BridgeExtensions } from './extensions.js';
import { bridgeInfo } from './bridge-info.js';
import { VERSION } from './version.js';
import { displayUrl } from '../util/redact.js';

export interface BridgeDeps extends BoardDeps {
  clock?: Clock;
  logger?: Logger;
}

export interface Bridge {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** After this many failed polls in a row, board/state says offline (docs/reliability.md, "bus gone"). */
const FAILURES_BEFORE_OFFLINE = 3;
/** The board's clock drifts slowly; reading it every poll would only cost bus time. */
const RTC_READ_INTERVAL_MS = 60_000;

/**
 * The composition root of the bridge role (docs/ARCHITECTURE.md): builds every part, starts
 * them in dependency order and stops them in reverse. It owns no hardware logic itself.
 */
export class BridgeApp implements Bridge {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly topics: Topics;
  readonly nodes: ResolvedNode[];
  private rtcSyncing: Promise<unknown> | undefined;
  private broker: EmbeddedBroker | undefined;
  connection!: MqttConnection;
  board!: OpenedBoard;
  model!: NodeModel;
  power!: PowerService;
  state!: BridgeState;
  private agents: AgentTracker | undefined;
  agentNodes!: AgentNodes;
  ha: HaPublisher | undefined;
  private rtc: RtcMonitor | undefined;
  private extensions: BridgeExtensions | undefined;
  private pollTimer: TimerHandle | undefined;
  private polling = false;
  private pollFailures = 0;
  private lastRtcRead = Number.NEGATIVE_INFINITY;
  private boardOnline = false;
  startedAt = '';
  private started = false;
  private stopped: Promise<void> | undefined;

  constructor(
    readonly config: Config,
    private readonly deps: BridgeDeps = {},
  ) {
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? createLogger({ level: config.log.level, format: config.log.format });
    this.topics = topics(config.mqtt.base_topic);
    this.nodes = resolveNodes(config);
  }

  async start(): Promise<void> {
    const { config, logger, clock } = this;
    this.startedAt = new Date(clock.now()).toISOString();

    const file = await openStateFile(config.state_dir, 'bridge.json', defaultBridgeState, parseBridgeState, logger);
    this.state = new BridgeState(file.store, file.value);
    const interrupted = this.state.data.in_flight;

    if (config.mqtt.url === 'embedded') {
      const { username, password } = config.mqtt;
      this.broker = await startEmbeddedBroker(config.mqtt.embedded.host, config.mqtt.embedded.port, logger, {
        username,
        password,
      });
    }

    this.board = await openBoard(config, this.deps, {
      clock,
      logger: logger.child({ part: 'board' }),
      nodes: this.nodes,
    });
    const info = this.board.driver.info;

    this.model = new NodeModel(this.nodes, clock, (n, snap) => this.publishNode(n, snap));
    const clientId = config.mqtt.client_id ?? `turingpi-${config.board.id}-bridge`;
    // With the embedded broker on port 0 (tests, several demos at once), the port it bound.
    const url = this.broker ? mqttUrl(this.broker.host, this.broker.port) : brokerUrl(config);
    const options = mqttClientOptions(config, clientId, { topic: this.topics.bridgeState, payload: 'offline' });
    // Before connecting with our client id: a second bridge with the same id would take the
    // first one's session over (both then kick each other off the broker every second).
    // Our own broker, just started, has no other bridge on it.
    if (!this.broker) await this.refuseSecondBridge(url, options);
    this.connection = new MqttConnection({
      url,
      options,
      logger: logger.child({ part: 'mqtt' }),
      clock,
      onConnect: () => this.onReconnect(),
      onDisconnect: () => this.onBrokerLost(),
    });
    await this.connection.start();
    logger.info(`connected to MQTT broker ${displayUrl(url)} as ${clientId}`);
    if (this.broker) {
      logger.info(
        `watch it with: mosquitto_sub -h ${this.broker.host} -p ${this.broker.port} -t '${config.mqtt.base_topic}/#' -v`,
      );
    }

    const agentsLogger = logger.child({ part: 'agents' });
    this.agentNodes = await openAgentNodes(config.state_dir, this.nodes, agentsLogger, (n, isAgent, reason) => {
      this.extensions?.agentNodeChanged(n, isAgent, reason);
      void this.ha?.refresh();
    });
    if (this.nodes.some((n) => n.agent !== false)) {
      this.agents = new AgentTracker(clock, (n, word) => this.connection.publish(this.topics.agentCommand(n), word));
    }
    this.power = new PowerService({
      driver: this.board.driver,
      nodes: this.nodes,
      power: config.power,
      clock,
      logger: logger.child({ part: 'power' }),
      view: this.model,
      event: (e) => this.event(e),
      journal: this.state,
      ...(this.agents ? { agents: this.agents } : {}),
      isAgentNode: (n) => this.agentNodes.isAgentNode(n),
      expectDown: (n) => this.extensions?.expectDown(n),
    });
    if (info.hasRtc) this.rtc = new RtcMonitor(this.board.driver, clock);

    // Before the first reading: the policies must see the power it finds (a node already on
    // whose agent never reports is watched from now), and the board's extras (booted, fans)
    // are published with it rather than one poll_interval later.
    this.extensions = new BridgeExtensions(this);
    await this.extensions.prepare();
    // Before anything can act on power: a restart must not take an agent node for an agentless one.
    await this.extensions.watchAgents();

    // First reading: state is published as the board has it; no power is changed (restore_on_start: keep).
    await this.poll();
    for (const entry of interrupted) {
      this.event({
        type: 'power',
        node: entry.node,
        action: entry.action,
        source: 'startup',
        result: 'error',
        error: `a ${entry.action} of node ${entry.node} (from ${entry.source}, started ${entry.started_at}) was interrupted by a stop or crash of the bridge; it was not resumed and power was left as the board reports it`,
      });
    }
    await this.state.update((d) => {
      d.in_flight = [];
      d.last_started_at = this.startedAt;
    });

    await this.connection.publishState(this.topics.bridgeInfo, JSON.stringify(this.info()));
    await this.connection.publishState(this.topics.maintenance, this.state.data.maintenance ? 'ON' : 'OFF');

    if (config.homeassistant.enabled || Object.keys(this.state.data.discovery).length > 0) {
      this.ha = new HaPublisher(
        {
          config,
          nodes: () => this.agentNodes.resolved(),
          board: info,
          version: VERSION,
          schedules: () => this.extensions?.scheduleNames() ?? [],
          connection: this.connection,
          clock,
          logger: logger.child({ part: 'homeassistant' }),
          previousIndex: this.state.data.discovery,
          saveIndex: (index) =>
            this.state.update((d) => {
              d.discovery = index;
            }),
        },
        () => this.connection.republishAll(),
      );
      await this.ha.publishAtStart();
    }

    await this.subscribeCommands();
    await this.connection.publishState(this.topics.bridgeState, 'online');
    if (config.power.restore_on_start === 'last') await this.restoreLast();
    await this.extensions.start();
    this.started = true;
    this.schedulePoll();
    logger.info(`bridge online: ${info.model}, ${info.nodes} nodes, base topic ${config.mqtt.base_topic}`);
  }

  /** Only one bridge may drive a board; a retained `online` of another one refuses the start. */
  private async refuseSecondBridge(url: string, bridgeOptions: IClientOptions): Promise<void> {
    // A look with a client id of its own and no will: it takes over no session and leaves nothing behind.
    const options: IClientOptions = { ...bridgeOptions, clientId: `turingpi-probe-${randomUUID().slice(0, 8)}` };
    delete options.will;
    const probe = new MqttConnection({ url, options, logger: this.logger.child({ part: 'mqtt' }), clock: this.clock });
    await probe.start();
    const retained = new Map<string, string>();
    try {
      const onMessage = (topic: string, payload: Buffer, packet: IPublishPacket): void => {
        if (packet.retain) retained.set(topic, payload.toString());
      };
      // The broker sends retained messages in order, before it answers a later request on the
      // same connection: after one round trip, whatever was retained has arrived.
      const looked = (async () => {
        await probe.subscribe(this.topics.bridgeState, onMessage);
        await probe.subscribe(this.topics.bridgeInfo, onMessage);
        await probe.roundTrip(`${this.config.mqtt.base_topic}/bridge/probe`);
      })();
      await Promise.race([looked, sleep(systemClock, 2000)]);
    } finally {
      await probe.stop();
    }
    if (retained.get(this.topics.bridgeState) !== 'online') return;
    let startedAt: unknown;
    try {
      startedAt = (JSON.parse(retained.get(this.topics.bridgeInfo) ?? '{}') as { started_at?: unknown }).started_at;
    } catch {
      startedAt = undefined;
    }
    // Our own previous run, killed before its will was sent, left that `online`: take over.
    if (startedAt !== undefined && startedAt === this.state.data.last_started_at) return;
    throw new TpmError(
      'BUSY',
      `another bridge is online on base topic "${this.config.mqtt.base_topic}" at ${displayUrl(url)} (started ${String(startedAt ?? 'at an unknown time')}): one bridge per board; give this board its own mqtt.base_topic and board.id`,
    );
  }

  info() {
    return bridgeInfo(this.config, this.board.driver.info, this.startedAt);
  }

  /** Agents are unknown while the broker is away; the watchdog and thermal policies pause. */
  private onBrokerLost(): void {
    this.agents?.connectionLost();
    this.extensions?.brokerConnection(false);
  }

  private async onReconnect(): Promise<void> {
    // The retained agent states have arrived again with the renewed subscriptions.
    this.extensions?.brokerConnection(true);
    if (!this.started) return;
    // The broker may have published our will while we were away.
    await this.connection.publishState(this.topics.bridgeState, 'online', { force: true });
  }

  private publishNode(n: number, snap: NodeSnapshot): void {
    const t = this.topics;
    const c = this.connection;
    const publish = async (): Promise<void> => {
      // The answer to a command: sent at once, not after the state and event built next.
      if (snap.power !== null) await c.publishState(t.nodePower(n), snap.power ? 'ON' : 'OFF', { flush: true });
      await c.publishState(t.nodeState(n), JSON.stringify(snap.state));
      if (this.board.driver.info.canTellPresence && snap.present !== null)
        await c.publishState(t.nodePresent(n), snap.present ? 'ON' : 'OFF');
    };
    publish().catch((error: unknown) => this.logger.warn(`publishing node ${n} failed: ${errorMessage(error)}`));
    this.extensions?.powerChanged(n, snap.power);
  }

  event(input: EventInput): void {
    const transaction = input.transaction ?? currentTransaction();
    const event: BridgeEvent = {
      time: new Date(this.clock.now()).toISOString(),
      ...input,
      ...(transaction === undefined ? {} : { transaction }),
    };
    const where = event.node !== undefined ? `node ${event.node}` : event.type;
    const text = `${where}${event.action ? ` ${event.action}` : ''} (${event.source}): ${event.error ?? event.message ?? event.result}`;
    if (event.result === 'error') this.logger.warn(text);
    else this.logger.info(text);
    this.connection.publish(this.topics.bridgeEvent, JSON.stringify(event)).catch(() => undefined);
  }

  // ---- polling ----------------------------------------------------------------------------

  private schedulePoll(delay = this.config.board.poll_interval): void {
    if (!this.started) return;
    this.pollTimer = this.clock.setTimeout(() => {
      this.pollTimer = undefined;
      void this.poll().then(() => {
        // Back off while the board does not answer, up to a minute: a fault is retried with back-off, never a crash.
        const backoff = Math.min(60_000, this.config.board.poll_interval * 2 ** Math.max(0, this.pollFailures - 1));
        this.schedulePoll(this.pollFailures > 0 ? backoff : undefined);
      });
    }, delay);
  }

  /** Reads the board and publishes what changed. Never throws. */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      await this.board.ensureOpen();
      const reading = await this.board.driver.readPower();
      for (const node of this.nodes) {
        const awaitsAgent = this.extensions?.awaitsAgent(node.number) ?? false;
        this.model.observe(node.number, reading.power[node.number - 1] ?? null, awaitsAgent);
        if (reading.present) this.model.setPresent(node.number, reading.present[node.number - 1] ?? null);
      }
      await this.extensions?.poll();
      if (this.rtc && this.clock.now() - this.lastRtcRead >= RTC_READ_INTERVAL_MS) {
        this.lastRtcRead = this.clock.now();
        const rtc = await this.rtc.poll();
        if (rtc) await this.connection.publishState(this.topics.rtc, JSON.stringify(rtc));
      }
      this.pollFailures = 0;
      await this.setBoardOnline(true);
    } catch (error) {
      this.pollFailures++;
      const reason = errorMessage(error);
      if (this.pollFailures === 1 || this.pollFailures === FAILURES_BEFORE_OFFLINE)
        this.logger.warn(`reading the board failed (${this.pollFailures}x): ${reason}`);
      if (this.pollFailures === FAILURES_BEFORE_OFFLINE || (!this.boardOnline && this.pollFailures === 1)) {
        this.event({
          type: 'board',
          source: 'startup',
          result: 'error',
          error: `the board does not answer: ${reason}`,
        });
      }
      if (this.pollFailures >= FAILURES_BEFORE_OFFLINE || !this.started) await this.setBoardOnline(false);
    } finally {
      this.polling = false;
    }
  }

  private async setBoardOnline(online: boolean): Promise<void> {
    if (online && !this.boardOnline && this.started) this.logger.info('the board answers again');
    this.boardOnline = online;
    await this.connection.publishState(this.topics.boardState, online ? 'online' : 'offline');
  }

  private async restoreLast(): Promise<void> {
    const commanded = this.state.data.commanded;
    for (const node of this.nodes) {
      const wanted = commanded[String(node.number)];
      if (wanted === undefined || !node.enabled || wanted === this.model.power(node.number)) continue;
      if (!wanted && node.protected) continue;
      await this.power.execute(node.number, wanted ? 'on' : 'off', 'startup');
    }
  }

  // ---- commands ---------------------------------------------------------------------------

  private async subscribeCommands(): Promise<void> {
    const t = this.topics;
    const c = this.connection;
    await c.subscribe(t.nodeSetWildcard, (topic, payload, packet) =>
      this.guard(topic, packet, () => this.onNodeSet(topic, payload)),
    );
    await c.subscribe(t.requestWildcard, (topic, payload, packet) =>
      this.guard(topic, packet, () => this.onRequest(topic, payload)),
    );
    if (this.rtc)
      await c.subscribe(t.rtcSet, (topic, payload, packet) => this.guard(topic, packet, () => this.onRtcSet(payload)));
    await c.subscribe(t.maintenanceSet, (topic, payload, packet) =>
      this.guard(topic, packet, () => this.onMaintenanceSet(payload)),
    );
    if (this.config.homeassistant.enabled) {
      await c.subscribe(this.config.homeassistant.status_topic, (_topic, payload) =>
        this.ha?.onStatus(payload.toString()),
      );
    }
    await this.extensions?.subscribe();
  }

  /** Retained commands are stale: never acted on, one error event says so (docs/topics.md). */
  guard(topic: string, packet: IPublishPacket, handle: () => Promise<void>): void {
    if (packet.retain) {
      this.event({
        type: 'command',
        source: 'mqtt',
        result: 'error',
        error: `ignored a retained message on ${topic}: commands are never acted on from retained messages (clear it with: mosquitto_pub -r -n -t '${topic}')`,
      });
      return;
    }
    handle().catch((error: unknown) => this.logger.error(`command on ${topic} failed: ${errorMessage(error)}`));
  }

  private async onNodeSet(topic: string, payload: Buffer): Promise<void> {
    const n = nodeFromTopic(this.topics, topic, 'set');
    let text: string;
    try {
      text = payloadText(payload);
    } catch (error) {
      this.event({ type: 'command', node: n, source: 'mqtt', result: 'error', error: errorMessage(error) });
      return;
    }
    const action = parseSetPayload(text);
    const node = findNode(this.nodes, n);
    if (!node) {
      this.event({
        type: 'command',
        source: 'mqtt',
        result: 'error',
        error: unknownNodeMessage(this.nodes, `in ${quote(topic)}`),
      });
      return;
    }
    if (!action) {
      this.event({
        type: 'command',
        node: node.number,
        source: 'mqtt',
        result: 'error',
        error: `unknown command ${quote(text)}: use ON, OFF, FORCE_OFF, TOGGLE, REBOOT or SHUTDOWN`,
      });
      return;
    }
    await this.power.execute(node.number, action, 'mqtt');
  }

  private async onRequest(topic: string, payload: Buffer): Promise<void> {
    const action = topic.slice(this.topics.requestPrefix.length);
    let request: Record<string, unknown> | undefined;
    const respond = async (body: object): Promise<void> => {
      const transaction = transactionOf(request);
      const response = transaction === undefined ? body : { ...body, transaction };
      if (/^[a-z/]{1,40}$/.test(action))
        await this.connection.publish(this.topics.response(action), JSON.stringify(response));
    };
    try {
      request = requestObject(payload);
      const source: CommandSource = request.source === 'cli' ? 'cli' : 'mqtt';
      if (request.source !== undefined) delete request.source;
      const data = await this.handleRequest(action, request, source);
      await respond({ status: 'ok', data });
    } catch (error) {
      const reason = errorMessage(error);
      // A refused power change was already reported by the power service (one event per
      // node): a second event here would count one bad request twice.
      if (error instanceof InputError) {
        this.event({ type: 'request', action, source: 'mqtt', result: 'error', error: reason });
      }
      await respond({ status: 'error', error: reason });
    }
  }

  private async handleRequest(
    action: string,
    request: Record<string, unknown>,
    source: CommandSource,
  ): Promise<unknown> {
    switch (action) {
      case 'power': {
        const { node, action: nodeAction } = powerRequest(request);
        if (node !== 'all' && !findNode(this.nodes, node)) {
          throw new InputError(unknownNodeMessage(this.nodes, String(node)));
        }
        // "all" means every enabled, non-protected node for changes; a status covers every node.
        const targets =
          node === 'all' && nodeAction === 'status'
            ? this.nodes.filter((x) => x.enabled).map((x) => x.number)
            : this.power.targets(node);
        // The action's events carry the request's transaction: the CLI follows its own action.
        const results = await withTransaction(transactionOf(request), () =>
          this.power.executeMany(targets, nodeAction, source),
        );
        const failed = results.filter((r) => !r.ok);
        if (failed.length > 0) throw new TpmError('BAD_COMMAND', failed.map((r) => r.error).join('; '));
        return node === 'all' ? results.map(publicResult) : publicResult(results[0] as NodeResult);
      }
      case 'status':
        knownKeys(request, []);
        return this.status();
      case 'rtc/sync':
        knownKeys(request, []);
        return this.syncRtc(source);
      default: {
        const handled = await this.extensions?.request(action, request, source);
        if (handled !== undefined) return handled;
        throw new InputError(
          `unknown request ${quote(action)}: use power, status, rtc/sync, schedule/run${this.board.driver.login ? ', schedule/enable or bmc/login' : ' or schedule/enable'}`,
        );
      }
    }
  }

  status(): object {
    return {
      version: VERSION,
      started_at: this.startedAt,
      maintenance: this.state.data.maintenance,
      board: { ...this.info().board, state: this.boardOnline ? 'online' : 'offline' },
      nodes: this.nodes.map((node) => {
        const snap = this.model.snapshot(node.number);
        return {
          node: node.number,
          name: node.name,
          enabled: node.enabled,
          protected: node.protected,
          agent: this.agentNodes.isAgentNode(node.number),
          power: snap?.power === null || snap === undefined ? null : snap.power ? 'ON' : 'OFF',
          state: snap?.state.state ?? 'unknown',
          ...(this.board.driver.info.canTellPresence ? { present: snap?.present ?? null } : {}),
          ...(this.agentNodes.listensTo(node.number) ? { agent_state: this.agentStatus(node.number) } : {}),
        };
      }),
      ...(this.extensions ? this.extensions.status() : {}),
    };
  }

  /**
   * The command word of a plain topic (rtc/set, maintenance/set) if it is one of `words`;
   * otherwise one error event and undefined (docs/topics.md: bad input changes nothing).
   */
  private commandWord(payload: Buffer, type: string, words: string[]): string | undefined {
    let word: string;
    try {
      word = payloadText(payload).trim().toUpperCase();
    } catch (error) {
      this.event({ type, source: 'mqtt', result: 'error', error: errorMessage(error) });
      return undefined;
    }
    if (words.includes(word)) return word;
    this.event({
      type,
      source: 'mqtt',
      result: 'error',
      error: `unknown ${type} command ${quote(word)}: use ${words.join(' or ')}`,
    });
    return undefined;
  }

  private async onRtcSet(payload: Buffer): Promise<void> {
    if (this.commandWord(payload, 'rtc', ['SYNC'])) await this.syncRtc('mqtt').catch(() => undefined);
  }

  /**
   * Requests close together share one sync (rtc/set SYNC, rtc/sync requests, the button): each
   * would set the clock from the same system time, and each waits for a second boundary on the
   * bus. One sync under way answers every caller, with one event.
   */
  private async syncRtc(source: CommandSource): Promise<unknown> {
    if (!this.rtc) throw new InputError('this board has no real-time clock');
    const rtc = this.rtc;
    this.rtcSyncing ??= this.runRtcSync(rtc, source).finally(() => {
      this.rtcSyncing = undefined;
    });
    return this.rtcSyncing;
  }

  private async runRtcSync(rtc: RtcMonitor, source: CommandSource): Promise<unknown> {
    try {
      const payload = await rtc.sync(); // the driver orders it with every other bus operation
      await this.connection.publishState(this.topics.rtc, JSON.stringify(payload));
      this.event({
        type: 'rtc',
        action: 'sync',
        source,
        result: 'ok',
        message: `clock set from the system time (drift now ${payload.drift}s)`,
      });
      return payload;
    } catch (error) {
      this.event({
        type: 'rtc',
        action: 'sync',
        source,
        result: 'error',
        error: `setting the clock failed: ${errorMessage(error)}`,
      });
      throw error;
    }
  }

  private async onMaintenanceSet(payload: Buffer): Promise<void> {
    const word = this.commandWord(payload, 'maintenance', ['ON', 'OFF']);
    if (word) await this.setMaintenance(word === 'ON', 'mqtt');
  }

  async setMaintenance(on: boolean, source: CommandSource): Promise<void> {
    await this.state.update((d) => {
      d.maintenance = on;
    });
    await this.connection.publishState(this.topics.maintenance, on ? 'ON' : 'OFF');
    this.event({
      type: 'maintenance',
      source,
      result: 'ok',
      message: on ? 'maintenance on: schedules and policies paused' : 'maintenance off',
    });
  }

  get maintenance(): boolean {
    return this.state.data.maintenance;
  }

  /** Feeds agent state for graceful sequences (called by the extensions that subscribe to agent topics). */
  agentState(node: number, status: AgentState): void {
    this.agents?.update(node, status);
  }

  agentStatus(node: number): AgentState | 'unknown' {
    return this.agents?.status(node) ?? 'unknown';
  }

  agentFailure(node: number, error: string): void {
    this.agents?.reportFailure(node, error);
  }

  // ---- lifecycle --------------------------------------------------------------------------

  stop(): Promise<void> {
    this.stopped ??= this.doStop();
    return this.stopped;
  }

  private async doStop(): Promise<void> {
    this.started = false;
    this.clock.clearTimeout(this.pollTimer);
    const steps: [string, () => Promise<void> | void][] = [
      ['extensions', () => this.extensions?.stop()],
      ['home assistant', () => this.ha?.stop()],
      // A hard reboot under way finishes (its node is switched back on) before we go.
      ['power', () => this.power?.stop()],
      [
        'offline',
        async () => {
          // A broker that went away just now would leave a QoS 1 publish waiting for ever: the
          // will says offline then, and the stop goes on.
          if (this.connection?.connected) {
            const sent = this.connection.publish(this.topics.bridgeState, 'offline', { retain: true });
            await Promise.race([sent, sleep(systemClock, 1000)]);
          }
        },
      ],
      ['mqtt', () => this.connection?.stop()],
      ['board', () => this.board?.close()],
      ['broker', () => this.broker?.close()],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (error) {
        this.logger.warn(`stopping ${name} failed: ${errorMessage(error)}`);
      }
    }
    this.logger.info('bridge stopped (node power unchanged)');
  }
}

function publicResult(result: NodeResult): object {
  return {
    node: result.node,
    power: result.power === null ? null : result.power ? 'ON' : 'OFF',
    state: result.state,
    ...(result.note ? { note: result.note } : {}),
  };
}

export function createBridge(config: Config, deps: BridgeDeps = {}): BridgeApp {
  return new BridgeApp(config, deps);
}
