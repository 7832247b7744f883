import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startCli, writeConfig, type CliProcess } from '../support/cli.js';
import type { Recorder, RecordedMessage } from '../support/recorder.js';

/**
 * Small pieces the end-to-end tests share on top of test/support: agent processes, helper
 * scripts in a temp dir, and readers of the recorded node state.
 */

/** `<b>/node/<n>/state` payload as recorded. */
export interface NodeStatePayload {
  state: string;
  since: string;
  source: string;
  reason: string;
}

/** Writes an ES module script into `dir`; returns its path. */
export function writeScript(dir: string, name: string, source: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, source);
  return file;
}

export interface AgentProcessOptions {
  dir: string;
  url: string;
  base: string;
  boardId: string;
  node: number;
  shutdownCommand: string[];
  rebootCommand?: string[];
  /** The agent's command time-out is power.graceful_timeout. */
  gracefulTimeout?: string;
}

/**
 * Starts `turingpi-mqtt agent -c agent.yaml` (the built CLI) and resolves once the agent's own
 * `online` reached the broker, seen by the recorder after `from`.
 */
export async function startAgentProcess(recorder: Recorder, options: AgentProcessOptions, timeoutMs = 10_000): Promise<CliProcess> {
  const file = writeConfig(
    options.dir,
    {
      mqtt: { url: options.url, base_topic: options.base, keepalive: 5 },
      board: { id: options.boardId },
      power: { graceful_timeout: options.gracefulTimeout ?? '15s' },
      agent: {
        node: options.node,
        interval: '1s',
        shutdown_command: options.shutdownCommand,
        reboot_command: options.rebootCommand ?? options.shutdownCommand,
      },
      log: { level: 'info', format: 'json' },
    },
    `agent-${options.node}.yaml`,
  );
  const from = recorder.mark();
  const proc = startCli(['agent', '-c', file], { cwd: options.dir });
  const online = recorder.waitForPayload(`${options.base}/node/${options.node}/agent/state`, 'online', timeoutMs, from);
  const exited = proc.exited.then((exit) => {
    throw new Error(`the agent exited (code ${exit.code}, signal ${exit.signal}) before it was online\n${proc.describe()}`);
  });
  exited.catch(() => undefined);
  try {
    await Promise.race([online, exited]);
  } catch (error) {
    if (proc.running) await proc.stop('SIGKILL');
    throw error;
  }
  return proc;
}

/** The `state` field of every `node/<n>/state` recorded since `from`, in order, repeats folded. */
export function nodeStates(recorder: Recorder, base: string, node: number, from: number): string[] {
  return fold(recorder.since(from, `${base}/node/${node}/state`).map((m) => (JSON.parse(m.payload) as NodeStatePayload).state));
}

/** Payloads on one topic since `from`, repeats folded. */
export function payloads(recorder: Recorder, topic: string, from: number): string[] {
  return fold(recorder.since(from, topic).map((m) => m.payload));
}

function fold(values: string[]): string[] {
  return values.filter((value, index) => index === 0 || values[index - 1] !== value);
}

/** The first recorded message on `topic` after `from` whose payload is `payload`. */
export function firstPayload(recorder: Recorder, topic: string, payload: string, from: number): RecordedMessage | undefined {
  return recorder.since(from, topic).find((m) => m.payload === payload);
}

/**
 * `turingpi-mqtt bridge -c FILE` with extra environment (a `${VAR}` in the config), resolved
 * once it logged that it is online. test/support/cli.ts's startBridge takes no environment.
 */
export async function startBridgeProcess(configFile: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 15_000): Promise<CliProcess> {
  const proc = startCli(['bridge', '-c', configFile], { cwd: path.dirname(configFile), env });
  try {
    await proc.waitForLog(/^bridge online/, timeoutMs);
  } catch (error) {
    if (proc.running) await proc.stop('SIGKILL');
    throw error;
  }
  return proc;
}

/** Polls `condition` (state outside MQTT, e.g. the simulated BMC's) until it holds. */
export async function eventually(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
