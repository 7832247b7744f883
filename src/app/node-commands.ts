import { findNode, unknownNodeMessage, type ResolvedNode } from '../config/nodes.js';
import { nodeFromTopic, type Topics } from '../mqtt/topics.js';
import type { PowerService } from '../power/power-service.js';
import { parseSetPayload, type NodeAction, type NodeResult, type Origin } from '../power/types.js';
import { TpmError, errorMessage } from '../util/errors.js';
import type { CommandTable } from './command-table.js';
import type { EventSink } from './event-sink.js';
import { InputError, payloadText, powerRequest, quote, type CommandPayload } from './input.js';
import { PartlyDone, type RequestTable } from './request-table.js';

const RESOLVED: Promise<void> = Promise.resolve();

export interface NodeCommandsDeps {
  nodes: ResolvedNode[];
  topics: Topics;
  power: PowerService;
  event: EventSink;
}

/**
 * Node power from MQTT: `node/<n>/set` and `bridge/request/power` (docs/topics.md). Input is
 * checked here (bad input is one error event and nothing else); every action itself is the
 * power service's.
 */
export class NodeCommands {
  constructor(private readonly deps: NodeCommandsDeps) {}

  commands(): CommandTable {
    return { [this.deps.topics.nodeSetWildcard]: (topic, payload) => this.onSet(topic, payload) };
  }

  requests(): RequestTable {
    return { power: (request, origin) => this.onPowerRequest(request, origin) };
  }

  /**
   * Not async: bad input is reported at once, and a good command's promise is the power
   * service's own (an async function here would cost every command a promise and a turn).
   */
  private onSet(topic: string, payload: CommandPayload): Promise<unknown> {
    const command = this.checkSet(topic, payload);
    if (!command) return RESOLVED;
    return this.deps.power.execute(command.node, command.action, 'mqtt');
  }

  /** The node and action of a `set`, or undefined once the bad input is reported. */
  private checkSet(topic: string, payload: CommandPayload): { node: number; action: NodeAction } | undefined {
    const { nodes, topics, event } = this.deps;
    const n = nodeFromTopic(topics, topic, 'set');
    let text: string;
    try {
      text = payloadText(payload);
    } catch (error) {
      event({ type: 'command', node: n, source: 'mqtt', result: 'error', error: errorMessage(error) });
      return;
    }
    const action = parseSetPayload(text);
    const node = findNode(nodes, n);
    if (!node) {
      event({
        type: 'command',
        source: 'mqtt',
        result: 'error',
        error: unknownNodeMessage(nodes, `in ${quote(topic)}`),
      });
      return;
    }
    if (!action) {
      const error = `unknown command ${quote(text)}: use ON, OFF, FORCE_OFF, TOGGLE, REBOOT or SHUTDOWN`;
      event({ type: 'command', node: node.number, source: 'mqtt', result: 'error', error });
      return;
    }
    return { node: node.number, action };
  }

  private async onPowerRequest(request: Record<string, unknown>, origin: Origin): Promise<unknown> {
    const { nodes, power } = this.deps;
    const { node, action } = powerRequest(request);
    if (node !== 'all' && !findNode(nodes, node)) throw new InputError(unknownNodeMessage(nodes, String(node)));
    // "all" means every enabled, non-protected node for changes; a status covers every node.
    const targets =
      node === 'all' && action === 'status' ? nodes.filter((x) => x.enabled).map((x) => x.number) : power.targets(node);
    // The action's events carry the request's transaction: the CLI follows its own action.
    const results = await power.executeMany(targets, action, origin);
    const failed = results.filter((r) => !r.ok);
    if (failed.length > 0) {
      const reason = failed.map((r) => r.error).join('; ');
      // "all": the nodes that did change are answered too, each failed one with its error.
      if (node === 'all') throw new PartlyDone(reason, results.map(publicResult));
      throw new TpmError('BAD_COMMAND', reason);
    }
    return node === 'all' ? results.map(publicResult) : publicResult(results[0] as NodeResult);
  }
}

function publicResult(result: NodeResult): object {
  return {
    node: result.node,
    power: result.power === null ? null : result.power ? 'ON' : 'OFF',
    state: result.state,
    ...(result.note ? { note: result.note } : {}),
    ...(result.ok ? {} : { error: result.error }),
  };
}
