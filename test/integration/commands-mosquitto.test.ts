import assert from 'node:assert/strict';
import { systemClock } from '../../src/util/clock.js';
import { tempDir } from '../support/cli.js';
import { startTestAgent } from '../support/in-process-agent.js';
import { BASE, runBridge, stateDirOf, type BridgeRun } from '../support/in-process-bridge.js';
import { requireMosquitto, startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { Recorder } from '../support/recorder.js';
import { delay } from '../support/wait.js';

/**
 * Commands as a script with plain MQTT sends them, to the bridge (and an agent) in this process
 * on a real mosquitto (aedes speaks MQTT 3.1.1 only): a command published retained while they run.
 */

const NODE_SET = `${BASE}/node/4/set`;
const RETAINED = /^ignored a retained message on tp\/node\/4\/set: .*mosquitto_pub -r -n -t 'tp\/node\/4\/set'/;

async function startOn(url: string, protocolVersion: 4 | 5): Promise<BridgeRun> {
  return runBridge(url, stateDirOf(tempDir('tpm-commands-')), {
    clock: systemClock,
    sections: {
      mqtt: { protocol_version: protocolVersion },
      board: { type: 'simulator', poll_interval: '1h', simulate: { model: 'tpi1' } },
    },
  });
}

describe('commands on a real mosquitto: one published retained while the bridge or an agent runs', function () {
  this.timeout(30_000);
  let binary: string;
  let mosquitto: Mosquitto | undefined;
  let run: BridgeRun | undefined;
  let rec: Recorder | undefined;

  before(function () {
    binary = requireMosquitto(this);
  });

  afterEach(async () => {
    await rec?.publish(NODE_SET, '', { retain: true }).catch(() => undefined);
    await rec?.close();
    await run?.bridge.stop();
    await mosquitto?.stop();
    rec = undefined;
    run = undefined;
    mosquitto = undefined;
  });

  it('MQTT 5: is refused at once with one error event, also after a reconnection', async () => {
    mosquitto = await startMosquitto({ binary });
    run = await startOn(mosquitto.url, 5);
    rec = await Recorder.connect(mosquitto.url, BASE);
    const bridge = run.bridge;
    assert.equal(bridge.model.power(4), true);
    for (const round of ['first connection', 'after a reconnection']) {
      const from = rec.mark();
      await rec.command(4, 'OFF', { retain: true });
      const event = await rec.waitForEvent((e) => e.result === 'error', 5000, from);
      assert.match(event.error ?? '', RETAINED, round);
      await delay(300);
      assert.equal(bridge.model.power(4), true, `${round}: node 4 was not switched off`);
      assert.equal(rec.events(from).length, 1, `${round}: one event, nothing else`);
      await rec.publish(NODE_SET, '', { retain: true });
      if (round === 'first connection') {
        const back = rec.mark();
        await mosquitto.restart();
        await rec.waitForPayload(`${BASE}/bridge/state`, 'online', 15_000, back);
      }
    }
    // A live command is still taken.
    await rec.command(4, 'OFF');
    await rec.waitForPayload(`${BASE}/node/4/power`, 'OFF');
  });

  it('MQTT 3.1.1: the broker hides the flag from live subscribers, so it is acted on (docs/topics.md)', async () => {
    mosquitto = await startMosquitto({ binary });
    run = await startOn(mosquitto.url, 4);
    rec = await Recorder.connect(mosquitto.url, BASE);
    const from = rec.mark();
    await rec.command(4, 'OFF', { retain: true });
    await rec.waitForPayload(`${BASE}/node/4/power`, 'OFF', 5000, from);
    assert.deepEqual(
      rec.events(from).filter((e) => e.result === 'error'),
      [],
    );
  });

  it('MQTT 5: the agent refuses a command published retained on its command topic, and runs no argv', async () => {
    mosquitto = await startMosquitto({ binary });
    const agent = await startTestAgent({
      url: mosquitto.url,
      node: 3,
      drainMs: 10,
      gracefulTimeout: '5s',
      protocolVersion: 5,
    });
    rec = await Recorder.connect(mosquitto.url, BASE);
    try {
      await rec.waitForPayload(`${BASE}/node/3/agent/state`, 'online');
      await rec.publish(`${BASE}/node/3/agent/command`, 'SHUTDOWN', { retain: true });
      await delay(500);
      assert.equal(agent.runs, 0, 'no shutdown argv ran');
      assert.equal(rec.last(`${BASE}/node/3/agent/state`)?.payload, 'online');
    } finally {
      await rec.publish(`${BASE}/node/3/agent/command`, '', { retain: true });
      await agent.stop();
    }
  });
});
