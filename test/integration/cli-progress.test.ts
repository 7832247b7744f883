import assert from 'node:assert/strict';
import {
  runCli,
  startBridge,
  startCli,
  tempDir,
  testBridgeConfig,
  writeConfig,
  type CliProcess,
} from '../support/cli.js';
import type { Mosquitto } from '../support/mosquitto.js';
import { freePort } from '../support/ports.js';
import type { Recorder } from '../support/recorder.js';
import {
  ensureNodeOn,
  startAgentProcess,
  startGracefulBridgeRun,
  stopBridgeAndBroker,
  writeScript,
} from '../e2e/harness.js';

/**
 * `turingpi-mqtt power` says what it is doing (issue 17): each step of its own action, one line as
 * it happens (the events of the request carry its transaction); on a time-out, that the action
 * may still be under way and how to follow it. Built CLI, bridge and agent on a real mosquitto.
 */
const BASE = 'clip';
const BOARD_ID = 'clip';
const NODE = 3;

/** An OS halt as the agent sees it, `delayMs` after the command (a slow shutdown). */
const slowHalt = (delayMs: number): string => `setTimeout(() => process.kill(process.ppid, 'SIGTERM'), ${delayMs});\n`;

describe('turingpi-mqtt power: progress while it waits', function () {
  this.timeout(40_000);
  let broker: Mosquitto;
  let recorder: Recorder;
  let bridge: CliProcess | undefined;
  let agent: CliProcess | undefined;
  let dir: string;
  let configFile: string;

  before(async function () {
    const options = { base: BASE, id: BOARD_ID, node: NODE, dirPrefix: 'tpm-cli-progress-', gracefulTimeout: '15s' };
    // Node 1 protected: a refused action to print.
    ({ broker, recorder, dir, configFile, bridge } = await startGracefulBridgeRun(this, options, {
      nodes: { 1: { protected: true } },
    }));
  });

  after(async () => {
    if (agent?.running) await agent.stop('SIGKILL');
    await stopBridgeAndBroker({ bridge, recorder, broker, dir });
  });

  /** Node 3 on, with an agent whose OS halts `haltAfterMs` after the shutdown command. */
  async function agentOnline(haltAfterMs: number): Promise<void> {
    await ensureNodeOn(recorder, BASE, NODE);
    agent = await startAgentProcess(recorder, {
      dir,
      url: broker.url,
      base: BASE,
      boardId: BOARD_ID,
      node: NODE,
      shutdownCommand: [process.execPath, writeScript(dir, `halt-${haltAfterMs}.mjs`, slowHalt(haltAfterMs))],
    });
  }

  it(
    'shutdown prints asking the agent, waiting for the OS, power cut, then the answer, each as it ' + 'happens',
    async () => {
      await agentOnline(1500);
      const cli = startCli(['power', String(NODE), 'shutdown', '-c', configFile], { cwd: dir });
      // The first step is on the terminal while the OS is still going down.
      const firstSeen = await waitForOutput(cli, /node 3: asking the agent to shut the OS down\n/, 10_000);
      const { code } = await cli.exited;
      assert.equal(code, 0, cli.stderr);
      const lines = cli.stdout.trim().split('\n');
      assert.deepEqual(lines, [
        'node 3: asking the agent to shut the OS down',
        'node 3: agent gone; waiting 1s for the OS to finish before cutting power',
        'node 3: OS shut down, power cut',
        'node 3: OFF (off)',
      ]);
      assert.ok(Date.now() - firstSeen >= 1000, 'the first line came before the OS was down (1.5 s + settle 1 s)');
    },
  );

  it("prints only its own action's steps: another client's command on another node is not shown", async () => {
    const from = recorder.mark();
    const cli = startCli(['power', '5', 'off', '-c', configFile], { cwd: dir });
    await recorder.command(6, 'OFF');
    const { code } = await cli.exited;
    assert.equal(code, 0, cli.stderr);
    await recorder.waitForEvent((e) => e.node === 6 && e.result === 'ok', 5000, from);
    assert.doesNotMatch(cli.stdout, /node 6/);
    assert.match(cli.stdout.trim().split('\n').at(-1) ?? '', /^node 5: OFF \(off\)$/);
  });

  it('--json prints the answer only, one JSON line', async () => {
    const result = await runCli(['power', '5', 'on', '--json', '-c', configFile], { cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim().split('\n').length, 1);
    assert.equal((JSON.parse(result.stdout) as { status: string }).status, 'ok');
  });

  it('a refused action says why once, as its step, not again as the answer', async () => {
    const result = await runCli(['power', '1', 'off', '-c', configFile], { cwd: dir });
    assert.equal(result.code, 1);
    assert.deepEqual(result.stdout.trim().split('\n'), [
      'node 1: error: node 1 is protected: OFF refused (set nodes.1.protected: false to allow it)',
    ]);
  });

  it('an error without a step of its own is still printed: an unknown node', async () => {
    const result = await runCli(['power', '99', 'on', '-c', configFile], { cwd: dir });
    assert.equal(result.code, 1);
    assert.match(result.stdout.trim(), /^error: unknown node 99/);
  });

  it('a time-out says the action may still be under way and how to follow it', async () => {
    await agentOnline(4000);
    const from = recorder.mark();
    const result = await runCli(['power', String(NODE), 'shutdown', '--timeout', '1', '-c', configFile], { cwd: dir });
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^node 3: asking the agent to shut the OS down$/m);
    const port = new URL(broker.url).port;
    assert.match(
      result.stdout,
      new RegExp(
        `^error: no answer from the bridge within 1 s: the action may still be under way; follow it with ` +
          `mosquitto_sub -h 127\\.0\\.0\\.1 -p ${port} -t '${BASE}/bridge/event' -v$`,
        'm',
      ),
    );
    // And it was: the node goes off after the CLI gave up.
    await recorder.waitForPayload(`${BASE}/node/${NODE}/power`, 'OFF', 15_000, from);
  });

  it('--help names the default time-out', async () => {
    const result = await runCli(['--help']);
    assert.match(result.stdout, /--timeout\s+default: long enough for the config's power sequence/);
    assert.match(result.stdout, /off\/shutdown 172 s/);
  });
});

async function waitForOutput(cli: CliProcess, pattern: RegExp, timeoutMs: number): Promise<number> {
  const until = Date.now() + timeoutMs;
  while (!pattern.test(cli.stdout)) {
    if (Date.now() > until) throw new Error(`no ${pattern} in the output:\n${cli.stdout}${cli.stderr}`);
    if (!cli.running) throw new Error(`the CLI exited before ${pattern}:\n${cli.stdout}${cli.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Date.now();
}

describe('the tour: what the bridge says at start', function () {
  this.timeout(30_000);

  it('a simulated GPIO cluster says its node count once: "GPIO cluster (simulated), 16 nodes"', async () => {
    const dir = tempDir('tpm-cli-generic-');
    const config = testBridgeConfig({ dir, url: 'embedded', embeddedPort: await freePort(), base: 'gen', id: 'gen' });
    config.board = { type: 'simulator', id: 'gen', simulate: { model: 'generic', nodes: 16 } };
    config.nodes = {};
    const bridge = await startBridge(writeConfig(dir, config, 'generic.yaml'));
    try {
      const online = bridge.logLines().find((l) => /^bridge online/.test(l.msg));
      assert.equal(online?.msg, 'bridge online: GPIO cluster (simulated), 16 nodes, base topic gen');
    } finally {
      await bridge.stop();
    }
  });
});
