import assert from 'node:assert/strict';
import path from 'node:path';
import {
  createAgent,
  createBridge,
  createLogger,
  createSimulatedTpi1,
  FakeClock,
  parseConfig,
  silentLogger,
  type AgentDeps,
  type BridgeDeps,
  type Logger,
} from '../../src/index.js';
import { brokerAndFolder } from '../support/broker-and-folder.js';

/**
 * A program's own logger (docs/library.md): `Logger` asks only for what the code calls, so a
 * small object of functions fits, without pino and without a cast. This file is type-checked
 * by `npm run lint` and the build: a `Logger` that asks for more fails them (TS2322).
 */
function listLogger(lines: string[], fields: Record<string, unknown> = {}): Logger {
  const method =
    (level: string) =>
    (first: string | object, message?: string): void => {
      const text = typeof first === 'string' ? first : (message ?? '');
      const extra = typeof first === 'string' ? {} : first;
      lines.push(`${level} ${text} ${JSON.stringify({ ...fields, ...extra })}`);
    };
  return {
    level: 'debug',
    debug: method('debug'),
    info: method('info'),
    warn: method('warn'),
    error: method('error'),
    child: (more) => listLogger(lines, { ...fields, ...more }),
  };
}

describe('Logger: a program may bring its own', () => {
  const env = brokerAndFolder();

  it("pino's loggers (createLogger, silentLogger) are Loggers", () => {
    const loggers: Logger[] = [createLogger({ level: 'silent', format: 'json' }), silentLogger()];
    assert.equal(loggers[0]?.child({ part: 'x' }).level, 'silent');
  });

  it("a plain object of functions type-checks as createAgent's logger", () => {
    const lines: string[] = [];
    const deps: AgentDeps = { logger: listLogger(lines) };
    const config = parseConfig({ mqtt: { url: env.broker.url }, agent: { node: 3 } });
    assert.equal(typeof createAgent(config, deps).start, 'function');
  });

  it("is createBridge's logger: lines and the child loggers' fields reach it", async () => {
    const lines: string[] = [];
    const clock = new FakeClock();
    const deps: BridgeDeps = { logger: listLogger(lines), clock, i2cBus: createSimulatedTpi1({ clock }).bus };
    const config = parseConfig({
      mqtt: { url: env.broker.url },
      board: { type: 'tpi1', poll_interval: '1h' },
      state_dir: path.join(env.dir, 'state'),
    });
    const bridge = createBridge(config, deps);
    await bridge.start();
    await bridge.stop();
    assert.ok(
      lines.some((line) => line.startsWith('info bridge online')),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((line) => line.includes('"part":"board"')),
      lines.join('\n'),
    );
  });
});
