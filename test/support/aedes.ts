import { createServer, type Server } from 'node:net';

/** An in-process aedes broker on a free loopback port, for tests of the library. */
export interface TestBroker {
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function startAedes(): Promise<TestBroker> {
  const { Aedes } = await import('aedes');
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        broker.close(() => server.close(() => resolve()));
        setTimeout(resolve, 1000).unref();
      }),
  };
}
