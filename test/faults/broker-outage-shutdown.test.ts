import assert from 'node:assert/strict';
import type { BridgeApp } from '../../src/app/bridge.js';
import { systemClock } from '../../src/util/clock.js';
import { tempDir } from '../support/cli.js';
import { runBridge, stateDirOf } from '../support/in-process-bridge.js';
import { agentStateAtBridge, startTestAgent, type TestAgent } from '../support/in-process-agent.js';
import { requireMosquitto, startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { delay, until } from './helpers.js';

/**
 * Issue 13, point 2, as a user met it: mosquitto goes down while a graceful SHUTDOWN is asked
 * or under way. Every sequence must end (delivered after the restart, or an error naming
 * FORCE_OFF), no node stays `shutting_down`, FORCE_OFF gets through, nothing is left pending,
 * and a stop of the bridge finishes at once. Real mosquitto stopped and started again; the
 * bridge and the REAL agent of node 3 in this process.
 */

const NODE = 3;
const GRACEFUL_TIMEOUT_MS = 5000;
const SETTLE_MS = 300;

describe('faults: graceful shutdowns through a broker outage (real mosquitto)', function () {
  this.timeout(40_000);
  let mosquitto: Mosquitto | undefined;
  let bridge: BridgeApp | undefined;
  let agent: TestAgent | undefined;

  before(function () {
    requireMosquitto(this);
  });

  beforeEach(async () => {
    mosquitto = await startMosquitto();
    const run = await runBridge(mosquitto.url, stateDirOf(tempDir('tpm-outage-')), {
      clock: systemClock,
      sections: {
        board: { type: 'simulator', poll_interval: '1h', simulate: { model: 'tpi1' } },
        nodes: { [NODE]: { agent: true } },
        power: {
          settle_time: `${SETTLE_MS}ms`,
          graceful_timeout: `${GRACEFUL_TIMEOUT_MS}ms`,
          min_off_time: 0,
          on_stagger: 0,
        },
      },
    });
    bridge = run.bridge;
  });

  afterEach(async () => {
    if (agent && !agent.stopped) await agent.stop();
    agent = undefined;
    await bridge?.stop();
    bridge = undefined;
    await mosquitto?.stop();
  });

  async function agentOnline(options: { drainMs: number; hang?: boolean }): Promise<TestAgent> {
    if (bridge!.model.power(NODE) !== true) assert.equal((await bridge!.power.execute(NODE, 'on', 'mqtt')).ok, true);
    agent = await startTestAgent({
      url: mosquitto!.url,
      node: NODE,
      gracefulTimeout: `${GRACEFUL_TIMEOUT_MS}ms`,
      ...options,
    });
    await until(() => agentStateAtBridge(bridge!, NODE) === 'online', 'the agent online at the bridge', 10_000);
    return agent;
  }

  /** The outcome of `promise`; fails the test, saying `what`, when it is still pending after `ms`. */
  async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    const pending = Symbol('pending');
    const outcome = await Promise.race([promise, delay(ms).then(() => pending)]);
    if (outcome === pending) assert.fail(`${what}: still pending after ${ms} ms`);
    return outcome as T;
  }

  it(
    "a schedule's and a command's SHUTDOWN started while mosquitto is down end with an error naming " +
      'FORCE_OFF; FORCE_OFF works after',
    async () => {
      const a = await agentOnline({ drainMs: 500 });
      await mosquitto!.stop();
      await until(() => !bridge!.connection.connected, 'the bridge losing the broker');
      const bySchedule = await within(
        bridge!.power.execute(NODE, 'shutdown', 'schedule'),
        GRACEFUL_TIMEOUT_MS + 2000,
        "the schedule's SHUTDOWN",
      );
      assert.equal(bySchedule.ok, false);
      assert.match(bySchedule.error ?? '', /FORCE_OFF/);
      assert.notEqual(bridge!.model.state(NODE), 'shutting_down');
      const byCommand = await within(
        bridge!.power.execute(NODE, 'shutdown', 'mqtt'),
        GRACEFUL_TIMEOUT_MS + 2000,
        "the command's SHUTDOWN",
      );
      assert.equal(byCommand.ok, false);
      assert.equal(bridge!.connection.pending, 0, 'no publish pending');
      assert.equal(bridge!.model.power(NODE), true, 'nothing was cut');

      await mosquitto!.start();
      await until(() => bridge!.connection.connected, 'the bridge back on the broker', 10_000);
      await until(() => agentStateAtBridge(bridge!, NODE) === 'online', 'the agent online again', 10_000);
      assert.equal(a.runs, 0, 'the agent never got a command that the bridge had given up');
      const forced = await within(bridge!.power.execute(NODE, 'force-off', 'mqtt'), 2000, 'FORCE_OFF');
      assert.equal(forced.ok, true, forced.error);
      assert.equal(bridge!.model.power(NODE), false);
    },
  );

  it(
    'a SHUTDOWN under way when mosquitto dies ends (cut after the agent is gone, or an error), and the bridge ' +
      'stops at once',
    async () => {
      const a = await agentOnline({ drainMs: 1500 });
      const shutdown = bridge!.power.execute(NODE, 'shutdown', 'schedule');
      await until(() => a.startedAt !== undefined, 'the agent running its argv', 5000);
      await mosquitto!.stop();
      await delay(500);
      await mosquitto!.start();
      const result = await within(shutdown, GRACEFUL_TIMEOUT_MS + SETTLE_MS + 3000, 'the SHUTDOWN under way');
      assert.notEqual(bridge!.model.state(NODE), 'shutting_down');
      if (result.ok) {
        assert.ok(a.endedAt !== undefined, 'power was cut only after the argv ended');
        assert.equal(bridge!.model.power(NODE), false);
      } else {
        assert.match(result.error ?? '', /FORCE_OFF/);
      }
      // The last events and states of the sequence are on their way: each ends within a moment.
      await until(() => bridge!.connection.pending === 0, 'no publish pending', 2000);
      console.log(
        `      SHUTDOWN through a 0.5 s broker outage mid-drain: ` +
          `${result.ok ? 'power cut after the agent went' : result.error}`,
      );
    },
  );

  it('FORCE_OFF during the outage ends a graceful sequence stuck in its drain and cuts at once', async () => {
    const a = await agentOnline({ drainMs: 0, hang: true });
    const shutdown = bridge!.power.execute(NODE, 'shutdown', 'mqtt');
    // The command delivered and acknowledged: the sequence waits for the agent, not for the broker.
    await until(() => a.startedAt !== undefined && bridge!.connection.pending === 0, 'the agent running its argv');
    await mosquitto!.kill();
    await until(() => !bridge!.connection.connected, 'the bridge losing the broker');
    assert.equal(agentStateAtBridge(bridge!, NODE), 'unknown', 'the agent counts as unknown without the broker');
    const forced = await within(bridge!.power.execute(NODE, 'force-off', 'mqtt'), 2000, 'FORCE_OFF');
    assert.equal(forced.ok, true, forced.error);
    assert.equal(bridge!.model.power(NODE), false);
    assert.equal(bridge!.model.state(NODE), 'off');
    const ended = await within(shutdown, 1000, 'the graceful sequence');
    assert.match(ended.error ?? '', /overridden by FORCE_OFF/);
    await mosquitto!.start();
  });

  it(
    'a stop of the bridge while mosquitto is down and a graceful sequence waits finishes at once, power ' + 'unchanged',
    async () => {
      const a = await agentOnline({ drainMs: 0, hang: true });
      const shutdown = bridge!.power.execute(NODE, 'shutdown', 'mqtt');
      await until(() => a.startedAt !== undefined && bridge!.connection.pending === 0, 'the agent running its argv');
      await mosquitto!.stop();
      await until(() => !bridge!.connection.connected, 'the bridge losing the broker');
      const startedAt = Date.now();
      await within(bridge!.stop(), 5000, 'the stop of the bridge');
      assert.ok(Date.now() - startedAt < 3000, `the stop took ${Date.now() - startedAt} ms`);
      const result = await within(shutdown, 1000, 'the SHUTDOWN after the stop');
      assert.equal(result.ok, false);
      assert.equal(bridge!.model.power(NODE), true, 'a stop never cuts power');
      bridge = undefined;
    },
  );
});
