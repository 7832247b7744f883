import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { CliProcess } from '../support/cli.js';
import type { Mosquitto } from '../support/mosquitto.js';
import type { EventPayload, Recorder } from '../support/recorder.js';
import {
  ensureNodeOn,
  firstPayload,
  nodeStates,
  payloads,
  startAgentProcess,
  startGracefulBridgeRun,
  stopBridgeAndBroker,
  writeScript,
} from './harness.js';

/**
 * Graceful off / shutdown (docs/topics.md, `OFF` and `SHUTDOWN`), end to end: a real mosquitto, the built bridge CLI
 * on a simulated Turing Pi 1 and the built agent CLI for node 3, whose shutdown_command is a
 * harmless script standing in for `systemctl poweroff`.
 */

const BASE = 'e2eg';
const BOARD_ID = 'e2eg';
const NODE = 3;
const SETTLE_MS = 1000;

const topic = (suffix: string): string => `${BASE}/node/${NODE}/${suffix}`;

/**
 * What an OS halt looks like to the agent: the script records that it ran, then the system
 * stops the agent with SIGTERM (systemd does that to every service on poweroff).
 */
const HALT_SCRIPT = `import { writeFileSync } from 'node:fs';
writeFileSync(process.argv[2], JSON.stringify({ ranAt: Date.now(), args: process.argv.slice(2) }));
process.kill(process.ppid, 'SIGTERM');
`;

/** A shutdown that the OS refuses (polkit says no, a drain step failed). */
const FAILING_SCRIPT = `import { writeFileSync } from 'node:fs';
writeFileSync(process.argv[2], 'ran');
process.stderr.write('Failed to power off system: Access denied\\n');
process.exit(1);
`;

