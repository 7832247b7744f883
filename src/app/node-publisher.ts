import type { BoardDriver } from '../board/types.js';
import type { MqttConnection } from '../mqtt/connection.js';
import type { Topics } from '../mqtt/topics.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { NodeChange, NodeListener } from './node-model.js';

export interface NodePublisherDeps {
  connection: MqttConnection;
  topics: Topics;
  logger: Logger;
  /** The board's driver: whether it can tell a module in a slot (`node/<n>/present` exists). */
  driver: BoardDriver;
  /**
   * The nodes whose topics exist: the enabled ones. A disabled node (a GPIO board's unwired slot
   * too) has nothing to say: it would only show "unknown" for ever.
   */
  published: ReadonlySet<number>;
}

/**
 * Publishes what changed of a node (docs/topics.md): `node/<n>/power`, `node/<n>/state` and
 * `node/<n>/present`, retained. It listens to the node model, which tells only what changed.
 * At start it clears what earlier runs published for nodes this one does not.
 */
export class NodePublisher implements NodeListener {
  constructor(private readonly deps: NodePublisherDeps) {}

  /**
   * Clears the retained topics of the nodes in `before` (published by an earlier run) that this
   * run does not publish: disabled, unwired, or no longer on the board. Without it their last
   * state stayed on the broker for ever. The agent's own topics are the agent's: left alone.
   * Returns the nodes to remember as published: this run's, and those whose clearing failed
   * (tried again at the next start).
   */
  async clearRetired(before: readonly number[]): Promise<number[]> {
    const { connection, topics: t, logger, published } = this.deps;
    const kept = new Set(published);
    for (const n of new Set(before)) {
      if (published.has(n)) continue;
      const cleared = [t.nodePower(n), t.nodeState(n), t.nodePresent(n), t.nodeBooted(n)];
      try {
        for (const topic of cleared) await connection.clearRetained(topic);
        logger.info(`node ${n} is disabled or not on this board: cleared its retained ${cleared.join(', ')}`);
      } catch (error) {
        kept.add(n);
        logger.warn(`could not clear the retained topics of node ${n}: ${errorMessage(error)}`);
      }
    }
    return [...kept].sort((a, b) => a - b);
  }

  changed(n: number, change: NodeChange): void {
    const { connection: c, topics: t } = this.deps;
    if (!this.deps.published.has(n)) return;
    // Not awaited: a command's messages go out in order on the one connection, and nothing
    // here waits for the broker's acknowledgement (MqttConnection.send).
    const done = (error?: Error): void => {
      if (error) this.deps.logger.warn(`publishing node ${n} failed: ${errorMessage(error)}`);
    };
    // The answer to a command: sent at once, not after the state and event built next.
    if (change.power !== undefined && change.power !== null)
      c.sendState(t.nodePower(n), change.power ? 'ON' : 'OFF', { flush: true }, done);
    if (change.state) c.sendState(t.nodeState(n), JSON.stringify(change.state), {}, done);
    if (this.deps.driver.info.canTellPresence && change.present !== undefined && change.present !== null)
      c.sendState(t.nodePresent(n), change.present ? 'ON' : 'OFF', {}, done);
  }
}
