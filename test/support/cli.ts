import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

/**
 * The BUILT command line, run as a user runs it. Compiled, this file is
 * dist/test/support/cli.js and the CLI is dist/src/cli.cjs; run from the sources (tsx), the
 * compiled CLI is looked up in dist/ of the repository.
 */
export function cliPath(): string {
  const beside = fileURLToPath(new URL('../../src/cli.cjs', import.meta.url));
  if (existsSync(beside)) return beside;
  const fromRoot = fileURLToPath(new URL('../../dist/src/cli.cjs', import.meta.url));
  if (existsSync(fromRoot)) return fromRoot;
  throw new Error(`the built CLI is missing (${beside}): run npm run build first`);
}

/** A fresh temporary folder for one bridge's config, state_dir and simulator state. */
export function tempDir(prefix = 'tpm-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Writes a config object as YAML; returns the file's path. */
export function writeConfig(dir: string, config: unknown, name = 'turingpi-mqtt.yaml'): string {
  const file = path.join(dir, name);
  writeFileSync(file, stringify(config));
  return file;
}

export interface TestBridgeConfigOptions {
  dir: string;
  /** `embedded` (with embeddedPort) or an mqtt:// URL. */
  url: string;
  embeddedPort?: number;
  base?: string;
  id?: string;
  /** Merged over the defaults, one level deep per section. */
  overrides?: Record<string, Record<string, unknown> | unknown>;
}

/**
 * A bridge config for tests: a simulated Turing Pi 1 whose power survives restarts in
 * `dir/simulator.json`, 1 s polls, short power timings, JSON logs.
 */
export function testBridgeConfig(options: TestBridgeConfigOptions): Record<string, unknown> {
  const { dir } = options;
  const sections: Record<string, Record<string, unknown>> = {
    mqtt: {
      url: options.url,
      ...(options.embeddedPort !== undefined ? { embedded: { host: '127.0.0.1', port: options.embeddedPort } } : {}),
      base_topic: options.base ?? 'tp',
      keepalive: 5,
    },
    board: {
      type: 'simulator',
      id: options.id ?? 'lab',
      name: 'Lab',
      poll_interval: '1s',
      simulate: { model: 'tpi1', state_file: path.join(dir, 'simulator.json') },
    },
    power: { reboot_off_time: '500ms', min_off_time: 0, on_stagger: 0, settle_time: 0, graceful_timeout: '5s' },
    state_dir: path.join(dir, 'state') as unknown as Record<string, unknown>,
    log: { level: 'info', format: 'json' },
  };
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    const current = sections[key];
    sections[key] =
      typeof value === 'object' && value !== null && !Array.isArray(value) && typeof current === 'object'
        ? { ...current, ...(value as Record<string, unknown>) }
        : (value as Record<string, unknown>);
  }
  return sections;
}

/** One line of a JSON log. */
export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running CLI process with its output captured. */
export class CliProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  private readonly watchers = new Set<() => void>();

  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString();
      this.notify();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      this.notify();
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.notify();
        resolve({ code, signal });
      }),
    );
  }

  private notify(): void {
    for (const watcher of this.watchers) watcher();
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The JSON log lines written so far (other lines are skipped). */
  logLines(): LogLine[] {
    const lines: LogLine[] = [];
    for (const text of this.stdout.split('\n')) {
      if (!text.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(text) as LogLine);
      } catch {
        // a partial line
      }
    }
    return lines;
  }

  /** Waits until the output holds what `test` looks for; fails early when the process exits. */
  waitForOutput(test: (self: CliProcess) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (test(this)) return finish();
        if (!this.running)
          return finish(
            new Error(`the process exited (code ${this.child.exitCode}) before ${what}\n${this.describe()}`),
          );
      };
      const timer = setTimeout(
        () => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.describe()}`)),
        timeoutMs,
      );
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        this.watchers.delete(check);
        if (error) reject(error);
        else resolve();
      };
      this.watchers.add(check);
      check();
    });
  }

  /** Waits for a log line whose message matches. */
  async waitForLog(pattern: RegExp, timeoutMs = 10_000): Promise<LogLine> {
    await this.waitForOutput(
      (p) => p.logLines().some((l) => pattern.test(l.msg)),
      `a log line matching ${pattern}`,
      timeoutMs,
    );
    return this.logLines().find((l) => pattern.test(l.msg)) as LogLine;
  }

  /** Sends a signal (SIGTERM by default) and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<Exit & { ms: number }> {
    const started = Date.now();
    if (this.running) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return { ...exit, ms: Date.now() - started };
  }

  describe(): string {
    return `--- stdout ---\n${this.stdout.slice(-3000)}\n--- stderr ---\n${this.stderr.slice(-3000)}`;
  }
}

/** Starts `node dist/src/cli.cjs ...args`. */
export function startCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliProcess {
  const child = spawn(process.execPath, [cliPath(), ...args], {
    cwd: options.cwd ?? tmpdir(),
    env: { ...process.env, TURINGPI_DEBUG: '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new CliProcess(child);
}

/** Runs a short CLI command to its end. */
export async function runCli(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = startCli(args, options);
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  const { code } = await proc.exited;
  clearTimeout(timer);
  return { code, stdout: proc.stdout, stderr: proc.stderr };
}

/**
 * A bridge process started from a config file, once it logged that it is online. `env` adds to
 * the environment (a `${VAR}` in the config).
 */
export async function startBridge(
  configFile: string,
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliProcess> {
  const proc = startCli(['bridge', '-c', configFile], {
    cwd: options.cwd ?? path.dirname(configFile),
    ...(options.env ? { env: options.env } : {}),
  });
  try {
    await proc.waitForLog(/^bridge online/, options.timeoutMs ?? 15_000);
  } catch (error) {
    if (proc.running) await proc.stop('SIGKILL');
    throw error;
  }
  return proc;
}

/** What a stack trace looks like in output ("    at fn (file:1:2)"). */
export const STACK_LINE = /^\s+at\s.+[:(]/m;
