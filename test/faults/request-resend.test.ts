import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { systemClock } from '../../src/util/clock.js';
import { tempDir } from '../support/cli.js';
import { BASE, runBridge, stateDirOf, type BridgeRun } from '../support/in-process-bridge.js';
import { requireMosquitto, startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { Recorder } from '../support/recorder.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { until } from '../support/wait.js';

/**
 * QoS 1 is "at least once": a client whose PUBACK was lost sends its request again when it is
 * back (a persistent session, as paho and MQTT.js keep with clean: false), and the broker hands the
 * bridge a second, new-looking message. A reboot or a toggle must not be done twice for it.
 */
describe('faults: a request sent again after a lost acknowledgement', function () {
  this.timeout(30_000);
  let mosquitto: Mosquitto | undefined;
  let run: BridgeRun | undefined;
  let rec: Recorder | undefined;
  let script: mqtt.MqttClient | undefined;

  afterEach(async () => {
    await script?.endAsync(true);
    await rec?.close();
    await run?.bridge.stop();
    await mosquitto?.stop();
  });

  it('is answered again with the first answer, and acted on once', async function () {
    mosquitto = await startMosquitto({ binary: requireMosquitto(this) });
    run = await runBridge(mosquitto.url, stateDirOf(tempDir('tpm-resend-')), {
      clock: systemClock,
      sections: {
        board: { type: 'simulator', poll_interval: '1h', simulate: { model: 'tpi1' } },
        power: { reboot_off_time: '500ms', min_off_time: 0, on_stagger: 0, settle_time: 0 },
      },
    });
    rec = await Recorder.connect(mosquitto.url, BASE);
    // A link lost right after the request reached the broker, before its PUBACK came back.
    const relay = await startTcpProxy(mosquitto.port);
    script = await mqtt.connectAsync(relay.url, { clientId: 'resend-script', clean: false, reconnectPeriod: 200 });
    const request = JSON.stringify({ transaction: 'r-1', node: 3, action: 'reboot' });
    relay.loseAnswers(true);
    void script.publishAsync(`${BASE}/bridge/request/power`, request, { qos: 1 }).catch(() => undefined);
    const first = await rec.waitFor(`${BASE}/bridge/response/power`, (m) => m.payload.includes('"r-1"'));
    // The link drops; the client comes back and sends its unacknowledged request again.
    relay.loseAnswers(false);
    relay.cut();
    await until(() => rec!.since(0, `${BASE}/bridge/request/power`).length === 2, 'the request sent again', 10_000);
    await until(
      () => rec!.since(0, `${BASE}/bridge/response/power`).length === 2,
      'the answer to the request sent again',
      10_000,
    );
    const responses = rec.since(0, `${BASE}/bridge/response/power`).map((m) => m.payload);
    assert.deepEqual(responses, [first.payload, first.payload]);
    const cycles = rec
      .since(0, `${BASE}/bridge/event`)
      .filter((m) => m.payload.includes('"r-1"') && m.payload.includes('power cycling'));
    assert.equal(cycles.length, 1, 'node 3 was power cycled once');
    // Said where a script's author looks: a request repeated on purpose is not silently skipped.
    const again = rec
      .since(0, `${BASE}/bridge/event`)
      .filter((m) => m.payload.includes('"r-1"') && m.payload.includes('sent again'));
    assert.equal(again.length, 1, 'one event says the request was taken as sent again');
    assert.match(again[0]?.payload ?? '', /nothing was done again.*new transaction/);
    await relay.close();
  });
});