describe('e2e: graceful shutdown of an agent node (real mosquitto, bridge and agent processes)', function () {
  this.timeout(30_000);

  let broker: Mosquitto;
  let recorder: Recorder;
  let bridge: CliProcess | undefined;
  let agent: CliProcess | undefined;
  let dir: string;
  let marker: string;

  before(async function () {
    const options = { base: BASE, id: BOARD_ID, node: NODE, dirPrefix: 'tpm-e2e-graceful-', gracefulTimeout: '15s' };
    const overrides = { board: { poll_interval: '1s' } };
    ({ broker, recorder, dir, bridge } = await startGracefulBridgeRun(this, options, overrides));
  });

  after(async () => {
    if (agent?.running) await agent.stop('SIGKILL');
    await stopBridgeAndBroker({ bridge, recorder, broker, dir });
  });

  /** Node 3 on (as the board reports it) and its agent online, running `script` on SHUTDOWN. */
  async function nodeOnWithAgent(script: string): Promise<void> {
    await ensureNodeOn(recorder, BASE, NODE);
    marker = path.join(dir, `marker-${Date.now()}`);
    const from = recorder.mark();
    agent = await startAgentProcess(recorder, {
      dir,
      url: broker.url,
      base: BASE,
      boardId: BOARD_ID,
      node: NODE,
      shutdownCommand: [process.execPath, script, marker],
    });
    // A node switched on is "starting" until its agent is online; the bridge then says "on".
    if (nodeStates(recorder, BASE, NODE, 0).at(-1) !== 'on') {
      await recorder.waitFor(
        topic('state'),
        (m) => (JSON.parse(m.payload) as { state: string }).state === 'on',
        5000,
        from,
      );
    }
  }

  afterEach(async () => {
    if (agent?.running) await agent.stop();
    agent = undefined;
  });

  const events = (from: number): EventPayload[] => recorder.events(from).filter((e) => e.node === NODE);

  async function expectGracefulOff(word: 'SHUTDOWN' | 'OFF', action: 'shutdown' | 'off'): Promise<void> {
    await nodeOnWithAgent(writeScript(dir, 'halt.mjs', HALT_SCRIPT));
    const running = agent!;
    const from = recorder.mark();

    await recorder.command(NODE, word);
    const powerOff = await recorder.waitForPayload(topic('power'), 'OFF', 15_000, from);
    const final = await recorder.waitForEvent((e) => e.node === NODE && e.result !== 'progress', 5000, from);

    // The agent ran its argv: the script recorded its run with the argument from the config.
    assert.ok(existsSync(marker), 'the shutdown script wrote its marker file');
    assert.deepEqual((JSON.parse(readFileSync(marker, 'utf8')) as { args: string[] }).args, [marker]);
    // ... said shutting_down, and went away like a halted OS (a clean offline, exit 0).
    assert.deepEqual(payloads(recorder, topic('agent/state'), from), ['shutting_down', 'offline']);
    const exit = await running.exited;
    assert.equal(exit.code, 0, `the agent exits 0 on the SIGTERM of the halt\n${running.describe()}`);

    // The bridge asked the agent (never retained), and the agent answered.
    const commands = recorder.since(from, topic('agent/command'));
    assert.deepEqual(
      commands.map((m) => [m.payload, m.retain]),
      [['SHUTDOWN', false]],
    );

    // Power was cut only after the agent was gone, and settle_time later.
    const offline = firstPayload(recorder, topic('agent/state'), 'offline', from)!;
    const shuttingDown = firstPayload(recorder, topic('agent/state'), 'shutting_down', from)!;
    assert.ok(shuttingDown.at <= offline.at);
    const waited = powerOff.at - offline.at;
    assert.ok(
      waited >= SETTLE_MS - 50,
      `power cut ${waited} ms after the agent went offline; settle_time is ${SETTLE_MS} ms`,
    );
    assert.ok(
      waited < SETTLE_MS + 4000,
      `power cut ${waited} ms after the agent went offline: far later than settle_time`,
    );
    assert.deepEqual(payloads(recorder, topic('power'), from), ['OFF'], 'one OFF, nothing else, on node/3/power');

    // Every step is an event, in order, and the last one is ok.
    const seen = events(from);
    assert.ok(
      seen.every((e) => e.source === 'mqtt' && e.action === action),
      JSON.stringify(seen),
    );
    const progress = seen.filter((e) => e.result === 'progress').map((e) => e.message ?? '');
    assert.equal(progress.length, 2, JSON.stringify(seen));
    assert.match(progress[0]!, /agent/);
    assert.match(progress[1]!, /agent gone/);
    assert.equal(final.result, 'ok', JSON.stringify(final));
    assert.equal(seen.at(-1)?.result, 'ok');
    assert.ok(
      Date.parse(final.time) >= Date.parse(seen[1]!.time) + SETTLE_MS - 50,
      'the ok comes settle_time after "agent gone"',
    );

    // And node/3/state told the story: shutting_down while the OS went down, then off.
    await recorder.waitFor(
      topic('state'),
      (m) => (JSON.parse(m.payload) as { state: string }).state === 'off',
      5000,
      from,
    );
    assert.deepEqual(nodeStates(recorder, BASE, NODE, from), ['shutting_down', 'off']);
  }

  it('SHUTDOWN: the agent runs its command, goes offline, and power is cut settle_time later', async () => {
    await expectGracefulOff('SHUTDOWN', 'shutdown');
  });

  it('OFF with off_mode graceful takes the same path: agent first, then settle_time, then the cut', async () => {
    await expectGracefulOff('OFF', 'off');
  });

  it('a shutdown command that fails: the agent goes back online, an error event, and power stays on', async () => {
    await nodeOnWithAgent(writeScript(dir, 'fail.mjs', FAILING_SCRIPT));
    const from = recorder.mark();

    await recorder.command(NODE, 'SHUTDOWN');
    const failure = await recorder.waitForEvent((e) => e.node === NODE && e.result === 'error', 10_000, from);

    assert.equal(readFileSync(marker, 'utf8'), 'ran', 'the agent did run the configured argv');
    assert.match(failure.error ?? '', /shutdown failed, power stays on/);
    // The reason the agent saw reaches the user: the exit code and the command's own words.
    assert.match(failure.error ?? '', /exited with code 1/, failure.error);
    assert.match(failure.error ?? '', /Access denied/, failure.error);
    await recorder.waitForPayload(topic('agent/state'), 'online', 5000, from);
    assert.deepEqual(payloads(recorder, topic('agent/state'), from), ['shutting_down', 'online']);
    assert.ok(agent!.running, 'the agent keeps running: the OS is still up');

    // The state goes back to on, and power was never touched, as the board reports it.
    await recorder.waitFor(
      topic('state'),
      (m) => (JSON.parse(m.payload) as { state: string }).state === 'on',
      5000,
      from,
    );
    assert.deepEqual(nodeStates(recorder, BASE, NODE, from), ['shutting_down', 'on']);
    const status = await recorder.request('power', { node: NODE, action: 'status' });
    assert.equal(status.status, 'ok');
    assert.equal((status.data as { power: string }).power, 'ON');
    assert.deepEqual(recorder.since(from, topic('power')), [], 'node/3/power was not republished: nothing changed');
    assert.ok(!events(from).some((e) => e.result === 'ok'), 'no event claims success');
  });

  it('no agent running: SHUTDOWN is refused with an error that points to FORCE_OFF, and nothing is cut', async () => {
    await nodeOnWithAgent(writeScript(dir, 'halt.mjs', HALT_SCRIPT));
    // The agent stops (its service stopped, say): it says offline on its way out.
    let from = recorder.mark();
    await agent!.stop();
    await recorder.waitForPayload(topic('agent/state'), 'offline', 5000, from);

    from = recorder.mark();
    await recorder.command(NODE, 'SHUTDOWN');
    const refused = await recorder.waitForEvent((e) => e.node === NODE && e.result === 'error', 5000, from);
    assert.match(refused.error ?? '', /not online/);
    assert.match(refused.error ?? '', /FORCE_OFF/);

    // The same through a request: the answer carries the reason and the transaction.
    const answer = await recorder.request('power', { node: NODE, action: 'shutdown' });
    assert.equal(answer.status, 'error');
    assert.match(answer.error ?? '', /FORCE_OFF/);

    const status = await recorder.request('power', { node: NODE, action: 'status' });
    assert.equal((status.data as { power: string }).power, 'ON', 'power is still on');
    assert.deepEqual(recorder.since(from, topic('power')), [], 'no power change was published');
    assert.deepEqual(
      recorder.since(from, topic('agent/command')),
      [],
      'no command was sent to an agent that is not there',
    );
    assert.ok(!existsSync(marker), 'the shutdown script never ran');
  });
});
