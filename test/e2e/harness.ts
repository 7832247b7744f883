import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startBridge, startCli, tempDir, testBridgeConfig, writeConfig, type CliProcess } from '../support/cli.js';
import { requireMosquitto, startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { Recorder, type RecordedMessage } from '../support/recorder.js';

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

/**
 * The start of an end-to-end suite (its `before` hook): a real mosquitto (the suite is skipped
 * without one), a recorder of `base`, and a temporary folder for configs and scripts.
 */
export async function startBrokerRun(
  context: Mocha.Context,
  base: string,
  dirPrefix: string,
  recorderOptions?: Parameters<typeof Recorder.connect>[2],
): Promise<{ broker: Mosquitto; recorder: Recorder; dir: string }> {
  const binary = requireMosquitto(context);
  const broker = await startMosquitto({ binary });
  const recorder = await Recorder.connect(broker.url, base, recorderOptions);
  return { broker, recorder, dir: tempDir(dirPrefix) };
}

/** Bridge config overrides: `node` runs an agent, OFF is graceful (settle_time 1 s), no Home Assistant. */
export function gracefulAgentNode(node: number, gracefulTimeout: string): Record<string, Record<string, unknown>> {
  return {
    nodes: { [node]: { agent: true } },
    power: { off_mode: 'graceful', settle_time: '1s', graceful_timeout: gracefulTimeout },
    homeassistant: { enabled: false },
  };
}

/**
 * startBrokerRun, then the built bridge on a simulated Turing Pi 1 whose node `node` runs an
 * agent and goes down gracefully (gracefulAgentNode, with the settings of other nodes in
 * `overrides.nodes`), its config in `<dir>/bridge.yaml`.
 */
export async function startGracefulBridgeRun(
  context: Mocha.Context,
  options: { base: string; id: string; node: number; dirPrefix: string; gracefulTimeout: string },
  overrides: Record<string, Record<string, unknown>> = {},
): Promise<{ broker: Mosquitto; recorder: Recorder; dir: string; configFile: string; bridge: CliProcess }> {
  const { broker, recorder, dir } = await startBrokerRun(context, options.base, options.dirPrefix);
  const graceful = gracefulAgentNode(options.node, options.gracefulTimeout);
  const config = testBridgeConfig({
    dir,
    url: broker.url,
    base: options.base,
    id: options.id,
    overrides: { ...overrides, ...graceful, nodes: { ...overrides['nodes'], ...graceful['nodes'] } },
  });
  const configFile = writeConfig(dir, config, 'bridge.yaml');
  return { broker, recorder, dir, configFile, bridge: await startBridge(configFile) };
}

/** Switches `node` on over MQTT unless its power already reads ON, and waits for the ON. */
export async function ensureNodeOn(recorder: Recorder, base: string, node: number): Promise<void> {
  const power = `${base}/node/${node}/power`;
  if (recorder.last(power)?.payload === 'ON') return;
  const from = recorder.mark();
  await recorder.command(node, 'ON');
  await recorder.waitForPayload(power, 'ON', 5000, from);
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
export async function startAgentProcess(
  recorder: Recorder,
  options: AgentProcessOptions,
  timeoutMs = 10_000,
): Promise<CliProcess> {
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
    throw new Error(
      `the agent exited (code ${exit.code}, signal ${exit.signal}) before it was online\n${proc.describe()}`,
    );
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
  return fold(
    recorder.since(from, `${base}/node/${node}/state`).map((m) => (JSON.parse(m.payload) as NodeStatePayload).state),
  );
}

/** Payloads on one topic since `from`, repeats folded. */
export function payloads(recorder: Recorder, topic: string, from: number): string[] {
  return fold(recorder.since(from, topic).map((m) => m.payload));
}

function fold(values: string[]): string[] {
  return values.filter((value, index) => index === 0 || values[index - 1] !== value);
}

/** The first recorded message on `topic` after `from` whose payload is `payload`. */
export function firstPayload(
  recorder: Recorder,
  topic: string,
  payload: string,
  from: number,
): RecordedMessage | undefined {
  return recorder.since(from, topic).find((m) => m.payload === payload);
}

/**
 * The end of an end-to-end suite: SIGTERM to the bridge, which must exit 0 (a clean stop is
 * part of every run), then the recorder, the broker and the temporary folder. Whatever the
 * `before` hook did not get to start is passed over.
 */
export async function stopBridgeAndBroker(run: {
  bridge?: CliProcess;
  recorder?: Recorder;
  broker?: Mosquitto;
  dir?: string;
}): Promise<void> {
  if (run.bridge) {
    const exit = await run.bridge.stop();
    assert.equal(exit.code, 0, `the bridge exits 0 on SIGTERM\n${run.bridge.describe()}`);
  }
  await run.recorder?.close();
  await run.broker?.stop();
  if (run.dir) rmSync(run.dir, { recursive: true, force: true });
}
