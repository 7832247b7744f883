import type { BoardDriver } from '../board/types.js';
import type { ResolvedNode } from '../config/nodes.js';
import type { AgentNodes } from '../power/agent-nodes.js';
import type { AgentTracker } from '../power/agents.js';
import type { Maintenance } from './maintenance.js';
import type { NodeModel } from './node-model.js';
import type { Poller } from './poller.js';
import type { RequestTable } from './request-table.js';
import type { Schedules } from './schedules.js';
import { knownKeys } from './input.js';
import { VERSION } from './version.js';

export interface StatusDeps {
  nodes: ResolvedNode[];
  model: NodeModel;
  agentNodes: AgentNodes;
  tracker: AgentTracker | undefined;
  poller: Poller;
  maintenance: Maintenance;
  schedules: Schedules;
  /** `bridge/info` as it is now. */
  info(): { board: object; started_at: string };
  /** The board's driver: whether it can tell a module in a slot. */
  driver: BoardDriver;
}

/** The answer to `bridge/request/status` (docs/topics.md): the bridge, the board and every node as they are now. */
export class BridgeStatus {
  constructor(private readonly deps: StatusDeps) {}

  requests(): RequestTable {
    return {
      status: async (request) => {
        knownKeys(request, []);
        return this.status();
      },
    };
  }

  status(): object {
    const { nodes, model, agentNodes, tracker, poller, maintenance, schedules, driver } = this.deps;
    const info = this.deps.info();
    return {
      version: VERSION,
      started_at: info.started_at,
      maintenance: maintenance.paused(),
      board: { ...info.board, ...poller.status() },
      nodes: nodes.map((node) => {
        const snap = model.snapshot(node.number);
        return {
          node: node.number,
          name: node.name,
          enabled: node.enabled,
          protected: node.protected,
          agent: agentNodes.isAgentNode(node.number),
          power: snap?.power === null || snap === undefined ? null : snap.power ? 'ON' : 'OFF',
          state: snap?.state.state ?? 'unknown',
          ...(driver.info.canTellPresence ? { present: snap?.present ?? null } : {}),
          ...(agentNodes.listensTo(node.number) ? { agent_state: tracker?.status(node.number) ?? 'unknown' } : {}),
        };
      }),
      ...schedules.status(),
    };
  }
}
