import { pino } from 'pino';
import { createRequire } from 'node:module';
import type PinoPretty from 'pino-pretty';
import { escapeControl } from './printable.js';

/** One level's method: a message, or an object of fields then a message (pino's order). */
export interface LogMethod {
  (message: string): void;
  (fields: object, message: string): void;
}

/**
 * The logger every part gets handed (never a module singleton: docs/ARCHITECTURE.md "The parts").
 * Only what the code calls, so that a program's own small logger fits as well as pino's
 * (docs/library.md); ours is pino's, whose redaction removes secrets by key at every level.
 */
export interface Logger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  /** A logger that adds these fields to each line (`{ part: 'mqtt' }`). */
  child(bindings: Record<string, unknown>): Logger;
  /** The lowest level written, by pino's names: read to skip building lines that would be dropped. */
  readonly level: string;
}

export type LogFormat = 'pretty' | 'json';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** Keys whose values never reach a log line, whatever nests them. */
const SECRET_KEYS = ['password', 'token', 'authorization', 'Authorization', 'key', 'passphrase', 'id_token'];

const redactPaths = SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `*.*.*.${key}`]);

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where lines go; default stdout. Tests pass a stream to read what was logged. */
  destination?: NodeJS.WritableStream;
}

/**
 * Messages often carry text from MQTT (a topic, an action): its control characters are escaped
 * here, in one place, before any line is written (a newline would forge a log line in the
 * pretty format and in journald; an escape sequence would reach the reader's terminal).
 */
const hooks: pino.LoggerOptions['hooks'] = {
  logMethod(args, method) {
    method.apply(
      this,
      args.map((arg) => (typeof arg === 'string' ? escapeControl(arg) : arg)) as Parameters<pino.LogFn>,
    );
  },
};

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const redact = { paths: redactPaths, censor: '[redacted]' };
  if (options.format === 'json' || options.destination) {
    return pino(
      { level, redact, base: undefined, hooks },
      (options.destination ?? process.stdout) as pino.DestinationStream,
    );
  }
  // pino-pretty as a stream in this thread: no worker thread, less memory on a 1 GB node.
  // Loaded only for the pretty format: services logging JSON never pay for it (~40 ms, ~8 MiB).
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
  const stream = pretty({
    colorize: process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,part,component,role',
    messageFormat: '{if part}[{part}] {end}{msg}',
    singleLine: true,
  });
  return pino({ level, redact, base: undefined, hooks }, stream);
}

/** A logger that drops everything, for tests and library users who bring none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
