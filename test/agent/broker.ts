import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import { connectAsync, type MqttClient } from 'mqtt';

/** A real in-process MQTT broker on a free port, with a handle on every client socket. */
export interface TestBroker {
  port: number;
  url: string;
  /** Destroys every client socket, as when a process dies: no DISCONNECT, so the will is published. */
  killConnections(): void;
  /** Destroys the socket of one client (by client id), as when that process dies. */
  killClient(clientId: string): void;
  /** Client ids in the order they connected. */
  clientIds: string[];
  close(): Promise<void>;
}

export async function startBroker(): Promise<TestBroker> {
  const broker = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const clientIds: string[] = [];
  const clients = new Map<string, { conn: { destroy(): void } }>();
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
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    clientIds,
    killClient: (clientId) => clients.get(clientId)?.conn.destroy(),
    killConnections: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}

export interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}

/** A watching client that records every message on the filters it subscribes to. */
export async function watch(url: string, filters: string[]): Promise<{ client: MqttClient; messages: Received[] }> {
  const client = await connectAsync(url, { clientId: `watcher-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
  const messages: Received[] = [];
  client.on('message', (topic, payload, packet) => messages.push({ topic, payload: payload.toString(), retain: packet.retain }));
  await client.subscribeAsync(filters, { qos: 1 });
  return { client, messages };
}

/** Polls in real time (network delivery) until the predicate holds. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Lets in-flight messages arrive, to assert that nothing more was published. */
export function settle(ms = 150): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
