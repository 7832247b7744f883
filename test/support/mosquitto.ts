import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, waitUntilAccepting } from './ports.js';

/**
 * A real mosquitto 2 broker for the integration tests: a generated config on a free loopback
 * port, no persistence (unless asked), started, stopped (SIGTERM) and restarted on the same port.
 */

const SEARCH = ['/usr/sbin', '/usr/local/sbin', '/usr/bin', '/usr/local/bin', '/opt/homebrew/sbin'];

/** The mosquitto binary: $MOSQUITTO, else PATH and the usual sbin folders. */
export function findMosquitto(): string | undefined {
  const candidates = [
    ...(process.env.MOSQUITTO ? [process.env.MOSQUITTO] : []),
    ...(process.env.PATH ?? '')
      .split(path.delimiter)
      .filter(Boolean)
      .map((dir) => path.join(dir, 'mosquitto')),
    ...SEARCH.map((dir) => path.join(dir, 'mosquitto')),
  ];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not there
    }
  }
  return undefined;
}

export const MOSQUITTO_REQUIRED_IN_CI = 'mosquitto is required in CI: apt-get install mosquitto';

/**
 * The binary, or: in CI (CI=true) a failure, so the real-broker tests cannot silently vanish;
 * elsewhere the calling hook's tests are skipped with a message.
 */
export function requireMosquitto(context: Mocha.Context): string {
  const binary = findMosquitto();
  if (binary) return binary;
  if (process.env.CI === 'true') throw new Error(MOSQUITTO_REQUIRED_IN_CI);
  console.warn('    (mosquitto not found: skipping the real-broker tests; install it with apt-get install mosquitto)');
  context.skip();
}

export interface MosquittoOptions {
  binary?: string;
  /** Default: a free port. */
  port?: number;
  /** set_tcp_nodelay true (lower latency for small messages). */
  tcpNoDelay?: boolean;
  /** mosquitto's max_queued_messages (the bench's scale phase publishes one discovery message per node). */
  maxQueuedMessages?: number;
  /**
   * Retained messages kept on disk, as distributions ship mosquitto: saved at a clean stop
   * (stop()) only, never by kill(), so a restart after a kill hands back what the last save held.
   */
  persistence?: boolean;
}

export interface Mosquitto {
  port: number;
  url: string;
  /** Everything the broker wrote to stdout/stderr (its log), for failure messages. */
  output(): string;
  /** SIGTERM, and waits for the process to exit. */
  stop(): Promise<void>;
  /** SIGKILL (no goodbye to any client), and waits for the process to exit. */
  kill(): Promise<void>;
  /** Starts again on the same port (after stop()). */
  start(): Promise<void>;
  /** stop() then start(). */
  restart(): Promise<void>;
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const binary = options.binary ?? findMosquitto();
  if (!binary) throw new Error(MOSQUITTO_REQUIRED_IN_CI);
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(path.join(tmpdir(), 'tpm-mosquitto-'));
  const configFile = path.join(dir, 'mosquitto.conf');
  const lines = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    ...(options.persistence
      ? ['persistence true', `persistence_location ${dir}/`, 'autosave_interval 86400']
      : ['persistence false']),
    'log_dest stderr',
    'log_type error',
    'log_type warning',
  ];
  if (options.tcpNoDelay) lines.push('set_tcp_nodelay true');
  if (options.maxQueuedMessages !== undefined) lines.push(`max_queued_messages ${options.maxQueuedMessages}`);
  // Run as root, mosquitto 2 drops to the "mosquitto" user; as anyone else it stays who it is.
  if (process.getuid?.() === 0) lines.push('user root');
  writeFileSync(configFile, `${lines.join('\n')}\n`);

  let child: ChildProcess | undefined;
  let output = '';
  let exited: Promise<void> = Promise.resolve();

  const start = async (): Promise<void> => {
    if (child) throw new Error('mosquitto is already running');
    const proc = spawn(binary, ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    proc.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    proc.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    const early = exited.then(() => {
      throw new Error(`mosquitto exited at start:\n${output}`);
    });
    early.catch(() => undefined); // a later exit (stop()) is expected, not an unhandled rejection
    try {
      await Promise.race([waitUntilAccepting(port, 10_000), early]);
    } catch (error) {
      proc.kill('SIGKILL');
      child = undefined;
      throw error;
    }
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const proc = child;
    if (!proc) return;
    child = undefined;
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };

  await start();
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    output: () => output,
    stop: () => stop(),
    kill: () => stop('SIGKILL'),
    start,
    restart: async () => {
      await stop();
      await start();
    },
  };
}
