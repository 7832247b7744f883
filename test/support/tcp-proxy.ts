import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP relay in front of a broker: a client connected through it can have its
 * connection cut (both sockets destroyed, no DISCONNECT) as a dropped Wi-Fi link or a NAT
 * time-out would, while the broker and the client process keep running.
 */
export interface TcpProxy {
  port: number;
  url: string;
  /** Connections relayed so far (a reconnection counts again). */
  accepted: number;
  /** Destroys every relayed connection now (and ends a freeze or lost answers); new ones are relayed as before. */
  cut(): number;
  /**
   * From now on, bytes of the relayed connections are dropped in both directions while the
   * sockets stay open (a link that went silent): a publish gets no acknowledgement.
   */
  freeze(): void;
  /**
   * While on, only the broker's bytes are dropped: a client's publish reaches the broker, its
   * acknowledgement never comes back (a link lost right after the request went out).
   */
  loseAnswers(on: boolean): void;
  /** Until unblock(), a new connection is closed as soon as it is accepted (the link is still down). */
  block(): void;
  unblock(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let accepted = 0;
  let frozen = false;
  let losingAnswers = false;
  let blocked = false;
  const server: Server = createServer((client) => {
    if (blocked) {
      client.destroy();
      return;
    }
    accepted++;
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.on('data', (chunk: Buffer) => {
      if (!frozen) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!frozen && !losingAnswers) client.write(chunk);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const cut = (): number => {
    const count = pairs.size;
    for (const [client, upstream] of [...pairs]) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
    frozen = false;
    losingAnswers = false;
    return count;
  };
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    cut,
    freeze: () => {
      frozen = true;
    },
    loseAnswers: (on) => {
      losingAnswers = on;
    },
    block: () => {
      blocked = true;
    },
    unblock: () => {
      blocked = false;
    },
    close: async () => {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
