import type { BoardDeps, OpenedBoard } from '../board/factory.js';
import { resolveNodes, type ResolvedNode } from '../config/nodes.js';
import type { Config } from '../config/schema.js';
import type { MqttConnection } from '../mqtt/connection.js';
import { topics, type Topics } from '../mqtt/topics.js';
import type { PowerService } from '../power/power-service.js';
import { systemClock, type Clock } from '../util/clock.js';
import { TpmError, errorMessage } from '../util/errors.js';
import { createLogger, type Logger } from '../util/logger.js';
import { openBridge, type Stop } from './bridge-open.js';
import { buildParts, type Opened, type Parts } from './bridge-parts.js';
import { subscribeCommands } from './command-table.js';
import type { NodeModel } from './node-model.js';
import { keepHalted, releaseHalted, reportInterrupted, restoreLast } from './start-up.js';

export interface BridgeDeps extends BoardDeps {
  clock?: Clock;
  logger?: Logger;
  /** The file the config was read from, named where a message says what to run on it (`bmc trust -c`). */
  configFile?: string;
}

export interface Bridge {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The composition root of the bridge role (docs/ARCHITECTURE.md, "The bridge's parts"): opens
 * what the parts work on (bridge-open.ts), builds the parts (bridge-parts.ts), starts them in
 * order and stops everything in reverse. It owns no behaviour of its own.
 */
export class BridgeApp implements Bridge {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly topics: Topics;
  readonly nodes: ResolvedNode[];
  private opened: Opened | undefined;
  private parts: Parts | undefined;
  private readonly stops: Stop[] = [];
  private started = false;
  private stopped: Promise<void> | undefined;
  /** The start under way, which a stop waits for before undoing what it opened. */
  private starting: Promise<void> | undefined;
  /** Aborted by stop(): ends the start's waits for the broker. */
  private readonly stopRequested = new AbortController();

  constructor(
    readonly config: Config,
    private readonly deps: BridgeDeps = {},
  ) {
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? createLogger({ level: config.log.level, format: config.log.format });
    this.topics = topics(config.mqtt.base_topic);
    this.nodes = resolveNodes(config);
  }

  /**
   * Rejects with STOPPED when stop() comes first or meanwhile (docs/library.md): the stop then
   * ends whatever the start had opened, and waits for the broker no more.
   */
  async start(): Promise<void> {
    const stopped = (): TpmError => new TpmError('STOPPED', 'the bridge was stopped before it was started');
    if (this.stopped) throw stopped();
    this.starting ??= this.open();
    try {
      await this.starting;
    } catch (error) {
      throw this.stopRequested.signal.aborted ? new TpmError('STOPPED', stopped().message, { cause: error }) : error;
    }
    if (this.stopRequested.signal.aborted) throw stopped();
  }

  private async open(): Promise<void> {
    const { config, logger, clock, topics: t, nodes, stops } = this;
    const { signal } = this.stopRequested;
    const onConnect = (): Promise<void> => this.onReconnect();
    const onDisconnect = (): void => this.parts?.feed.brokerConnection(false);
    const boardDeps = this.deps;
    const opened = await openBridge({
      config,
      configFile: this.deps.configFile,
      boardDeps,
      clock,
      logger,
      topics: t,
      nodes,
      stops,
      onConnect,
      onDisconnect,
      signal,
    });
    this.opened = opened;
    // A stop asked for meanwhile: no further step (a power change least of all) is taken.
    signal.throwIfAborted();
    const { state, connection } = opened;
    const interrupted = state.data.in_flight;
    const parts = buildParts(opened);
    this.parts = parts;
    // Stops run last first: a schedule's run under way ends with the power service's stop, then
    // records its result in state_dir; the stop waits for that before the connection and the
    // board go (a service manager ends the process once the stop is done).
    stops.push(['schedule runs', () => parts.schedules.runsRecorded()]);
    // A hard reboot under way finishes (its node is switched back on) before we go.
    stops.push(['power', () => parts.power.stop()]);
    stops.push(['watchdog', () => parts.policies.watchdog?.stop()]);
    // Before anything can act on power: a restart must not take an agent node for an agentless one.
    await parts.feed.start();
    // First reading: state is published as the board has it; no power is changed (restore_on_start: keep).
    await parts.poller.poll();
    reportInterrupted(interrupted, parts.event);
    const watched = { tracker: parts.tracker, watchdog: parts.policies.watchdog };
    const halted = keepHalted(interrupted, watched, (n) => parts.model.power(n));
    const publishedNodes = await parts.nodePublisher.clearRetired(state.data.published_nodes);
    await state.update((d) => {
      d.in_flight = halted;
      d.last_started_at = opened.startedAt;
      d.published_nodes = publishedNodes;
    });
    releaseHalted(halted, parts.model, state);
    await connection.publishState(t.bridgeInfo, JSON.stringify(parts.info()));
    await parts.maintenance.start();
    const { ha } = parts;
    if (ha) stops.push(['home assistant', () => ha.stop()]);
    await ha?.publishAtStart();
    // Each step that can act (take commands, say online, change power, log in to the BMC, run a
    // schedule's catch-up) is taken only while no stop was asked for.
    signal.throwIfAborted();
    await subscribeCommands(parts.commands, { connection, event: parts.event, logger });
    await ha?.subscribe();
    signal.throwIfAborted();
    await connection.publishState(t.bridgeState, 'online');
    signal.throwIfAborted();
    if (config.power.restore_on_start === 'last') await restoreLast(state.data.commanded, nodes, parts, signal);
    signal.throwIfAborted();
    await parts.bmcLogin?.start();
    signal.throwIfAborted();
    stops.push(['schedules', () => parts.schedules.stop()]);
    await parts.schedules.start();
    signal.throwIfAborted();
    this.started = true;
    parts.poller.start();
    stops.push(['poll', () => parts.poller.stop()]);
    const { info } = opened.board.driver;
    logger.info(`bridge online: ${info.model}, ${info.nodes} nodes, base topic ${config.mqtt.base_topic}`);
  }

