import { createServer, isIP, type Server, type Socket } from 'node:net';
import { TpmError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { escapeControl } from '../util/printable.js';
import { PacketLimitFilter } from './packet-limit.js';
import { RETAINED_BUDGET_BYTES, RetainedBudget } from './retained-budget.js';

/** The largest packet a client may send the embedded broker (our own discovery messages fit many times). */
const EMBEDDED_MAX_PACKET_BYTES = 1024 * 1024;

/** mqtt.username / mqtt.password: when either is set, every client must give both as configured. */
export interface EmbeddedCredentials {
  username: string | null;
  password: string | null;
}

export interface EmbeddedBroker {
  host: string;
  port: number;
  close(): Promise<void>;
}

/**
 * The in-process broker for the demo (`mqtt.url: embedded`): aedes 1.x, MQTT 3.1.1 only.
 * Imported lazily so that a bridge on an external broker never loads it.
 */
export async function startEmbeddedBroker(
  host: string,
  port: number,
  logger: Logger,
  credentials: EmbeddedCredentials = { username: null, password: null },
): Promise<EmbeddedBroker> {
  const { Aedes } = await import('aedes');
  // node:crypto with aedes, when the broker starts: a bridge on an external broker has no use for it.
  const { createHash, timingSafeEqual } = await import('node:crypto');
  const digest = (value: string | Buffer): Buffer => createHash('sha256').update(value).digest();
  const sameSecret = (given: Buffer, expected: string): boolean => timingSafeEqual(digest(given), digest(expected));
  const required = credentials.username !== null || credentials.password !== null;
  const retained = new RetainedBudget();
  const broker = await Aedes.createBroker({
    ...(required
      ? {
          authenticate: (client, username, password, done) => {
            if (credentialsMatch(credentials, username, password, sameSecret)) return done(null, true);
            logger.warn(`embedded broker: refused client ${escapeControl(client.id)}: wrong username or password`);
            done(Object.assign(new Error('bad username or password'), { returnCode: 4 as const }), false);
          },
        }
      : {}),
    // A refused publish disconnects its client (MQTT 3.1.1 has no way to refuse one alone): the
    // messages already retained stay, and anyone may still replace or clear them.
    authorizePublish: (client, packet, done) => {
      if (!packet.retain || retained.take(packet.topic, Buffer.byteLength(packet.payload))) return done(null);
      logger.warn(
        `embedded broker: disconnected client ${escapeControl(client?.id ?? '(will)')}: its retained message on ` +
          `${escapeControl(packet.topic.slice(0, 200))} would take the retained messages over ` +
          `${RETAINED_BUDGET_BYTES / 1024 / 1024} MiB`,
      );
      done(new Error('too many retained messages'));
    },
  });
  const server: Server = createServer((socket) => {
    closeOnOversizedPackets(socket, logger);
    broker.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      broker.close();
      if (error.code === 'EADDRINUSE') {
        reject(
          new TpmError(
            'BROKER',
            `port ${port} on ${host} is already in use: stop the other MQTT broker, or set mqtt.embedded.port ` +
              `(or use mqtt.url to connect to that broker)`,
          ),
        );
      } else if (error.code === 'EACCES') {
        reject(
          new TpmError(
            'BROKER',
            `no permission to listen on ${host}:${port}: choose a port above 1023 in mqtt.embedded.port`,
          ),
        );
      } else {
        reject(new TpmError('BROKER', `cannot start the embedded broker on ${host}:${port}: ${error.message}`));
      }
    });
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  logger.info(`embedded MQTT broker listening on ${host}:${boundPort} (MQTT 3.1.1)`);
  if (!required && !isLoopback(host)) {
    logger.warn(
      `the embedded broker listens on ${host}, beyond this machine, and takes anyone: set mqtt.username and ` +
        'mqtt.password (clients must then give them), or mqtt.embedded.host: 127.0.0.1',
    );
  }
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

/** Compared in constant time (of a digest), so the time of a refusal tells nothing of the secret. */
function credentialsMatch(
  expected: EmbeddedCredentials,
  username: string | undefined,
  password: Buffer | undefined,
  sameSecret: (given: Buffer, expected: string) => boolean,
): boolean {
  const userOk = (username ?? null) === expected.username;
  const given = password === undefined ? null : password;
  const passwordOk =
    expected.password === null ? given === null : given !== null && sameSecret(given, expected.password);
  return userOk && passwordOk;
}

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * aedes has no packet size limit: its parser would hold all of a 200 MB publish. The framing is
 * read beside it, and a client whose packet announces more than EMBEDDED_MAX_PACKET_BYTES is
 * disconnected (what MQTT 5 brokers do on "packet too large").
 */
function closeOnOversizedPackets(socket: Socket, logger: Logger): void {
  const framing = new PacketLimitFilter(EMBEDDED_MAX_PACKET_BYTES, (packet) => {
    logger.warn(
      `embedded broker: disconnected a client that sent a packet of ${packet.length} bytes (limit ` +
        `${EMBEDDED_MAX_PACKET_BYTES})`,
    );
    socket.destroy();
  });
  // Only the framing is wanted: what passes is left (aedes reads the socket itself).
  socket.on('data', (chunk: Buffer) => {
    if (!socket.destroyed) framing.take(chunk);
  });
}
