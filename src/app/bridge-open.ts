import { openBoard, type BoardDeps } from '../board/factory.js';
import type { ResolvedNode } from '../config/nodes.js';
import type { Config } from '../config/schema.js';
import { MqttConnection } from '../mqtt/connection.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../mqtt/embedded-broker.js';
import { brokerUrl, mqttClientOptions, mqttUrl } from '../mqtt/options.js';
import type { Topics } from '../mqtt/topics.js';
import { AGENTS_SEEN_FILE, openAgentNodes } from '../power/agent-nodes.js';
import { SCHEDULES_STATE_FILE } from '../schedule/schedule-state.js';
import { refuseNewerStateFile } from '../state/store.js';
import { settledWithin, systemClock, type Clock } from '../util/clock.js';
import { TpmError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { displayUrl } from '../util/redact.js';
import type { Opened } from './bridge-parts.js';
import { BridgeState, defaultBridgeState, parseBridgeState } from './bridge-state.js';
import { refuseSecondBridge } from './second-bridge.js';
import { openStateFile, proveWritable } from './state-file.js';
import { isoTime } from '../util/iso-time.js';

/** How to undo one thing opened or started: stops run last first. */
export type Stop = [name: string, stop: () => Promise<void> | void];

export interface OpenOptions {
  config: Config;
  /** The file the config was read from, if any (for messages: `bmc trust -c FILE`). */
  configFile?: string | undefined;
  boardDeps: BoardDeps;
  clock: Clock;
  logger: Logger;
  topics: Topics;
  nodes: ResolvedNode[];
  /** The connection's callbacks: after every (re)connection, and on a loss. */
  onConnect(): Promise<void> | void;
  onDisconnect(): void;
  /** Where each thing opened leaves its stop, at once: a start that fails half way undoes what it opened. */
  stops: Stop[];
  /** The bridge's stop() before the start is done: the waits for the broker end, and no more is opened. */
  signal: AbortSignal;
}

/**
 * Opens what the bridge's parts work on, in order: the state file, the embedded broker (if
 * asked for), the board, the MQTT connection (after the one-bridge check), the agent nodes.
 */
export async function openBridge(o: OpenOptions): Promise<Opened> {
  const { config, clock, logger, topics, nodes, stops, signal } = o;
  const startedAt = isoTime(clock.now());
  const { state_dir: dir } = config;
  const file = await openStateFile(dir, 'bridge.json', defaultBridgeState, parseBridgeState, logger, 1);
  // Those loaded later too: a start that fails on one of them may have switched power already.
  for (const name of [SCHEDULES_STATE_FILE, AGENTS_SEEN_FILE]) await refuseNewerStateFile(dir, name, 1);
  file.value.board_id = ownBoardState(dir, file.value.board_id, config.board.id);
  await proveWritable(dir, () => file.store.save(file.value));
  const state = new BridgeState(file.store, file.value);

  let broker: EmbeddedBroker | undefined;
  if (config.mqtt.url === 'embedded') {
    const { username, password } = config.mqtt;
    const { host, port } = config.mqtt.embedded;
    const started = await startEmbeddedBroker(host, port, logger, { username, password });
    stops.push(['broker', () => started.close()]);
    broker = started;
  }
  signal.throwIfAborted();
  const boardContext = { clock, logger: logger.child({ part: 'board' }), nodes, configFile: o.configFile };
  const board = await openBoard(config, o.boardDeps, boardContext);
  stops.push(['board', () => board.close()]);
  signal.throwIfAborted();

  const clientId = config.mqtt.client_id ?? `turingpi-${config.board.id}-bridge`;
  // With the embedded broker on port 0 (tests, several demos at once), the port it bound.
  const url = broker ? mqttUrl(broker.host, broker.port) : brokerUrl(config);
  const options = mqttClientOptions(config, clientId, { topic: topics.bridgeState, payload: 'offline' });
  const mqttLogger = logger.child({ part: 'mqtt' });
  // Our own broker, just started, has no other bridge on it.
  if (!broker) {
    const { last_started_at: lastStartedAt } = state.data;
    const baseTopic = config.mqtt.base_topic;
    const check = { url, options, baseTopic, topics, clock, logger: mqttLogger, lastStartedAt, signal };
    await refuseSecondBridge(check);
  }
  const { onConnect, onDisconnect } = o;
  const connection = new MqttConnection({ url, options, logger: mqttLogger, clock, onConnect, onDisconnect });
  stops.push(['mqtt', () => connection.stop()]);
  await connection.start(false, signal);
  stops.push(['offline', () => sayOffline(connection, topics)]);
  logger.info(`connected to MQTT broker ${displayUrl(url)} as ${clientId}`);
  if (broker) logger.info(`watch it with: ${watchCommand(broker, config.mqtt)}`);
  const agentNodes = await openAgentNodes(config.state_dir, nodes, logger.child({ part: 'agents' }));
  return { config, clock, logger, topics, nodes, startedAt, state, board, connection, agentNodes };
}

/** `bridge/state offline`, retained, at a stop (the will says it when the bridge dies). */
async function sayOffline(connection: MqttConnection, topics: Topics): Promise<void> {
  // A broker that went away just now would leave a QoS 1 publish waiting for ever: the will
  // says offline then, and the stop goes on.
  if (!connection.connected) return;
  // Real time, whatever clock the bridge has: a fake one would never end the wait.
  await settledWithin(systemClock, 1000, connection.publish(topics.bridgeState, 'offline', { retain: true }));
}

/**
 * The mosquitto_sub line that watches the built-in broker: a broker listening on every address
 * (0.0.0.0, ::) is reached on loopback, and one with a user asks for it (the password stays a
 * placeholder: it never goes into a log).
 */
export function watchCommand(
  broker: { host: string; port: number },
  mqtt: { base_topic: string; username: string | null; password: string | null },
): string {
  const host = broker.host === '0.0.0.0' ? '127.0.0.1' : broker.host === '::' ? '::1' : broker.host;
  const user =
    mqtt.username === null ? '' : ` -u ${mqtt.username}${mqtt.password === null ? '' : " -P '<mqtt.password>'"}`;
  return `mosquitto_sub -h ${host} -p ${broker.port}${user} -t '${mqtt.base_topic}/#' -v`;
}

/**
 * The board.id kept in state_dir/bridge.json, which must be this bridge's: two boards' bridges
 * on one state_dir (two units given the same directory) would restore each other's power, report
 * each other's interrupted actions and clear each other's Home Assistant entities.
 */
function ownBoardState(dir: string, kept: string | null, ours: string): string {
  if (kept === null || kept === ours) return ours;
  throw new TpmError(
    'STATE',
    `state_dir ${dir} holds the state of board "${kept}" (board.id), not of this board "${ours}": give each ` +
      `board a state_dir of its own. If you renamed board.id, move ${dir}/bridge.json away (this board then ` +
      'starts from defaults). Nothing was changed',
  );
}
