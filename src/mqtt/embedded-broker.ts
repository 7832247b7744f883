import { createServer, type Server } from 'node:net';
import { TpmError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';

export interface EmbeddedBroker {
  host: string;
  port: number;
  close(): Promise<void>;
}

/**
 * The in-process broker for the demo (`mqtt.url: embedded`): aedes 1.x, MQTT 3.1.1 only.
 * Imported lazily so that a bridge on an external broker never loads it.
 */
export async function startEmbeddedBroker(host: string, port: number, logger: Logger): Promise<EmbeddedBroker> {
  const { Aedes } = await import('aedes');
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      broker.close();
      if (error.code === 'EADDRINUSE') {
        reject(new TpmError('BROKER', `port ${port} on ${host} is already in use: stop the other MQTT broker, or set mqtt.embedded.port (or use mqtt.url to connect to that broker)`));
      } else if (error.code === 'EACCES') {
        reject(new TpmError('BROKER', `no permission to listen on ${host}:${port}: choose a port above 1023 in mqtt.embedded.port`));
      } else {
        reject(new TpmError('BROKER', `cannot start the embedded broker on ${host}:${port}: ${error.message}`));
      }
    });
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  logger.info(`embedded MQTT broker listening on ${host}:${boundPort} (MQTT 3.1.1)`);
  return {
    host,
    port: boundPort,
    close: () =>
      new Promise<void>((resolve) => {
        // Connected clients keep a server open: aedes closes them, then the server closes.
        broker.close(() => server.close(() => resolve()));
        setTimeout(resolve, 1000).unref();
      }),
  };
}
