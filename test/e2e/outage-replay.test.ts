import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startBridge, testBridgeConfig, writeConfig, type CliProcess } from '../support/cli.js';
import type { Mosquitto } from '../support/mosquitto.js';
import type { Recorder } from '../support/recorder.js';
import { delay } from '../support/wait.js';
import {
  ensureNodeOn,
  gracefulAgentNode,
  payloads,
  startAgentProcess,
  startBrokerRun,
  writeScript,
  type AgentProcessOptions,
} from './harness.js';

/**
 * Issue 13's reports replayed against the real processes (the built bridge and agent CLIs on a
 * real mosquitto): a graceful SHUTDOWN stuck in a drain while mosquitto is killed and started
 * again (point 2), and SHUTDOWN, SHUTDOWN, REBOOT 1 s apart to one agent (point 5).
 */

const BASE = 'e2eo';
const BOARD_ID = 'e2eo';
const NODE = 3;
const topic = (suffix: string): string => `${BASE}/node/${NODE}/${suffix}`;

/**
 * A drain that does not end (a stuck `kubectl drain`): it records its run and waits, until the
 * agent that started it is gone (the test kills the agent; an orphan would linger after the run).
 */
const STUCK_DRAIN = `import { appendFileSync } from 'node:fs';
appendFileSync(process.argv[2], 'ran\\n');
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 200);
`;

/** A shutdown the system accepts and then does nothing about (a cancelled \`shutdown +5\`). */
const ACCEPTED_NOTHING_DONE = `import { appendFileSync } from 'node:fs';
appendFileSync(process.argv[2], process.argv[3] + '\\n');
process.exit(process.argv[3] === 'reboot' ? 1 : 0);
`;

describe('e2e: issue 13 replayed against the processes (real mosquitto, bridge and agent CLIs)', function () {
  this.timeout(45_000);
  let broker: Mosquitto;
  let recorder: Recorder | undefined;
  let bridge: CliProcess | undefined;
  let agent: CliProcess | undefined;
  let dir: string;

  before(async function () {
    ({ broker, recorder, dir } = await startBrokerRun(this, BASE, 'tpm-e2e-outage-'));
  });

  /** The agent of node NODE with these commands and time-out, online. */
  const startAgent = (options: Pick<AgentProcessOptions, 'gracefulTimeout' | 'shutdownCommand' | 'rebootCommand'>) =>
    startAgentProcess(recorder!, { dir, url: broker.url, base: BASE, boardId: BOARD_ID, node: NODE, ...options });

  after(async () => {
    if (agent?.running) await agent.stop('SIGKILL');
    if (bridge?.running) await bridge.stop('SIGKILL');
    await recorder?.close();
    await broker?.stop();
  });

  it(
    'SHUTDOWN stuck in a drain while mosquitto is killed and restarted: FORCE_OFF gets through at once, and ' +
      'SIGTERM exits 0 in time',
    async () => {
      const rec = recorder!;
      const config = testBridgeConfig({
        dir,
        url: broker.url,
        base: BASE,
        id: BOARD_ID,
        overrides: gracefulAgentNode(NODE, '20s'),
      });
      bridge = await startBridge(writeConfig(dir, config, 'bridge.yaml'));
      await ensureNodeOn(rec, BASE, NODE);
      const marker = path.join(dir, 'drain-runs');
      agent = await startAgent({
        gracefulTimeout: '20s',
        shutdownCommand: [process.execPath, writeScript(dir, 'stuck-drain.mjs', STUCK_DRAIN), marker],
      });
      const from = rec.mark();
      await rec.command(NODE, 'SHUTDOWN');
      await rec.waitForPayload(topic('agent/state'), 'shutting_down', 5000, from);

      await broker.kill();
      await delay(700);
      await broker.start();
      // The bridge comes back by itself and says so; its graceful sequence is still waiting.
      await rec.waitForPayload(`${BASE}/bridge/state`, 'online', 15_000, from);
      const forcedAt = rec.mark();
      const sentAt = Date.now();
      await rec.command(NODE, 'FORCE_OFF');
      const off = await rec.waitForPayload(topic('power'), 'OFF', 5000, forcedAt);
      assert.ok(off.at - sentAt < 3000, `FORCE_OFF took ${off.at - sentAt} ms`);
      const ended = await rec.waitForEvent(
        (e) => e.node === NODE && e.action === 'shutdown' && e.result === 'error',
        5000,
        from,
      );
      assert.match(ended.error ?? '', /overridden by FORCE_OFF/);
      const forced = await rec.waitForEvent(
        (e) => e.node === NODE && e.action === 'force-off' && e.result === 'ok',
        5000,
        forcedAt,
      );
      assert.equal(forced.source, 'mqtt');
      assert.equal(readFileSync(marker, 'utf8'), 'ran\n', 'the drain ran once');

      const exit = await bridge.stop('SIGTERM');
      assert.equal(exit.code, 0, `the bridge exits 0 on SIGTERM\n${bridge.describe()}`);
      assert.ok(exit.ms < 5000, `the stop took ${exit.ms} ms`);
      assert.ok(!bridge.logLines().some((l) => /too long/.test(l.msg)));
      bridge = undefined;
      await agent.stop('SIGKILL');
      agent = undefined;
    },
  );

  it(
    "SHUTDOWN, SHUTDOWN and REBOOT 1 s apart run the agent's argv once; online only when the OS is still up " +
      'graceful_timeout later',
    async () => {
      const rec = recorder!;
      const marker = path.join(dir, 'runs');
      const script = writeScript(dir, 'accepted.mjs', ACCEPTED_NOTHING_DONE);
      agent = await startAgent({
        gracefulTimeout: '5s',
        shutdownCommand: [process.execPath, script, marker, 'shutdown'],
        rebootCommand: [process.execPath, script, marker, 'reboot'],
      });
      const from = rec.mark();
      await rec.publish(topic('agent/command'), 'SHUTDOWN');
      await delay(1000);
      await rec.publish(topic('agent/command'), 'SHUTDOWN');
      await delay(1000);
      await rec.publish(topic('agent/command'), 'REBOOT');
      await delay(1500);
      assert.equal(readFileSync(marker, 'utf8'), 'shutdown\n', 'one run of the shutdown argv, no reboot');
      assert.deepEqual(payloads(rec, topic('agent/state'), from), ['shutting_down'], 'never online in the middle');
      assert.equal(
        agent.logLines().filter((l) => /^ignored (SHUTDOWN|REBOOT): the OS is going down/.test(l.msg)).length,
        2,
      );

      // The OS did not go down: 5 s after the success the agent says so and takes commands again.
      const event = await rec.waitFor(topic('agent/event'), () => true, 8000, from);
      assert.match((JSON.parse(event.payload) as { error: string }).error, /the OS is still up 5s after/);
      await rec.waitForPayload(topic('agent/state'), 'online', 3000, from);
      await rec.publish(topic('agent/command'), 'REBOOT');
      await rec.waitFor(topic('agent/event'), (m) => m.at > event.at, 5000, from);
      assert.ok(existsSync(marker));
      assert.equal(readFileSync(marker, 'utf8'), 'shutdown\nreboot\n', 'the next command runs');
    },
  );
});
