import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The `transaction` of the request being acted on, for the events that action publishes: a
 * client that sent `bridge/request/power` with a transaction can follow its own action's
 * progress on `bridge/event` (docs/topics.md). Carried by AsyncLocalStorage through every await
 * of the action, so the power code needs no extra parameter; callbacks fired from another
 * context (an MQTT message) are bound to the action's with AsyncResource.bind where they are made.
 */
const store = new AsyncLocalStorage<string | number>();

export function withTransaction<T>(transaction: string | number | undefined, action: () => Promise<T>): Promise<T> {
  return transaction === undefined ? action() : store.run(transaction, action);
}

export function currentTransaction(): string | number | undefined {
  return store.getStore();
}