  /** The broker is back: agents are heard again, and it may have published our will while we were away. */
  private async onReconnect(): Promise<void> {
    this.parts?.feed.brokerConnection(true);
    if (!this.started || !this.opened) return;
    await this.opened.connection.publishState(this.topics.bridgeState, 'online', { force: true });
    // Discovery that changed while the broker was away (e.g. what the BMC told meanwhile) is sent
    // now; with nothing pending this publishes nothing.
    await this.parts?.ha?.refresh();
  }

  stop(): Promise<void> {
    this.stopped ??= this.doStop();
    return this.stopped;
  }

  private async doStop(): Promise<void> {
    this.started = false;
    // A start under way gives up at its next step (at once if it waits for the broker); what it
    // opened until then is in `stops`, undone below with the rest.
    this.stopRequested.abort();
    // The power service first, before waiting for that start: it may be switching nodes
    // (restore_on_start: last, one on_stagger apart) or taking commands; from now on it refuses
    // every new action and ends its waits (a hard reboot under way still finishes).
    const powerStopped = this.parts?.power.stop();
    // No schedule starts a run from now on (a start's catch-up included): the power service would
    // refuse it, and it would be recorded as done, never to be made up.
    const schedulesStopped = this.parts?.schedules.stop();
    await this.starting?.catch(() => undefined);
    await powerStopped;
    await schedulesStopped;
    for (const [name, stop] of [...this.stops].reverse()) {
      try {
        await stop();
      } catch (error) {
        this.logger.warn(`stopping ${name} failed: ${errorMessage(error)}`);
      }
    }
    this.logger.info('bridge stopped (node power unchanged)');
  }

  // ---- what tests, the demo and the benchmark look at -------------------------------------

  // Two getters, not one object spreading both: the library's poll() went through here, and the
  // spread made 10 KiB of garbage per call.
  private get runningOpened(): Opened {
    if (!this.opened || !this.parts) throw new Error('the bridge is not started');
    return this.opened;
  }

  private get runningParts(): Parts {
    if (!this.opened || !this.parts) throw new Error('the bridge is not started');
    return this.parts;
  }

  get model(): NodeModel {
    return this.runningParts.model;
  }

  get power(): PowerService {
    return this.runningParts.power;
  }

  get board(): OpenedBoard {
    return this.runningOpened.board;
  }

  get connection(): MqttConnection {
    return this.runningOpened.connection;
  }

  get maintenance(): boolean {
    return this.runningParts.maintenance.paused();
  }

  /** One poll now (what the poll loop does every poll_interval). */
  poll(): Promise<void> {
    return this.runningParts.poller.poll();
  }

  status(): object {
    return this.runningParts.status.status();
  }
}

export function createBridge(config: Config, deps: BridgeDeps = {}): BridgeApp {
  return new BridgeApp(config, deps);
}
