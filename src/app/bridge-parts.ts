import type { OpenedBoard } from '../board/factory.js';
import type { ResolvedNode } from '../config/nodes.js';
import type { Config } from '../config/schema.js';
import type { MqttConnection } from '../mqtt/connection.js';
import type { Topics } from '../mqtt/topics.js';
import type { AgentNodes } from '../power/agent-nodes.js';
import { AgentTracker } from '../power/agents.js';
import { PowerService } from '../power/power-service.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { AgentFeed, agentCommands } from './agent-feed.js';
import { BmcLoginReporter } from './bmc-login.js';
import { BoardClock } from './board-clock.js';
import { BoardControls } from './board-controls.js';
import { BoardExtras } from './board-extras.js';
import { BoardFacts } from './board-facts.js';
import { bridgeInfo } from './bridge-info.js';
import { buildPolicies, type Policies } from './bridge-policies.js';
import type { BridgeState } from './bridge-state.js';
import type { CommandTable } from './command-table.js';
import { eventSink, type EventSink } from './event-sink.js';
import { HaPublisher } from './ha-publisher.js';
import { Maintenance } from './maintenance.js';
import { NodeCommands } from './node-commands.js';
import { NodeModel } from './node-model.js';
import { NodePublisher } from './node-publisher.js';
import { Poller, type PollPart } from './poller.js';
import { requestCommand } from './request-table.js';
import { RtcMonitor } from './rtc-monitor.js';
import { Schedules } from './schedules.js';
import { BridgeStatus } from './status.js';
import { VERSION } from './version.js';

/** What the bridge opened before its parts are built: the state file, the board, the broker connection. */
export interface Opened {
  config: Config;
  clock: Clock;
  logger: Logger;
  topics: Topics;
  nodes: ResolvedNode[];
  startedAt: string;
  state: BridgeState;
  board: OpenedBoard;
  connection: MqttConnection;
  agentNodes: AgentNodes;
}

/** The bridge's parts, each with its collaborators named (docs/ARCHITECTURE.md, "The parts"). */
export interface Parts {
  event: EventSink;
  model: NodeModel;
  nodePublisher: NodePublisher;
  power: PowerService;
  tracker: AgentTracker | undefined;
  maintenance: Maintenance;
  policies: Policies;
  feed: AgentFeed;
  schedules: Schedules;
  bmcLogin: BmcLoginReporter | undefined;
  ha: HaPublisher | undefined;
  poller: Poller;
  status: BridgeStatus;
  /** Every command topic, `bridge/request/#` among them. */
  commands: CommandTable;
  info(): ReturnType<typeof bridgeInfo>;
}

/** Builds every part of the bridge from what was opened; nothing is started here. */
export function buildParts(opened: Opened): Parts {
  const { config, clock, logger, topics, nodes, state, board, connection, agentNodes } = opened;
  const { driver } = board;
  const info = (): ReturnType<typeof bridgeInfo> => bridgeInfo(config, driver.info, opened.startedAt);
  const event = eventSink({ clock, logger, connection, topic: topics.bridgeEvent });

  const tracker = nodes.some((n) => n.agent !== false)
    ? new AgentTracker(clock, agentCommands(connection, topics))
    : undefined;
  const isAgentNode = agentNodes.isAgentNode.bind(agentNodes);
  const model = new NodeModel(nodes, clock, {
    isAgentNode,
    status: tracker ? tracker.status.bind(tracker) : () => 'unknown',
  });
  const published = new Set(nodes.filter((n) => n.enabled).map((n) => n.number));
  const nodePublisher = new NodePublisher({ connection, topics, logger, driver, published });
  model.listen(nodePublisher);
  const power = new PowerService({
    driver,
    nodes,
    power: config.power,
    clock,
    logger: logger.child({ part: 'power' }),
    view: model,
    event,
    journal: state,
    ...(tracker ? { agents: tracker } : {}),
    isAgentNode,
  });
  const maintenance = new Maintenance({ state, connection, topics, event });
  const isPaused = maintenance.paused;
  const policies = buildPolicies({ config, clock, agentNodes, power, event, isPaused, state, logger });
  // The watchdog hears every power change and every deliberate down from the node model.
  if (policies.watchdog) model.listen(policies.watchdog);
  // A node that got hot during maintenance may publish nothing more (the agent publishes changes only).
  const { thermal } = policies;
  if (thermal)
    maintenance.listen((on) => {
      if (!on) void thermal.maintenanceEnded();
    });
  const feed = new AgentFeed({ connection, topics, nodes, agentNodes, tracker, model, policies, logger, event });

  const rtc = driver.info.hasRtc ? new RtcMonitor(driver, clock) : undefined;
  const boardClock = new BoardClock({ rtc, connection, topics, clock, event, logger });
  const schedules = new Schedules({ config, nodes, power, connection, topics, clock, logger, event, isPaused });
  const nodeCommands = new NodeCommands({ nodes, topics, power, event });
  const bmcLogin = driver.login ? new BmcLoginReporter({ driver, connection, topics, event }, driver.login) : undefined;
  const extras: PollPart[] = [];
  const boardExtras = new BoardExtras(driver, nodes, connection, topics, clock);
  if (boardExtras.active) extras.push(boardExtras);
  const controls =
    driver.setFanLevel || driver.setUsb ? new BoardControls({ driver, connection, topics, event }) : undefined;
  if (controls) extras.push(controls);

  const ha =
    config.homeassistant.enabled || Object.keys(state.data.discovery).length > 0
      ? new HaPublisher(
          {
            config,
            nodes: () => agentNodes.resolved(),
            board: driver.info,
            version: VERSION,
            schedules: () => schedules.names(),
            connection,
            clock,
            logger: logger.child({ part: 'homeassistant' }),
            previousIndex: state.data.discovery,
            saveIndex: (index) =>
              state.update((d) => {
                d.discovery = index;
              }),
          },
          () => connection.republishAll(),
        )
      : undefined;
  // A node becoming or ceasing to be an agent node changes its Home Assistant device.
  if (ha) agentNodes.listen(() => void ha.refresh());
  const facts = new BoardFacts({ driver, connection, topics, logger, info, ha });
  const poller = new Poller({
    board,
    nodes,
    model,
    connection,
    topics,
    clock,
    logger,
    event,
    intervalMs: config.board.poll_interval,
    extras,
    boardClock,
    followers: bmcLogin ? [facts, bmcLogin] : [facts],
  });
  const status = new BridgeStatus({ nodes, model, agentNodes, tracker, poller, maintenance, schedules, info, driver });

  const requests = {
    ...nodeCommands.requests(),
    ...status.requests(),
    ...boardClock.requests(),
    ...schedules.requests(),
    ...bmcLogin?.requests(),
  };
  const commands: CommandTable = {
    ...nodeCommands.commands(),
    [topics.requestWildcard]: requestCommand(requests, { connection, topics, event }),
    ...boardClock.commands(),
    ...maintenance.commands(),
    ...controls?.commands(),
    ...schedules.commands(),
  };
  return {
    event,
    model,
    nodePublisher,
    power,
    tracker,
    maintenance,
    policies,
    feed,
    schedules,
    bmcLogin,
    ha,
    poller,
    status,
    commands,
    info,
  };
}
