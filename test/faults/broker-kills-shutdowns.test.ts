import assert from 'node:assert/strict';
import type { BridgeApp } from '../../src/app/bridge.js';
import type { CommandSource, NodeResult } from '../../src/power/types.js';
import { systemClock } from '../../src/util/clock.js';
import { tempDir } from '../support/cli.js';
import { runBridge, stateDirOf } from '../support/in-process-bridge.js';
import { agentStateAtBridge, recordPowerWrites, startTestAgent, type TestAgent } from '../support/in-process-agent.js';
import { requireMosquitto, startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { delay, percentile, prng, seconds, until } from './helpers.js';

/**
 * Issue 13's check of point 2: mosquitto killed (SIGKILL or SIGTERM, seeded) at random points of
 * many graceful shutdowns, started as a schedule does and as a command does. After each round
 * no node is stuck (`shutting_down`, or busy: FORCE_OFF and ON are taken), no publish of the
 * bridge is pending, and power was never cut while an agent's argv ran.
 *
 * A simulated generic board of NODES nodes, each with the REAL agent in this process (its
 * argv a drain of 100-700 ms), the bridge in this process, one real mosquitto.
 */

const NODES = 40;
const ROUNDS = 5;
const SEED = Number(process.env.FAULTS_SEED ?? 4242);
const GRACEFUL_TIMEOUT_MS = 5000; // the smallest the config allows
const SETTLE_MS = 200;

describe('faults: mosquitto killed at random points of many graceful shutdowns', function () {
  this.timeout(120_000);
  let mosquitto: Mosquitto | undefined;
  let bridge: BridgeApp | undefined;
  const agents = new Map<number, TestAgent>();

  before(function () {
    requireMosquitto(this);
  });

  after(async () => {
    await Promise.all([...agents.values()].filter((a) => !a.stopped).map((a) => a.stop()));
    await bridge?.stop();
    await mosquitto?.stop();
  });

  it(
    `${NODES * ROUNDS} shutdowns in ${ROUNDS} rounds of ${NODES}, the broker killed once per round (seed ` +
      `${SEED}): none stuck, none pending, no cut under a running argv`,
    async () => {
      const random = prng(SEED);
      mosquitto = await startMosquitto();
      const nodes = Array.from({ length: NODES }, (_, i) => i + 1);
      const run = await runBridge(mosquitto.url, stateDirOf(tempDir('tpm-kills-')), {
        clock: systemClock,
        sections: {
          board: { type: 'simulator', poll_interval: '1h', simulate: { model: 'generic', nodes: NODES } },
          nodes: Object.fromEntries(nodes.map((n) => [n, { agent: true }])),
          power: {
            settle_time: `${SETTLE_MS}ms`,
            graceful_timeout: `${GRACEFUL_TIMEOUT_MS}ms`,
            min_off_time: 0,
            on_stagger: 0,
          },
        },
      });
      const b = run.bridge;
      bridge = b;
      const writes = recordPowerWrites(b);

      const tally = { ok: 0, error: 0, forced: 0, sigkill: 0, sigterm: 0 };
      const errors = new Map<string, number>();
      const durations: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        // Every node on with its agent online (a node left on by an error is forced off first: FORCE_OFF gets through).
        for (const n of nodes) {
          const agent = agents.get(n);
          if (b.model.power(n) === true && agent && !agent.stopped && agent.startedAt === undefined) continue;
          if (agent && !agent.stopped) await agent.stop();
          if (b.model.power(n) === true) {
            const forced = await b.power.execute(n, 'force-off', 'mqtt');
            assert.equal(forced.ok, true, `round ${round}, node ${n}: FORCE_OFF refused: ${forced.error}`);
            tally.forced++;
          }
          const on = await b.power.execute(n, 'on', 'mqtt');
          assert.equal(on.ok, true, `round ${round}, node ${n}: ON refused (stuck?): ${on.error}`);
          agents.set(
            n,
            await startTestAgent({
              url: mosquitto.url,
              node: n,
              drainMs: Math.round(100 + random() * 600),
              gracefulTimeout: `${GRACEFUL_TIMEOUT_MS}ms`,
            }),
          );
        }
        await until(
          () => nodes.every((n) => agentStateAtBridge(b, n) === 'online'),
          `round ${round}: every agent online at the bridge`,
          15_000,
        );

        const from = writes.length;
        const killAfter = Math.round(random() * 2000);
        const downFor = Math.round(100 + random() * 500);
        const hard = random() < 0.5;
        const started: Promise<{ node: number; result: NodeResult; ms: number }>[] = nodes.map(async (n) => {
          await delay(Math.round(random() * 1000));
          const source: CommandSource = n % 2 === 0 ? 'schedule' : 'mqtt';
          const at = Date.now();
          const result = await b.power.execute(n, 'shutdown', source);
          return { node: n, result, ms: Date.now() - at };
        });
        const outage = (async () => {
          await delay(killAfter);
          if (hard) await mosquitto!.kill();
          else await mosquitto!.stop();
          tally[hard ? 'sigkill' : 'sigterm']++;
          await delay(downFor);
          await mosquitto!.start();
        })();
        const bound = 1000 + GRACEFUL_TIMEOUT_MS + SETTLE_MS + 2000;
        const outcomes = await Promise.race([
          Promise.all(started),
          delay(bound).then(() => assert.fail(`round ${round}: not every shutdown ended within ${bound} ms`)),
        ]);
        await outage;

        for (const { node, result, ms } of outcomes) {
          durations.push(ms);
          const agent = agents.get(node)!;
          const cut = writes.slice(from).find((w) => w.node === node && !w.on);
          if (cut) {
            assert.ok(
              agent.endedAt !== undefined && cut.at >= agent.endedAt,
              `round ${round}, node ${node}: power cut while its argv ran`,
            );
          }
          assert.notEqual(b.model.state(node), 'shutting_down', `round ${round}, node ${node} left shutting_down`);
          if (result.ok) {
            tally.ok++;
            assert.equal(b.model.power(node), false);
          } else {
            tally.error++;
            assert.equal(b.model.power(node), true, `round ${round}, node ${node}: an error, and power stays on`);
            const reason = (result.error ?? '').replace(/node(s?)[ /]\d+/g, 'node$1 N').replace(/\(\w+\)/, '(...)');
            errors.set(reason, (errors.get(reason) ?? 0) + 1);
            assert.match(result.error ?? '', /FORCE_OFF/, `round ${round}, node ${node}: ${result.error}`);
          }
        }
        await until(() => b.connection.connected, `round ${round}: the bridge back on the broker`, 10_000);
        await until(() => b.connection.pending === 0, `round ${round}: no publish pending`, 3000);
      }
      const stopAt = Date.now();
      await b.stop();
      bridge = undefined;
      assert.ok(Date.now() - stopAt < 3000, `the bridge stopped in ${Date.now() - stopAt} ms`);
      assert.equal(tally.ok + tally.error, NODES * ROUNDS);
      console.log(
        `      broker killed during graceful shutdowns: ${NODES * ROUNDS} shutdowns, ${ROUNDS} kills ` +
          `(${tally.sigkill} SIGKILL, ${tally.sigterm} SIGTERM): ` +
          `${tally.ok} cut after their agent was gone, ${tally.error} ended with an error (power on), 0 stuck, 0 ` +
          `publishes pending, 0 cuts under a running argv; ` +
          `${tally.forced} FORCE_OFFs afterwards all taken; sequence p50 ${seconds(percentile(durations, 50))}, ` +
          `max ${seconds(Math.max(...durations))}`,
      );
      console.log(`      errors: ${[...errors].map(([reason, count]) => `${count}x ${reason}`).join('; ')}`);
    },
  );
});
