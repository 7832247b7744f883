import { openBoard, type BoardDeps, type OpenedBoard } from '../board/factory.js';
import { resolveNodes, type ResolvedNode } from '../config/nodes.js';
import type { Config } from '../config/schema.js';
import { MqttConnection } from '../mqtt/connection.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../mqtt/embedded-broker.js';
import { brokerUrl, mqttClientOptions, mqttUrl } from '../mqtt/options.js';
import { topics, type Topics } from '../mqtt/topics.js';
import { openAgentNodes } from '../power/agent-nodes.js';
import type { PowerService } from '../power/power-service.js';
import { sleep, systemClock, type Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import { createLogger, type Logger } from '../util/logger.js';
import { displayUrl } from '../util/redact.js';
import { buildParts, type Parts } from './bridge-parts.js';
import { BridgeState, defaultBridgeState, parseBridgeState } from './bridge-state.js';
import { subscribeCommands } from './command-table.js';
import type { NodeModel } from './node-model.js';
import { refuseSecondBridge } from './second-bridge.js';
import { reportInterrupted, restoreLast } from './start-up.js';
import { openStateFile } from './state-file.js';

export interface BridgeDeps extends BoardDeps {
  clock?: Clock;
  logger?: Logger;
}

export interface Bridge {
  start(): Promise<void>;
  stop(): Promise<void>;
}

type Step = [name: string, step: () => Promise<void> | void];

/**
 * The composition root of the bridge role (docs/ARCHITECTURE.md): opens the state file, the
 * broker, the board and the connection, builds the parts (bridge-parts.ts), starts them in
 * order and stops everything in reverse. It owns no behaviour of its own.
 */
export class BridgeApp implements Bridge {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly topics: Topics;
  readonly nodes: ResolvedNode[];
  private parts: Parts | undefined;
  private opened: { board: OpenedBoard; connection: MqttConnection; state: BridgeState } | undefined;
  /** How to undo what was opened and started so far; run last first. */
  private readonly stops: Step[] = [];
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
    const { config, logger, clock, topics: t, nodes } = this;
    const startedAt = new Date(clock.now()).toISOString();
    const file = await openStateFile(config.state_dir, 'bridge.json', defaultBridgeState, parseBridgeState, logger);
    const state = new BridgeState(file.store, file.value);
    const interrupted = state.data.in_flight;

    let broker: EmbeddedBroker | undefined;
    if (config.mqtt.url === 'embedded') {
      const { username, password } = config.mqtt;
      const { host, port } = config.mqtt.embedded;
      broker = await startEmbeddedBroker(host, port, logger, { username, password });
      this.stops.push(['broker', () => broker?.close()]);
    }
    const board = await openBoard(config, this.deps, { clock, logger: logger.child({ part: 'board' }), nodes });
    this.stops.push(['board', () => board.close()]);

    const clientId = config.mqtt.client_id ?? `turingpi-${config.board.id}-bridge`;
    // With the embedded broker on port 0 (tests, several demos at once), the port it bound.
    const url = broker ? mqttUrl(broker.host, broker.port) : brokerUrl(config);
    const options = mqttClientOptions(config, clientId, { topic: t.bridgeState, payload: 'offline' });
    // Our own broker, just started, has no other bridge on it.
    if (!broker) {
      const mqttLogger = logger.child({ part: 'mqtt' });
      const { last_started_at: lastStartedAt } = state.data;
      const baseTopic = config.mqtt.base_topic;
      await refuseSecondBridge({ url, options, baseTopic, topics: t, clock, logger: mqttLogger, lastStartedAt });
    }
    const connection = new MqttConnection({
      url,
      options,
      logger: logger.child({ part: 'mqtt' }),
      clock,
      onConnect: () => this.onReconnect(),
      onDisconnect: () => this.parts?.feed.brokerConnection(false),
    });
    this.stops.push(['mqtt', () => connection.stop()]);
    await connection.start();
    this.stops.push(['offline', () => this.sayOffline(connection)]);
    logger.info(`connected to MQTT broker ${displayUrl(url)} as ${clientId}`);
    if (broker) {
      const watch = `mosquitto_sub -h ${broker.host} -p ${broker.port} -t '${config.mqtt.base_topic}/#' -v`;
      logger.info(`watch it with: ${watch}`);
    }
    const agentNodes = await openAgentNodes(config.state_dir, nodes, logger.child({ part: 'agents' }));
    this.opened = { board, connection, state };

    const parts = buildParts({
      config,
      clock,
      logger,
      topics: t,
      nodes,
      startedAt,
      state,
      board,
      connection,
      agentNodes,
    });
    this.parts = parts;
    // A hard reboot under way finishes (its node is switched back on) before we go.
    this.stops.push(['power', () => parts.power.stop()]);
    this.stops.push(['watchdog', () => parts.policies.watchdog?.stop()]);
    // Before anything can act on power: a restart must not take an agent node for an agentless one.
    await parts.feed.start();
    // First reading: state is published as the board has it; no power is changed (restore_on_start: keep).
    await parts.poller.poll();
    reportInterrupted(interrupted, parts.event);
    await state.update((d) => {
      d.in_flight = [];
      d.last_started_at = startedAt;
    });
    await connection.publishState(t.bridgeInfo, JSON.stringify(parts.info()));
    await parts.maintenance.start();
    if (parts.ha) {
      const { ha } = parts;
      this.stops.push(['home assistant', () => ha.stop()]);
      await ha.publishAtStart();
    }
    await subscribeCommands(parts.commands, { connection, event: parts.event, logger });
    await parts.ha?.subscribe();
    await connection.publishState(t.bridgeState, 'online');
    if (config.power.restore_on_start === 'last') {
      await restoreLast(state.data.commanded, nodes, parts.model, parts.power);
    }
    await parts.bmcLogin?.start();
    this.stops.push(['schedules', () => parts.schedules.stop()]);
    await parts.schedules.start();
    this.started = true;
    parts.poller.start();
    this.stops.push(['poll', () => parts.poller.stop()]);
    const { info } = board.driver;
    logger.info(`bridge online: ${info.model}, ${info.nodes} nodes, base topic ${config.mqtt.base_topic}`);
  }

  /** The broker is back: agents are heard again, and it may have published our will while we were away. */
  private async onReconnect(): Promise<void> {
    this.parts?.feed.brokerConnection(true);
    if (!this.started || !this.opened) return;
    await this.opened.connection.publishState(this.topics.bridgeState, 'online', { force: true });
  }

  private async sayOffline(connection: MqttConnection): Promise<void> {
    // A broker that went away just now would leave a QoS 1 publish waiting for ever: the will
    // says offline then, and the stop goes on.
    if (!connection.connected) return;
    const sent = connection.publish(this.topics.bridgeState, 'offline', { retain: true });
    await Promise.race([sent, sleep(systemClock, 1000)]);
  }

  // ---- what tests, the demo and the benchmark look at -------------------------------------

  private get running(): Parts {
    if (!this.parts) throw new Error('the bridge is not started');
    return this.parts;
  }

  get model(): NodeModel {
    return this.running.model;
  }

  get power(): PowerService {
    return this.running.power;
  }

  get board(): OpenedBoard {
    if (!this.opened) throw new Error('the bridge is not started');
    return this.opened.board;
  }

  get connection(): MqttConnection {
    if (!this.opened) throw new Error('the bridge is not started');
    return this.opened.connection;
  }

  get maintenance(): boolean {
    return this.running.maintenance.paused();
  }

  /** One poll now (what the poll loop does every poll_interval). */
  poll(): Promise<void> {
    return this.running.poller.poll();
  }

  status(): object {
    return this.running.status.status();
  }

  stop(): Promise<void> {
    this.stopped ??= this.doStop();
    return this.stopped;
  }

  private async doStop(): Promise<void> {
    this.started = false;
    for (const [name, step] of this.stops.reverse()) {
      try {
        await step();
      } catch (error) {
        this.logger.warn(`stopping ${name} failed: ${errorMessage(error)}`);
      }
    }
    this.logger.info('bridge stopped (node power unchanged)');
  }
}

export function createBridge(config: Config, deps: BridgeDeps = {}): BridgeApp {
  return new BridgeApp(config, deps);
}
