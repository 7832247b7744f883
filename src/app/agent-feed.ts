import { parseAgentState } from '../agent/state.js';
import type { ResolvedNode } from '../config/nodes.js';
import type { MqttConnection } from '../mqtt/connection.js';
import { nodeFromTopic, type Topics } from '../mqtt/topics.js';
import type { AgentNodes } from '../power/agent-nodes.js';
import type { AgentTracker } from '../power/agents.js';
import { sleep, systemClock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { Policies } from './bridge-policies.js';
import type { EventSink } from './event-sink.js';
import type { NodeModel } from './node-model.js';

/** The longest the start waits for the broker to hand over the agents' retained states. */
const AGENT_STATES_WAIT_MS = 5000;

/** Bigger agent events and telemetry are not ours: ignored unread. */
const MAX_AGENT_MESSAGE_BYTES = 4096;

/**
 * How the agent tracker sends SHUTDOWN and REBOOT: `node/<n>/agent/command`, QoS 1, not
 * retained (an agent must never act on a stale command). The other half of the agents' topics.
 */
export function agentCommands(connection: MqttConnection, topics: Topics) {
  return (node: number, word: 'SHUTDOWN' | 'REBOOT'): Promise<void> =>
    connection.publish(topics.agentCommand(node), word);
}

export interface AgentFeedDeps {
  connection: MqttConnection;
  topics: Topics;
  nodes: ResolvedNode[];
  agentNodes: AgentNodes;
  /** Present where any node may run an agent. */
  tracker: AgentTracker | undefined;
  model: NodeModel;
  policies: Policies;
  logger: Logger;
  event: EventSink;
}

/**
 * What the agents say, to whom it concerns (docs/agent.md): `node/<n>/agent/state` to the agent
 * nodes (an auto node's agent seen), the tracker (graceful sequences), the watchdog and the node
 * model (a starting node is on once its agent is online) and the thermal policy (only an online
 * agent's readings count); `agent/event` failures to the tracker;
 * `agent/telemetry` temperatures to the thermal policy. And the broker's loss and return, which
 * make every agent unknown until its retained state comes again.
 */
export class AgentFeed {
  constructor(private readonly deps: AgentFeedDeps) {
    deps.agentNodes.listen((n, isAgentNode, reason) => this.agentNodeChanged(n, isAgentNode, reason));
  }

  /**
   * Subscribes to the agents' own topics (every node not set to `agent: false`) and resolves
   * once their retained states are in: before it, no power action may run, or a restart could
   * take an agent node for an agentless one and cut power under its OS.
   */
  async start(): Promise<void> {
    const { connection, topics, nodes, agentNodes, logger } = this.deps;
    if (!nodes.some((n) => agentNodes.listensTo(n.number))) return;
    await connection.subscribe(topics.agentStateWildcard, (topic, payload) => this.onState(topic, payload));
    await connection.subscribe(topics.agentEventWildcard, (topic, payload) => this.onEvent(topic, payload));
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
      logger.warn(`the broker did not answer within ${AGENT_STATES_WAIT_MS} ms: going on without the agents' states`);
    }
  }

  /** Lost broker: agents are unknown and the policies pause (offline_after starts again at the reconnection). */
  brokerConnection(connected: boolean): void {
    const { tracker, policies } = this.deps;
    if (!connected) tracker?.connectionLost();
    policies.watchdog?.brokerConnection(connected);
    policies.thermal?.brokerConnection(connected);
  }

  /** A node became an agent node (its agent was seen) or stopped being one (the watchdog gave up on it). */
  private agentNodeChanged(node: number, isAgentNode: boolean, reason: string): void {
    this.deps.event({
      type: 'agent',
      node,
      source: isAgentNode ? 'mqtt' : 'policy',
      result: 'ok',
      message: isAgentNode
        ? `node ${node} is an agent node: ${reason}`
        : `node ${node} counts as agentless until its agent is seen again: ${reason}`,
    });
  }

  private agentNode(topic: string, suffix: string): number | undefined {
    const n = nodeFromTopic(this.deps.topics, topic, suffix);
    return n !== undefined && this.deps.agentNodes.listensTo(n) ? n : undefined;
  }

  private onState(topic: string, payload: Buffer): void {
    const n = this.agentNode(topic, 'agent/state');
    const status = parseAgentState(payload.toString());
    if (n === undefined || status === undefined) return;
    const { agentNodes, tracker, policies, model } = this.deps;
    agentNodes.observed(n, status);
    tracker?.update(n, status);
    policies.watchdog?.agentState(n, status);
    policies.thermal?.agentState(n, status);
    if (status === 'online') model.agentOnline(n);
  }

  private onEvent(topic: string, payload: Buffer): void {
    const n = this.agentNode(topic, 'agent/event');
    if (n === undefined || payload.length > MAX_AGENT_MESSAGE_BYTES) return;
    try {
      const event = JSON.parse(payload.toString()) as { result?: unknown; error?: unknown };
      if (event.result === 'error' && typeof event.error === 'string')
        this.deps.tracker?.reportFailure(n, `the agent reports: ${event.error.slice(0, 300)}`);
    } catch {
      // not an agent of ours: ignored
    }
  }

  private onTelemetry(topic: string, payload: Buffer): void {
    const n = this.agentNode(topic, 'agent/telemetry');
    const { thermal } = this.deps.policies;
    if (n === undefined || !thermal || payload.length > MAX_AGENT_MESSAGE_BYTES) return;
    if (!this.deps.agentNodes.isAgentNode(n)) return;
    try {
      const { temperature } = JSON.parse(payload.toString()) as { temperature?: unknown };
      void thermal.temperature(n, typeof temperature === 'number' ? temperature : null);
    } catch {
      // malformed telemetry: ignored
    }
  }
}
