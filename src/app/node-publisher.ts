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
}

/**
 * Publishes what changed of a node (docs/topics.md): `node/<n>/power`, `node/<n>/state` and
 * `node/<n>/present`, retained. It listens to the node model, which tells only what changed.
 */
export class NodePublisher implements NodeListener {
  constructor(private readonly deps: NodePublisherDeps) {}

  changed(n: number, change: NodeChange): void {
    this.publish(n, change).catch((error: unknown) =>
      this.deps.logger.warn(`publishing node ${n} failed: ${errorMessage(error)}`),
    );
  }

  private async publish(n: number, change: NodeChange): Promise<void> {
    const { connection: c, topics: t } = this.deps;
    // The answer to a command: sent at once, not after the state and event built next.
    if (change.power !== undefined && change.power !== null)
      await c.publishState(t.nodePower(n), change.power ? 'ON' : 'OFF', { flush: true });
    if (change.state) await c.publishState(t.nodeState(n), JSON.stringify(change.state));
    if (this.deps.driver.info.canTellPresence && change.present !== undefined && change.present !== null)
      await c.publishState(t.nodePresent(n), change.present ? 'ON' : 'OFF');
  }
}
