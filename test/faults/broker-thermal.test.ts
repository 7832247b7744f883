import assert from 'node:assert/strict';
import type { BridgeApp } from '../../src/app/bridge.js';
import { systemClock } from '../../src/util/clock.js';
import { tempDir } from '../support/cli.js';
import { runBridge, stateDirOf } from '../support/in-process-bridge.js';
import { agentStateAtBridge, recordPowerWrites, startTestAgent, type TestAgent } from '../support/in-process-agent.js';
import { requireMosquitto, startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import type { CapturedLog } from '../support/log-capture.js';
import { Recorder } from '../support/recorder.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { delay, until } from './helpers.js';

/**
 * policies.thermal through a broker hiccup: a real mosquitto killed and started again while a node
 * is hot. The retained readings come again at the resubscription: no second action on a node
 * already acted on, and none on the reading of an agent that is gone.
 */

const NODE = 3;

describe('faults: the thermal policy through a broker restart (real mosquitto)', function () {
  this.timeout(40_000);
  let mosquitto: Mosquitto | undefined;
  let bridge: BridgeApp | undefined;
  let agent: TestAgent | undefined;
  let rec: Recorder | undefined;
  let log: CapturedLog;
  let proxy: TcpProxy | undefined;

  before(function () {
    requireMosquitto(this);
  });

  afterEach(async () => {
    if (agent && !agent.stopped) await agent.stop();
    agent = undefined;
    await bridge?.stop();
    bridge = undefined;
    await rec?.close();
    rec = undefined;
    await proxy?.close();
    proxy = undefined;
    await mosquitto?.stop();
  });

  async function start(url = mosquitto!.url): Promise<void> {
    const run = await runBridge(url, stateDirOf(tempDir('tpm-thermal-')), {
      clock: systemClock,
      sections: {
        board: { type: 'simulator', poll_interval: '1h', simulate: { model: 'tpi1' } },
        nodes: { [NODE]: { agent: true } },
        power: { settle_time: '300ms', graceful_timeout: '5s', min_off_time: 0, on_stagger: 0 },
        policies: { thermal: { enabled: true, nodes: [NODE], max_celsius: 80, clear_celsius: 70 } },
      },
    });
    bridge = run.bridge;
    log = run.log;
  }

  /** The thermal policy's decisions, from the bridge's log (an event sent in the outage is lost, its line is not). */
  const thermal = (): string[] =>
    log.messages().filter((m) => /^node \d+ (shutdown|off) \(policy\): (temperature|(shutdown|off) failed)/.test(m));
  /** Every action of the policy, its power steps included. */
  const byPolicy = (): string[] => log.messages().filter((m) => m.includes('(policy)'));

  it('a hot node whose SHUTDOWN is under way when mosquitto is killed is shut down once', async () => {
    mosquitto = await startMosquitto({ persistence: true });
    await start();
    const writes = recordPowerWrites(bridge!);
    agent = await startTestAgent({
      url: mosquitto.url,
      node: NODE,
      gracefulTimeout: '5s',
      drainMs: 1500,
      temperature: 95,
    });
    await until(() => agent!.startedAt !== undefined, 'the agent running its shutdown argv', 10_000);
    await mosquitto.kill();
    await delay(300);
    await mosquitto.start();
    await until(() => bridge!.connection.connected, 'the bridge back on the broker', 10_000);
    await until(() => thermal().length > 0, 'the thermal outcome', 15_000);
    await delay(2000);
    assert.equal(agent.runs, 1, 'the agent was asked to shut down once');
    assert.ok(writes.filter((w) => w.node === NODE).length <= 1, JSON.stringify(writes));
    assert.equal(thermal().length, 1, JSON.stringify(thermal()));
  });

  it('the retained hot reading of a gone agent, handed back after mosquitto restarts, is not acted on', async () => {
    mosquitto = await startMosquitto({ persistence: true });
    rec = await Recorder.connect(mosquitto.url, 'tp', { filters: ['tp/#'] });
    // What the node's last boot left: a hot reading, and its agent's will.
    await rec.publish(`tp/node/${NODE}/agent/state`, 'offline', { retain: true });
    await rec.publish(`tp/node/${NODE}/agent/telemetry`, JSON.stringify({ temperature: 95 }), { retain: true });
    // Saved to disk by a clean restart, as a distribution's mosquitto does.
    await rec.close();
    rec = undefined;
    await mosquitto.restart();
    await start();
    const writes = recordPowerWrites(bridge!);
    await until(() => agentStateAtBridge(bridge!, NODE) === 'offline', 'the retained offline at the bridge', 10_000);
    await mosquitto.kill();
    await delay(300);
    await mosquitto.start();
    await until(() => bridge!.connection.connected, 'the bridge back on the broker', 10_000);
    await until(() => agentStateAtBridge(bridge!, NODE) === 'offline', 'the retained offline again', 10_000);
    await delay(500);
    assert.deepEqual(writes, []);
    assert.deepEqual(byPolicy(), []);
    assert.equal(bridge!.model.power(NODE), true);
  });

  it('a node that got hot while the bridge had lost the broker is acted on at the reconnection', async () => {
    mosquitto = await startMosquitto();
    proxy = await startTcpProxy(mosquitto.port);
    rec = await Recorder.connect(mosquitto.url, 'tp', { filters: ['tp/#'] });
    // The agent of node 3, played by the test on its own connection (it keeps it through the bridge's outage).
    await rec.publish(`tp/node/${NODE}/agent/state`, 'online', { retain: true });
    await rec.publish(`tp/node/${NODE}/agent/telemetry`, JSON.stringify({ temperature: 60 }), { retain: true });
    await start(proxy.url);
    await until(() => agentStateAtBridge(bridge!, NODE) === 'online', 'the agent online at the bridge', 10_000);
    proxy.block();
    proxy.cut();
    await until(() => !bridge!.connection.connected, 'the bridge losing the broker', 10_000);
    // Hot while the bridge is away: the agent publishes it once (a change), retained.
    await rec.publish(`tp/node/${NODE}/agent/telemetry`, JSON.stringify({ temperature: 95 }), { retain: true });
    const mark = rec.mark();
    proxy.unblock();
    await until(() => bridge!.connection.connected, 'the bridge back on the broker', 15_000);
    const command = await rec.waitFor(`tp/node/${NODE}/agent/command`, undefined, 5000, mark);
    assert.equal(command.payload, 'SHUTDOWN');
  });
});
