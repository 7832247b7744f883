import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startBridge, tempDir, testBridgeConfig, writeConfig, type CliProcess } from '../support/cli.js';
import { requireMosquitto, startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { Recorder, type ResponsePayload } from '../support/recorder.js';
import { delay, percentile, seconds, stopProcesses } from './helpers.js';

/**
 * Issue 6, item 1: a real mosquitto killed and restarted 10 times while power requests flow to
 * the BUILT bridge. The bridge must come back by itself (back-off), say `online` again, act on
 * each request at most once and answer each one it received. "Acted" is counted from the
 * bridge's own log (one final power line per executed command), which no outage can lose.
 */
describe('faults: the MQTT broker restarts under load', function () {
  this.timeout(90_000);
  const RESTARTS = 10;
  const PER_ROUND = 4;
  const DOWNTIME_MS = 300;
  let binary: string;
  let mosquitto: Mosquitto | undefined;
  let bridge: CliProcess | undefined;
  let rec: Recorder | undefined;

  before(function () {
    binary = requireMosquitto(this);
  });

  after(async () => {
    await stopProcesses({ bridge, rec, mosquitto }, 'SIGTERM');
  });

  it(`survives ${RESTARTS} broker restarts with requests in flight`, async () => {
    mosquitto = await startMosquitto({ binary });
    const dir = tempDir('tpm-restarts-');
    const file = writeConfig(
      dir,
      testBridgeConfig({ dir, url: mosquitto.url, overrides: { homeassistant: { enabled: false } } }),
    );
    bridge = await startBridge(file);
    rec = await Recorder.connect(mosquitto.url, 'tp', { filters: ['tp/#'] });
    const power = new Map<number, boolean>();
    const answers = new Map<string, ResponsePayload[]>();
    rec.client.on('message', (topic, payload) => {
      if (topic !== 'tp/bridge/response/power') return;
      const body = JSON.parse(payload.toString()) as ResponsePayload;
      const list = answers.get(String(body.transaction)) ?? [];
      list.push(body);
      answers.set(String(body.transaction), list);
    });
    let sent = 0;
    let retried = 0;
    let step = 0;

    /**
     * Sends one request that flips a node (2-7) and waits for its answer. When `resendAfter`
     * resolves without an answer (the request went out while the bridge was away, and with a
     * clean session the broker kept nothing for it), the client sends it once more with the
     * same transaction, as a careful client does.
     */
    const flip = async (resendAfter: Promise<unknown>): Promise<void> => {
      const n = 2 + (step++ % 6);
      const on = !(power.get(n) ?? false);
      const transaction = randomUUID();
      const body = JSON.stringify({ transaction, node: n, action: on ? 'on' : 'off' });
      sent++;
      const published = rec!.client.publishAsync('tp/bridge/request/power', body, { qos: 1 });
      await resendAfter;
      await published;
      if (!answers.has(transaction)) {
        retried++;
        await rec!.client.publishAsync('tp/bridge/request/power', body, { qos: 1 });
      }
      const deadline = Date.now() + 5000;
      while (!answers.has(transaction) && Date.now() < deadline) await delay(20);
      const answer = answers.get(transaction)?.[0];
      assert.ok(answer, `no answer to a request for node ${n} ${on ? 'on' : 'off'}`);
      assert.equal(answer.status, 'ok', `node ${n} ${on ? 'on' : 'off'}: ${answer.error}`);
      power.set(n, on);
    };
    const waitForAnswer = async (): Promise<void> => {
      const count = answers.size;
      const deadline = Date.now() + 5000;
      while (answers.size === count && Date.now() < deadline) await delay(20);
    };

    // The simulator's power as it is at start: the flips begin from there.
    const status = await rec.request('status', {});
    for (const node of (status.data as { nodes: { node: number; power: string }[] }).nodes)
      power.set(node.node, node.power === 'ON');

    const recoveries: number[] = [];
    for (let round = 0; round < RESTARTS; round++) {
      for (let i = 0; i < PER_ROUND; i++) await flip(waitForAnswer());
      const from = rec.mark();
      const killedAt = Date.now();
      await mosquitto.stop();
      // One request sent while the broker is down (the client queues it until it reconnects).
      const back = (async () => {
        await delay(DOWNTIME_MS);
        await mosquitto!.start();
        await rec!.waitForPayload('tp/bridge/state', 'online', 15_000, from);
        recoveries.push(Date.now() - killedAt);
        await delay(300);
      })();
      await flip(back);
    }
    assert.ok(bridge.running, 'the bridge process is still running');
    await delay(300);

    const finals = bridge.logLines().filter((l) => /^node \d+ (on|off) \(mqtt\): /.test(l.msg));
    const acted = finals.filter((l) => /: switched (on|off)$/.test(l.msg)).length;
    const repeats = finals.filter((l) => /already (on|off)$/.test(l.msg)).length;
    const failed = finals.filter((l) => !/switched|already/.test(l.msg));
    const twice = [...answers.values()].filter((list) => list.length > 1).length;
    const answered = answers.size;
    const reconnectLogs = bridge.logLines().filter((l) => /retrying in/.test(l.msg)).length;

    assert.deepEqual(
      failed.map((l) => l.msg),
      [],
    );
    assert.equal(twice, 0, 'no request is answered twice');
    assert.equal(repeats, 0, 'no request was acted on twice (a repeat would find its node already switched)');
    assert.equal(answered, sent, 'every request (after at most one resend) is answered');
    assert.equal(acted, answered, 'one power change per answered request');
    console.log(
      `      broker restarts: ${RESTARTS}/${RESTARTS} survived (down ${DOWNTIME_MS} ms each), commands ${sent} ` +
        `sent / ${acted} acted / ${answered} answered ` +
        `(${retried} resent after an outage, 0 acted twice), recovery p50 ` +
        `${seconds(percentile(recoveries, 50))}, max ${seconds(Math.max(...recoveries))}, ${reconnectLogs} ` +
        `reconnect waits logged`,
    );
  });
});
