import { Writable } from 'node:stream';
import { createLogger, type Logger, type LogLevel } from '../../src/util/logger.js';

/** A real (pino, redacting) logger whose JSON lines are kept for the test to read. */
export interface CapturedLog {
  logger: Logger;
  /** Everything written so far, as text. */
  text(): string;
  /** The messages of lines at `level` (pino number) or above. */
  messages(minLevel?: number): string[];
}

export function captureLogger(level: LogLevel = 'debug'): CapturedLog {
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  const logger = createLogger({ level, format: 'json', destination });
  return {
    logger,
    text: () => text,
    messages: (minLevel = 0) =>
      text
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { level: number; msg: string })
        .filter((line) => line.level >= minLevel)
        .map((line) => line.msg),
  };
}
