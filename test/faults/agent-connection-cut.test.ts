import assert from 'node:assert/strict';
import type { BridgeApp } from '../../src/app/bridge.js';
import { agentStateAtBridge, recordPowerWrites, type PowerWrite } from '../support/in-process-agent.js';
import { requireMosquitto, startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { DRAINING_NODE, startDrainingAgent, type DrainingAgent } from './draining-agent.js';
import { delay, prng, startLibraryBridge, until, type LibraryBridge } from './helpers.js';

/**
 * A graceful shutdown whose agent loses its connection for a moment during the drain (issue 13,
 * point 1): the broker publishes the agent's will `offline`, the agent reconnects a second later
 * and says `shutting_down` again. The bridge must not take the will for the end of the OS: power
 * is cut only once `offline` has held for the whole settle_time, never while the argv runs.
 *
 * Real mosquitto, the bridge in this process on the simulated Turing Pi 1, the REAL agent in this
 * process whose argv is a real child process (a drain that takes `DRAIN_MS`), connected through a
 * TCP relay the test cuts (both sockets destroyed, no DISCONNECT: the broker sends the will).
 */

const NODE = DRAINING_NODE;
const SETTLE_MS = 2000;

describe('faults: the agent connection cut during a graceful shutdown (real mosquitto)', function () {
  this.timeout(60_000);
  let mosquitto: Mosquitto | undefined;
  let proxy: TcpProxy | undefined;
  let lib: LibraryBridge | undefined;
  let current: DrainingAgent | undefined;

  before(async function () {
    const binary = requireMosquitto(this);
    mosquitto = await startMosquitto({ binary });
    proxy = await startTcpProxy(mosquitto.port);
  });

  afterEach(async () => {
    await current?.agent.stop();
    current = undefined;
    await lib?.bridge.stop();
    lib = undefined;
  });

  after(async () => {
    await proxy?.close();
    await mosquitto?.stop();
  });

  async function bridgeWithAgentNode(
    gracefulTimeout: string,
    settleMs = SETTLE_MS,
  ): Promise<{ bridge: BridgeApp; writes: PowerWrite[] }> {
    lib = await startLibraryBridge(mosquitto!.url, {
      sections: {
        board: { poll_interval: '1h' },
        nodes: { [NODE]: { agent: true } },
        power: {
          off_mode: 'graceful',
          settle_time: `${settleMs}ms`,
          graceful_timeout: gracefulTimeout,
          min_off_time: 0,
          on_stagger: 0,
        },
      },
    });
    return { bridge: lib.bridge, writes: recordPowerWrites(lib.bridge) };
  }

  /**
   * One SHUTDOWN of node 3 whose agent's connection is cut `cutAfterMs` after its argv began.
   * Returns when the sequence ended, with when power was cut (undefined: not cut).
   */
  async function shutdownWithCut(
    bridge: BridgeApp,
    writes: PowerWrite[],
    drainMs: number,
    cutAfterMs: number,
  ): Promise<{ ok: boolean; error?: string; cutAt?: number; argvEndedAt?: number }> {
    if (bridge.model.power(NODE) !== true) {
      const on = await bridge.power.execute(NODE, 'on', 'mqtt');
      assert.equal(on.ok, true, on.error);
    }
    current = await startDrainingAgent(proxy!.url, drainMs, '30s');
    await until(() => agentStateAtBridge(bridge, NODE) === 'online', 'the agent online at the bridge', 10_000);
    const from = writes.length;
    const agent = current;
    const done = bridge.power.execute(NODE, 'shutdown', 'mqtt');
    await until(() => agent.argvStartedAt() !== undefined, 'the agent running its argv', 10_000);
    await delay(cutAfterMs);
    const cutCount = proxy!.cut();
    assert.ok(cutCount > 0, 'the agent was connected through the relay when it was cut');
    const result = await done;
    // The simulated board keeps the argv's process alive after a cut: wait for its end to compare.
    await until(() => agent.argvEndedAt() !== undefined, 'the end of the argv', drainMs + 5000);
    const cut = writes.slice(from).find((w) => w.node === NODE && !w.on);
    await current.agent.stop();
    current = undefined;
    return {
      ok: result.ok,
      ...(result.error ? { error: result.error } : {}),
      ...(cut ? { cutAt: cut.at } : {}),
      ...(agent.argvEndedAt() ? { argvEndedAt: agent.argvEndedAt()! } : {}),
    };
  }

  it(
    'keeps power on while the drain runs when the agent drops out for a moment, and cuts settle_time after ' +
      'its real offline',
    async () => {
      const { bridge, writes } = await bridgeWithAgentNode('30s');
      const DRAIN_MS = 6000;
      const outcome = await shutdownWithCut(bridge, writes, DRAIN_MS, 1000);
      assert.ok(outcome.argvEndedAt !== undefined, 'the argv ran to its end');
      assert.ok(outcome.cutAt !== undefined, `power was cut in the end (${outcome.error ?? 'no error'})`);
      assert.ok(
        outcome.cutAt >= outcome.argvEndedAt,
        `power was cut ${outcome.argvEndedAt - outcome.cutAt} ms before the agent's argv finished`,
      );
      assert.ok(outcome.cutAt - outcome.argvEndedAt >= SETTLE_MS - 200, 'settle_time after the agent really went');
      assert.equal(outcome.ok, true, outcome.error);
      assert.equal(bridge.model.state(NODE), 'off');
    },
  );

  it(
    'never cuts power while the argv runs, with the connection cut at random points of the drain (5 runs, ' +
      'seed 1313)',
    async () => {
      const { bridge, writes } = await bridgeWithAgentNode('30s');
      const random = prng(1313);
      // Cuts before DRAIN_MS - SETTLE_MS are the ones a blind settle_time would turn into a cut mid-drain.
      const DRAIN_MS = 4500;
      const seen: string[] = [];
      for (let run = 0; run < 5; run++) {
        const cutAfter = Math.round(100 + random() * (DRAIN_MS - 400));
        const outcome = await shutdownWithCut(bridge, writes, DRAIN_MS, cutAfter);
        const margin =
          outcome.cutAt !== undefined && outcome.argvEndedAt !== undefined
            ? `, power cut ${outcome.cutAt - outcome.argvEndedAt} ms after the argv ended`
            : '';
        seen.push(`link cut at +${cutAfter} ms: ${outcome.ok ? 'ok' : outcome.error}${margin}`);
        assert.ok(outcome.argvEndedAt !== undefined, `run ${run}: the argv ran to its end`);
        if (outcome.cutAt !== undefined) {
          assert.ok(
            outcome.cutAt >= outcome.argvEndedAt,
            `run ${run} (cut at +${cutAfter} ms): power cut ${outcome.argvEndedAt - outcome.cutAt} ms before the ` +
              `argv finished`,
          );
        }
        assert.equal(outcome.ok, true, `run ${run} (cut at +${cutAfter} ms): ${outcome.error}`);
        assert.notEqual(bridge.model.state(NODE), 'shutting_down');
      }
      console.log(`      agent connection cut during the drain: ${seen.length} runs, ${seen.join('; ')}`);
    },
  );

  it(
    'cuts nothing when the link is lost before the agent took SHUTDOWN and it stays away longer than ' +
      'settle_time; the next SHUTDOWN works',
    async () => {
      // The agent reconnects 1 s after the cut (its first back-off): longer than this settle_time.
      const settleMs = 300;
      const { bridge, writes } = await bridgeWithAgentNode('5s', settleMs);
      assert.equal((await bridge.power.execute(NODE, 'on', 'mqtt')).ok, true);
      current = await startDrainingAgent(proxy!.url, 500, '30s');
      const agent = current;
      await until(() => agentStateAtBridge(bridge, NODE) === 'online', 'the agent online at the bridge', 10_000);
      const from = writes.length;
      // The link goes silent: the broker takes SHUTDOWN and sends it on, the agent never gets it.
      proxy!.freeze();
      const done = bridge.power.execute(NODE, 'shutdown', 'mqtt');
      await until(() => bridge.model.state(NODE) === 'shutting_down', 'the sequence under way', 5000);
      await delay(300);
      // The broker notices the lost link and publishes the agent's will `offline`.
      assert.ok(proxy!.cut() > 0, 'the agent was connected through the relay');
      const result = await done;
      const cuts = writes.slice(from).filter((w) => w.node === NODE && !w.on);
      assert.equal(agent.argvStartedAt(), undefined, 'the agent never ran its argv');
      assert.deepEqual(cuts, [], `power cut under a running OS (${result.ok ? 'ok' : result.error})`);
      assert.equal(result.ok, false);
      assert.match(result.error ?? '', /FORCE_OFF/);
      assert.equal(bridge.model.state(NODE), 'on');
      // Nothing is stuck: with the agent back, SHUTDOWN runs its argv and cuts after it.
      await until(() => agentStateAtBridge(bridge, NODE) === 'online', 'the agent back online', 10_000);
      const again = await bridge.power.execute(NODE, 'shutdown', 'mqtt');
      assert.equal(again.ok, true, again.error);
      assert.ok(agent.argvEndedAt() !== undefined, 'the second SHUTDOWN ran the argv');
      assert.equal(bridge.model.state(NODE), 'off');
    },
  );
});
