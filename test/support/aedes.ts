import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';

/** A real in-process aedes broker on a free loopback port, with a handle on every client socket. */
export interface TestBroker {
  port: number;
  url: string;
  /** Client ids in the order they connected. */
  clientIds: string[];
  /**
   * Destroys every client socket without DISCONNECT, as when the broker restarts or the
   * processes die: clients see the connection go away, and their wills are published.
   */
  dropConnections(): void;
  /** Destroys the socket of one client (by client id), as when that process dies. */
  killClient(clientId: string): void;
  /** Calls `listener` with each topic filter a client subscribes to, once the subscription is in place. */
  onSubscribe(listener: (filter: string, clientId: string) => void): void;
  /** Drops every connection, then stops listening and closes the broker. */
  close(): Promise<void>;
}

export async function startAedes(): Promise<TestBroker> {
  const broker = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const clientIds: string[] = [];
  const clients = new Map<string, { conn: { destroy(): void } }>();
  const subscribeListeners: ((filter: string, clientId: string) => void)[] = [];
  broker.on('subscribe', (subscriptions, client) => {
    for (const subscription of subscriptions)
      for (const listener of subscribeListeners) listener(subscription.topic, client.id);
  });
  broker.on('client', (client) => {
    clientIds.push(client.id);
    clients.set(client.id, client as unknown as { conn: { destroy(): void } });
  });
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const dropConnections = (): void => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    clientIds,
    dropConnections,
    killClient: (clientId) => clients.get(clientId)?.conn.destroy(),
    onSubscribe: (listener) => subscribeListeners.push(listener),
    close: async () => {
      dropConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}
