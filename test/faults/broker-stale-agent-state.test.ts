import assert from 'node:assert/strict';
import { connectAsync } from 'mqtt';
import type { Agent } from '../../src/app/agent.js';
import type { BridgeApp } from '../../src/app/bridge.js';
import { agentStateAtBridge, recordPowerWrites, type PowerWrite } from '../support/in-process-agent.js';
import { requireMosquitto, startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { DRAINING_NODE, startDrainingAgent } from './draining-agent.js';
import { delay, startLibraryBridge, until, type LibraryBridge } from './helpers.js';

/**
 * A mosquitto that keeps retained messages on disk (as distributions ship it) saves them at a
 * clean stop or every autosave_interval, not at each change. Killed (a crash, a power cut of its
 * host) and started again, it hands back what it last saved: for an agent whose node booted since,
 * the `offline` of its previous boot. The bridge, back first, must not take that for the end of
 * the OS of an agent still draining and not yet reconnected (its link comes back later).
 *
 * Real mosquitto with persistence; the bridge in this process on the simulated Turing Pi 1; the
 * REAL agent of node 3 whose argv is a real child process, through a relay that stays down 2.5 s
 * longer than the broker.
 */

const NODE = DRAINING_NODE;
const SETTLE_MS = 1000;
const DRAIN_MS = 8000;

describe("faults: a persistent mosquitto restarted mid-shutdown hands back the agent's state it saved", function () {
  this.timeout(60_000);
  let mosquitto: Mosquitto | undefined;
  let proxy: TcpProxy | undefined;
  let lib: LibraryBridge | undefined;
  let agent: Agent | undefined;

  before(function () {
    requireMosquitto(this);
  });

  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    await lib?.bridge.stop();
    lib = undefined;
    await proxy?.close();
    proxy = undefined;
    await mosquitto?.stop();
    mosquitto = undefined;
  });

  async function bridgeWithNodeOn(url: string): Promise<{ bridge: BridgeApp; writes: PowerWrite[] }> {
    lib = await startLibraryBridge(url, {
      sections: {
        board: { poll_interval: '1h' },
        nodes: { [NODE]: { agent: true } },
        power: { settle_time: `${SETTLE_MS}ms`, graceful_timeout: '30s', min_off_time: 0, on_stagger: 0 },
      },
    });
    const writes = recordPowerWrites(lib.bridge);
    assert.equal((await lib.bridge.power.execute(NODE, 'on', 'mqtt')).ok, true);
    return { bridge: lib.bridge, writes };
  }

  it("killed: an earlier boot's offline is no end of the OS; power cut only after the drain ended", async () => {
    mosquitto = await startMosquitto({ persistence: true });
    // The previous boot of node 3 ended with its agent's offline, saved at a clean stop.
    const previous = await connectAsync(mosquitto.url, { clientId: 'previous-boot' });
    await previous.publishAsync(`tp/node/${NODE}/agent/state`, 'offline', { qos: 1, retain: true });
    await previous.endAsync();
    await mosquitto.stop();
    await mosquitto.start();
    proxy = await startTcpProxy(mosquitto.port);
    const { bridge, writes } = await bridgeWithNodeOn(mosquitto.url);
    const draining = await startDrainingAgent(proxy.url, DRAIN_MS);
    agent = draining.agent;
    await until(() => agentStateAtBridge(bridge, NODE) === 'online', 'the agent online at the bridge', 10_000);

    const done = bridge.power.execute(NODE, 'shutdown', 'mqtt');
    await until(() => draining.argvStartedAt() !== undefined, 'the agent running its argv', 10_000);
    await delay(300);
    // The broker dies and comes back from its last save; the agent's link is down 2.5 s longer.
    proxy.block();
    await mosquitto.kill();
    await mosquitto.start();
    await delay(2500);
    proxy.unblock();

    const result = await done;
    await until(() => draining.argvEndedAt() !== undefined, 'the end of the argv', DRAIN_MS + 5000);
    const endedAt = draining.argvEndedAt()!;
    const cut = writes.find((w) => w.node === NODE && !w.on);
    assert.ok(
      cut === undefined || cut.at >= endedAt,
      `power cut ${endedAt - (cut?.at ?? 0)} ms before the agent's argv finished (${result.error ?? 'ok'})`,
    );
    assert.equal(result.ok, true, result.error);
    assert.ok(cut !== undefined && cut.at - endedAt >= SETTLE_MS - 200, 'settle_time after the real offline');
    assert.equal(bridge.model.state(NODE), 'off');
    console.log(`      stale offline after a broker restart: power cut ${cut.at - endedAt} ms after the drain ended`);
  });

  it('stopped and started during settle_time: the agent, gone before, is still gone; power cut', async () => {
    mosquitto = await startMosquitto({ persistence: true });
    const { bridge, writes } = await bridgeWithNodeOn(mosquitto.url);
    const draining = await startDrainingAgent(mosquitto.url, 300);
    agent = draining.agent;
    await until(() => agentStateAtBridge(bridge, NODE) === 'online', 'the agent online at the bridge', 10_000);
    const done = bridge.power.execute(NODE, 'shutdown', 'mqtt');
    await until(() => agentStateAtBridge(bridge, NODE) === 'offline', 'the agent gone', 10_000);
    // A clean restart saves the agent's offline and hands it back.
    await mosquitto.restart();
    const result = await done;
    assert.equal(result.ok, true, result.error);
    assert.ok(writes.some((w) => w.node === NODE && !w.on));
    assert.equal(bridge.model.state(NODE), 'off');
  });
});
