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
 */
export class NodePublisher implements NodeListener {
  constructor(private readonly deps: NodePublisherDeps) {}

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
