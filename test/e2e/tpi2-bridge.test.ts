import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startBmcSimulator, type BmcSimulator } from '../../src/board/simulator/bmc-server.js';
import { startBridge, tempDir, testBridgeConfig, writeConfig, type CliProcess } from '../support/cli.js';
import { requireMosquitto, startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { Recorder } from '../support/recorder.js';
import { until } from '../support/wait.js';
import { nodeStates, stopBridgeAndBroker } from './harness.js';

/**
 * The bridge CLI with `board.type: tpi2` against the simulated BMC (a real HTTPS server in
 * this process, self-signed certificate trusted through bmc.ca) and a real mosquitto
 * (issue 5, "an integration test of the bridge with board.type: tpi2").
 */

const BASE = 'e2e2';
const BOARD_ID = 'tp2lab';

interface DiscoveryMessage {
  device: { name: string; model?: string };
  components: Record<
    string,
    { platform: string; unique_id: string; name?: string | null; state_topic?: string; command_topic?: string }
  >;
}

describe('e2e: bridge with board.type tpi2 against the simulated BMC (real HTTPS, real mosquitto)', function () {
  this.timeout(30_000);

  // Random per run, so it cannot show up anywhere by coincidence.
  const password = `pw-${randomBytes(12).toString('hex')}`;
  let broker: Mosquitto;
  let recorder: Recorder;
  let bmc: BmcSimulator;
  let bridge: CliProcess | undefined;
  let dir: string;

  const topic = (suffix: string): string => `${BASE}/${suffix}`;

  before(async function () {
    const binary = requireMosquitto(this);
    broker = await startMosquitto({ binary });
    // Every topic of the broker, not only ours: the password must be nowhere.
    recorder = await Recorder.connect(broker.url, BASE, { filters: ['#'] });
    bmc = await startBmcSimulator({ password, power: [true, false, true, false] });
    dir = tempDir('tpm-e2e-tpi2-');
    const caFile = path.join(dir, 'bmc-ca.pem');
    writeFileSync(caFile, bmc.ca);

    const config = testBridgeConfig({ dir, url: broker.url, base: BASE, id: BOARD_ID });
    config.board = {
      type: 'tpi2',
      id: BOARD_ID,
      name: 'Lab TP2',
      poll_interval: '1s',
      bmc: { url: bmc.url, username: 'root', password: '${TEST_BMC_PASSWORD}', ca: caFile },
    };
    // The most talkative log level: a secret that leaks anywhere leaks here.
    config.log = { level: 'debug', format: 'json' };
    const file = writeConfig(dir, config, 'bridge.yaml');
    assert.ok(!readFileSync(file, 'utf8').includes(password), 'the config file holds only ${TEST_BMC_PASSWORD}');
    bridge = await startBridge(file, { env: { TEST_BMC_PASSWORD: password } });
  });

  after(async () => {
    await stopBridgeAndBroker({ bridge, recorder, broker, dir });
    await bmc?.close();
  });

  it(
    'logs in with the password from the environment and publishes the power of nodes 1-4 as the BMC has ' + 'it',
    async () => {
      const expected = ['ON', 'OFF', 'ON', 'OFF'];
      for (const [index, power] of expected.entries()) {
        await recorder.waitForPayload(topic(`node/${index + 1}/power`), power, 5000);
      }
      assert.equal(recorder.last(topic('node/5/power')), undefined, 'a Turing Pi 2 has four nodes');
      assert.ok(bmc.stats.successfulLogins >= 1, 'the bridge logged in to the BMC');
      assert.equal(bmc.stats.failedLogins, 0);
      assert.equal(bmc.stats.powerSets, 0, 'starting the bridge changed no power');
      await recorder.waitForPayload(topic('board/state'), 'online', 5000);
      const info = JSON.parse((await recorder.waitFor(topic('bridge/info'))).payload) as {
        board: { type: string; model: string; nodes: number };
      };
      assert.deepEqual(info.board.type, 'tpi2');
      assert.equal(info.board.nodes, 4);
      assert.match(info.board.model, /Turing Pi 2/);
    },
  );

  it('node/2/set ON switches node 2 of the BMC on (stored and physical) and publishes the read-back', async () => {
    const from = recorder.mark();
    await recorder.command(2, 'ON');
    await recorder.waitForPayload(topic('node/2/power'), 'ON', 5000, from);
    assert.equal(bmc.state.stored[1], true, 'the BMC stores node 2 as on');
    assert.equal(bmc.state.physical[1], true, 'slot 2 is powered');
    assert.deepEqual([...bmc.state.stored], [true, true, true, false], 'no other node changed');
    const ok = await recorder.waitForEvent((e) => e.node === 2 && e.result === 'ok', 5000, from);
    assert.equal(ok.action, 'on');
  });

  it('REBOOT of an on node uses the BMC reset with the zero-based index (node 3 -> node=2)', async () => {
    const from = recorder.mark();
    const resetsBefore = bmc.stats.resets;
    const setsBefore = bmc.stats.powerSets;
    const since = [...bmc.state.slotOnSince];
    const poweredSince = [...bmc.state.poweredSince];
    const asked = Date.now();

    await recorder.command(3, 'REBOOT');
    const ok = await recorder.waitForEvent((e) => e.node === 3 && e.result !== 'progress', 10_000, from);
    assert.equal(ok.result, 'ok', JSON.stringify(ok));
    assert.equal(bmc.stats.resets, resetsBefore + 1, 'one reset call');
    assert.equal(bmc.stats.powerSets, setsBefore, 'a reset, not a power off/on through the stored state');

    // The BMC switches the slot back on 1 s after the reset; only slot index 2 went through it.
    await until(() => bmc.state.physical[2] === true, 'slot 3 to be powered again');
    assert.ok((bmc.state.slotOnSince[2] ?? 0) >= asked, 'slot 3 (index 2) was power cycled');
    assert.equal(bmc.state.slotOnSince[0], since[0], 'node 1 was not touched');
    assert.equal(bmc.state.slotOnSince[1], since[1], 'node 2 was not touched');
    // bmcd keeps power_on_time with the stored power: a reset does not renew it.
    assert.deepEqual([...bmc.state.poweredSince], poweredSince, 'node_info power_on_time is not renewed by a reset');
    assert.equal(bmc.state.physical[3], false, 'node 4 (index 3) was not reset into power');
    assert.deepEqual([...bmc.state.stored], [true, true, true, false]);

    assert.deepEqual(nodeStates(recorder, BASE, 3, from).slice(0, 2), ['rebooting', 'on']);
  });

  it('REBOOT of an off node is an error event, and the BMC is not asked to reset it', async () => {
    const from = recorder.mark();
    const resetsBefore = bmc.stats.resets;
    await recorder.command(4, 'REBOOT');
    const refused = await recorder.waitForEvent((e) => e.node === 4, 5000, from);
    assert.equal(refused.result, 'error');
    assert.match(refused.error ?? '', /off/);
    assert.equal(bmc.stats.resets, resetsBefore);
    assert.equal(bmc.state.physical[3], false, 'node 4 stays off');
    assert.equal(bmc.state.stored[3], false);
    assert.deepEqual(recorder.since(from, topic('node/4/power')), []);
  });

  it('has no RTC or presence: no such topics and no such entities in discovery', async () => {
    const boardDevice = await recorder.waitFor(
      `homeassistant/device/${BOARD_ID}/config`,
      (m) => m.payload.length > 0,
      5000,
    );
    const nodeDevice = await recorder.waitFor(
      `homeassistant/device/${BOARD_ID}_node2/config`,
      (m) => m.payload.length > 0,
      5000,
    );
    const board = JSON.parse(boardDevice.payload) as DiscoveryMessage;
    const node = JSON.parse(nodeDevice.payload) as DiscoveryMessage;
    assert.ok(
      Object.keys(board.components).length > 0 && Object.keys(node.components).includes('power'),
      'discovery was published',
    );
    for (const device of [board, node]) {
      for (const [key, component] of Object.entries(device.components)) {
        assert.doesNotMatch(`${key} ${component.unique_id}`, /rtc|present/, `no RTC or presence entity: ${key}`);
        assert.ok(!`${component.state_topic ?? ''}${component.command_topic ?? ''}`.includes('/rtc'), key);
      }
    }
    const topics = new Set(recorder.messages.map((m) => m.topic));
    assert.ok(![...topics].some((t) => t === topic('rtc') || t.endsWith('/present')), [...topics].join('\n'));

    // A sync asked anyway is an error answer, or an error event: never silence (a newcomer's
    // SYNC on a board without a clock, or a command to a schedule where none is configured).
    const answer = await recorder.request('rtc/sync');
    assert.equal(answer.status, 'error');
    assert.match(answer.error ?? '', /no real-time clock/);
    const from = recorder.mark();
    await recorder.publish(topic('rtc/set'), 'SYNC');
    await recorder.waitForEvent((e) => e.type === 'rtc' && /no real-time clock/.test(String(e.error)), 5000, from);
    await recorder.publish(topic('schedule/nightly/set'), 'ON');
    await recorder.waitForEvent(
      (e) => e.type === 'schedule' && /unknown schedule "nightly" \(schedules: none configured\)/.test(String(e.error)),
      5000,
      from,
    );
  });

  it('never shows the BMC password: not in stdout, stderr or any MQTT payload', async () => {
    // Something happened worth logging by now: logins, power changes, a reset, a refused reset.
    assert.ok(bridge!.stdout.length > 0 && recorder.messages.length > 20);
    assert.ok(!bridge!.stdout.includes(password), 'not in stdout');
    assert.ok(!bridge!.stderr.includes(password), 'not in stderr');
    const leaks = recorder.messages.filter((m) => m.payload.includes(password) || m.topic.includes(password));
    assert.deepEqual(
      leaks.map((m) => m.topic),
      [],
      'not in any MQTT message',
    );
    const status = await recorder.request('status');
    assert.ok(!JSON.stringify(status).includes(password), 'not in the status answer');
  });
});
