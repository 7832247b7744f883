import { displayUrl } from '../util/redact.js';
import {
  describeFailure,
  describePublicFailure,
  describePublicSpawnError,
  parseAgentCommand,
  spawnRunner,
  type AgentAction,
  type CommandRunner,
  type RunResult,
} from '../agent/command.js';
import { commandJournal, leftoverReason } from '../agent/journal.js';
import { defaultSystemInfo, type SystemInfoSource } from '../agent/system-info.js';
import { changedMeaningfully, TelemetrySampler, type Telemetry } from '../agent/telemetry.js';
import { agentNodeMissing } from '../config/agent-node.js';
import type { Config } from '../config/schema.js';
import { MqttConnection } from '../mqtt/connection.js';
import { brokerUrl, mqttClientOptions } from '../mqtt/options.js';
import { topics } from '../mqtt/topics.js';
import { raceTimer, systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { formatDuration } from '../config/duration.js';
import { TpmError, errorMessage } from '../util/errors.js';
import { createLogger, type Logger } from '../util/logger.js';
import type { AgentState } from '../agent/state.js';
import { isoTime } from '../util/iso-time.js';

export interface AgentDeps {
  systemInfo?: SystemInfoSource;
  run?: CommandRunner;
  clock?: Clock;
  logger?: Logger;
  /**
   * Where the command journal is kept (docs/agent.md, "When the agent is restarted"): the CLI
   * passes systemd's `$RUNTIME_DIRECTORY`. Without one, a restart forgets a command under way.
   */
  journalDir?: string;
}

export interface Agent {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The non-retained JSON on `<b>/node/<n>/agent/event` when a command's argv failed. */
export interface AgentEvent {
  time: string;
  type: 'command';
  action: AgentAction;
  result: 'error';
  error: string;
}

/** The default client id (docs/configuration.md): one per node, so agents never kick each other off. */
export function agentClientId(config: Config, node: number): string {
  return config.mqtt.client_id ?? `turingpi-${config.board.id}-agent-${node}`;
}

const MAX_COMMAND_BYTES = 1024;

class CommandTimeout extends Error {}

/**
 * The agent role (docs/agent.md): publishes this node's health and shuts its OS
 * down or reboots it on the bridge's command, by the configured argv only.
 */
export function createAgent(config: Config, deps: AgentDeps = {}): Agent {
  const node = config.agent.node;
  // The ConfigError of checkAgentConfig (the CLI's and validate's check): a program handles both alike.
  if (node === null) throw agentNodeMissing();
  const clock = deps.clock ?? systemClock;
  // Without a logger of the program's, as the CLI and createBridge: the config's `log` section.
  const given = deps.logger ?? createLogger({ level: config.log.level, format: config.log.format });
  const logger = given.child({ role: 'agent', node });
  // The argv may be a drain script; the bridge waits no longer than graceful_timeout anyway.
  const commandTimeoutMs = config.power.graceful_timeout;
  const run = deps.run ?? spawnRunner(commandTimeoutMs);
  const t = topics(config.mqtt.base_topic);
  const stateTopic = t.agentState(node);
  const telemetryTopic = t.agentTelemetry(node);
  const commandTopic = t.agentCommand(node);
  const eventTopic = t.agentEvent(node);

  const journal = commandJournal(deps.journalDir, node);
  /** An error event the broker has not acknowledged (it was away): sent again at the reconnection. */
  let pendingEvent: AgentEvent | undefined;

  const connection = new MqttConnection({
    url: brokerUrl(config),
    options: mqttClientOptions(config, agentClientId(config, node), { topic: stateTopic, payload: 'offline' }),
    logger,
    clock,
    onConnect: () => {
      if (pendingEvent && !stopped) void sendEvent(pendingEvent);
    },
  });

  let sampler: TelemetrySampler | undefined;
  let lastPublished: Telemetry | undefined;
  let sampleTimer: TimerHandle | undefined;
  let running = false;
  let stopped = false;
  let commandRunning = false;
  /**
   * Set once an argv succeeded: the OS is going down, and a second command would run an argv
   * again (a REBOOT failing mid-shutdown even said `online`). Cleared when the OS is still up
   * graceful_timeout later (a cancelled `shutdown +5`, a script that did nothing).
   */
  let goingDown: { action: AgentAction; timer: TimerHandle } | undefined;

  /** The journal is a help, not a condition: a full or read-only /run costs the report, not the command. */
  const note = async (what: string, change: () => Promise<void>): Promise<void> => {
    try {
      await change();
    } catch (error) {
      logger.warn(`command journal ${journal.file ?? ''}: ${what} failed: ${errorMessage(error)}`);
    }
  };

  const eventOf = (action: AgentAction, reason: string): AgentEvent => ({
    time: isoTime(clock.now()),
    type: 'command',
    action,
    result: 'error',
    error: reason,
  });

  /** Resolves when acknowledged or failed (kept for the reconnection then): the journal entry goes with the ack. */
  const sendEvent = async (event: AgentEvent): Promise<void> => {
    try {
      await connection.publish(eventTopic, JSON.stringify(event), { retain: false, qos: 1 });
      if (pendingEvent === event) pendingEvent = undefined;
      if (!commandRunning && !goingDown && !pendingEvent) await note('clearing', journal.clear);
    } catch (error) {
      pendingEvent = event;
      logger.warn(`publishing the command error event failed (sent again when reconnected): ${errorMessage(error)}`);
    }
  };

  const setState = async (state: AgentState): Promise<void> => {
    try {
      await connection.publishState(stateTopic, state);
    } catch (error) {
      logger.warn(`publishing agent state ${state} failed: ${errorMessage(error)}`);
    }
  };

  const sampleOnce = async (): Promise<void> => {
    if (!sampler) return;
    const telemetry = await sampler.sample();
    if (!changedMeaningfully(lastPublished, telemetry)) return;
    lastPublished = telemetry;
    // Through publishState: retained, and republished after a reconnection.
    await connection.publishState(telemetryTopic, JSON.stringify(telemetry));
  };

  const scheduleSample = (): void => {
    if (!running) return;
    sampleTimer = clock.setTimeout(() => {
      sampleTimer = undefined;
      void sampleOnce()
        .catch((error: unknown) => logger.error(`telemetry sample failed: ${errorMessage(error)}`))
        .finally(scheduleSample);
    }, config.agent.interval);
  };

  const timeoutText = `did not finish within ${Math.round(commandTimeoutMs / 1000)}s`;
  const runWithTimeout = (argv: string[]): Promise<RunResult> =>
    raceTimer(clock, commandTimeoutMs, run([...argv]), () => {
      throw new CommandTimeout(`${JSON.stringify(argv)} ${timeoutText}`);
    });

  const execute = async (action: AgentAction): Promise<void> => {
    // The argv comes from the config only; nothing of the payload reaches it.
    const argv = action === 'shutdown' ? config.agent.shutdown_command : config.agent.reboot_command;
    commandRunning = true;
    logger.info(`${action.toUpperCase()} received: running ${JSON.stringify(argv)}`);
    // Before anything is run: an agent restarted from here on reports the command, never runs it again.
    await note('writing', () => journal.write(action, 'running'));
    await setState('shutting_down');
    let failure: string | undefined;
    let published = ''; // the reason on agent/event: never the argv
    try {
      const result = await runWithTimeout(argv);
      if (result.code !== 0) {
        failure = describeFailure(argv, result);
        published = describePublicFailure(action, argv, result);
      }
    } catch (error) {
      failure =
        error instanceof CommandTimeout
          ? error.message
          : `${JSON.stringify(argv)} could not be run: ${errorMessage(error)}`;
      published =
        error instanceof CommandTimeout
          ? `the ${action} command ${timeoutText}`
          : describePublicSpawnError(action, error);
    } finally {
      commandRunning = false;
    }
    if (failure === undefined) {
      // The OS is going down: it stops this process, and the clean offline (SIGTERM) or the
      // last will tells the bridge. Until then the state stays shutting_down.
      await note('writing', () => journal.write(action, 'succeeded'));
      logger.info(`${action} command accepted by the system; waiting for the OS to stop the agent`);
      if (!stopped) goingDown = { action, timer: clock.setTimeout(() => void stillUp(action, argv), commandTimeoutMs) };
      return;
    }
    // As the OS goes down, systemd stops the unit's whole cgroup: this process and the command
    // it started. A command ended so is no failed shutdown (nor is one a person's stop ended).
    if (stopped) {
      logger.info(`${action} command ended as the agent was stopped (${failure})`);
      return;
    }
    logger.error(`${action} failed: ${failure}`);
    await reportAndComeBack(action, published);
  };

  /** The argv succeeded but the OS did not go down: say so, and take commands again. */
  const stillUp = async (action: AgentAction, argv: string[]): Promise<void> => {
    goingDown = undefined;
    if (stopped) return;
    const after = `the OS is still up ${formatDuration(commandTimeoutMs)} after`;
    const back = 'succeeded: back online, taking commands again';
    logger.warn(`${action}: ${after} ${JSON.stringify(argv)} ${back}`);
    await reportAndComeBack(action, `${after} the ${action} command ${back}`);
  };

  /** `reason` goes to MQTT: it never holds the argv (the log does). */
  const reportAndComeBack = async (action: AgentAction, reason: string): Promise<void> => {
    if (stopped) return;
    // The reason is sent before `online`: the bridge ends its sequence at whichever comes
    // first, and only the event says why. One client's QoS 1 messages arrive in the order they
    // were handed to the client, so the event is not awaited first. While the broker is away
    // the event fails at once and is kept: it goes out at the reconnection, after `online`.
    // Journalled until acknowledged, so a restart meanwhile still reports it.
    await note('writing', () => journal.write(action, 'failed', reason));
    const sent = sendEvent(eventOf(action, reason));
    await setState('online');
    await sent;
  };

  const onCommand = (_topic: string, payload: Buffer, packet: { retain?: boolean }): void => {
    // Empty: a retained command being cleared (the warning below says how), not a command.
    if (payload.length === 0) return;
    const shown = JSON.stringify(payload.subarray(0, 64).toString('utf8'));
    if (packet.retain) {
      // docs/topics.md: a stale retained command is never acted on.
      logger.warn(
        `ignored a retained command ${shown} on ${commandTopic}: commands are never taken from retained messages`,
      );
      return;
    }
    const action = payload.length > MAX_COMMAND_BYTES ? undefined : parseAgentCommand(payload.toString('utf8'));
    if (!action) {
      logger.warn(`ignored unknown command ${shown} on ${commandTopic} (expected SHUTDOWN or REBOOT)`);
      return;
    }
    if (commandRunning) {
      logger.warn(`ignored ${action.toUpperCase()}: a command is already running`);
      return;
    }
    if (goingDown) {
      logger.warn(`ignored ${action.toUpperCase()}: the OS is going down (its ${goingDown.action} command succeeded)`);
      return;
    }
    if (stopped) return;
    void execute(action).catch((error: unknown) => logger.error(`${action} failed: ${errorMessage(error)}`));
  };

  return {
    async start() {
      // One life per agent: after stop() a new createAgent() is needed (as after a reboot).
      const stoppedBefore = (cause?: unknown): TpmError =>
        new TpmError('STOPPED', `the agent of node ${node} was stopped before it was started`, { cause });
      if (stopped) throw stoppedBefore();
      if (running) return;
      running = true;
      sampler = new TelemetrySampler(deps.systemInfo ?? defaultSystemInfo(), clock, logger);
      let leftover;
      try {
        leftover = await journal.leftover();
      } catch (error) {
        logger.warn(`command journal ${journal.file ?? ''}: reading failed: ${errorMessage(error)}`);
      }
      // Retain As Published (MQTT 5): a command published retained now is refused, not run.
      await connection.subscribe(commandTopic, onCommand, { retainAsPublished: true });
      // Held by the connection and (re)published on every connection, after the will. After a
      // restart in the middle of a command, only once its report is out: a bridge that sees
      // `online` may send a new command, and must not take the old report for its answer.
      if (!leftover) await connection.publishState(stateTopic, 'online');
      logger.info(`agent of node ${node} connecting to ${displayUrl(brokerUrl(config))}`);
      try {
        await connection.start();
      } catch (error) {
        // A stop() while the broker was awaited (docs/library.md): that wait was given up.
        throw stopped ? stoppedBefore(error) : error;
      }
      if (stopped) throw stoppedBefore();
      if (leftover) {
        const reason = leftoverReason(leftover);
        logger.warn(`${leftover.action} command of the agent's previous run: ${reason}`);
        await sendEvent(eventOf(leftover.action, reason));
        await setState('online');
      }
      logger.info(`agent of node ${node} online`);
      try {
        await sampleOnce();
      } catch (error) {
        logger.error(`telemetry sample failed: ${errorMessage(error)}`);
      }
      if (stopped) throw stoppedBefore();
      scheduleSample();
    },

    async stop() {
      if (stopped) return;
      stopped = true;
      running = false;
      clock.clearTimeout(sampleTimer);
      sampleTimer = undefined;
      clock.clearTimeout(goingDown?.timer);
      goingDown = undefined;
      // A clean offline: the broker drops the will on a clean disconnect, so we say it ourselves.
      await setState('offline');
      await connection.stop();
      logger.info(`agent of node ${node} stopped`);
    },
  };
}
