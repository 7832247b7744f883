import assert from 'node:assert/strict';
import { Recorder, type EventPayload } from '../support/recorder.js';
import { CliProcess, STACK_LINE, runCli, startBridge, tempDir, testBridgeConfig, writeConfig } from '../support/cli.js';
import { requireMosquitto, startMosquitto, type Mosquitto } from '../support/mosquitto.js';

/**
 * The built CLI against a real mosquitto 2, driven through MQTT and the `power` command as a
 * user would: commands, the broker going away and coming back, the last will.
 */

const BASE = 'tp';
const isError = (e: EventPayload) => e.result === 'error';

describe('bridge CLI on a real mosquitto', function () {
  this.timeout(30_000);

  let broker: Mosquitto | undefined;
  let dir: string;
  let configFile: string;
  let bridge: CliProcess | undefined;
  let rec: Recorder;

  before(async function () {
    const binary = requireMosquitto(this);
    broker = await startMosquitto({ binary, tcpNoDelay: true });
    dir = tempDir();
    configFile = writeConfig(dir, testBridgeConfig({ dir, url: broker.url }));
    rec = await Recorder.connect(broker.url, BASE);
    // A stale command someone left retained before the bridge started.
    await rec.command(5, 'OFF', { retain: true });
    bridge = await startBridge(configFile);
    await rec.waitForPayload(`${BASE}/bridge/state`, 'online');
  });

  after(async () => {
    await rec?.publish(`${BASE}/node/5/set`, '', { retain: true }).catch(() => undefined);
    await rec?.close();
    if (bridge?.running) await bridge.stop();
    await broker?.stop();
  });

  it('starts, publishes every node, and ignores the retained command it found (one error event)', async () => {
    for (let n = 1; n <= 7; n++) assert.equal((await rec.waitFor(`${BASE}/node/${n}/power`)).payload, 'ON');
    await rec.request('status');
    const errors = rec.events().filter(isError);
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.match(errors[0]?.error ?? '', /retained message on tp\/node\/5\/set/);
    assert.equal(rec.last(`${BASE}/node/5/power`)?.payload, 'ON');
  });

  it('switches a node from MQTT', async () => {
    const from = rec.mark();
    await rec.command(4, 'off');
    await rec.waitForPayload(`${BASE}/node/4/power`, 'OFF', 5000, from);
    await rec.command(4, ' On ');
    await rec.waitForPayload(`${BASE}/node/4/power`, 'ON', 5000, from);
  });

  it('turingpi-mqtt power 3 off switches node 3 off and prints it', async () => {
    const from = rec.mark();
    const result = await runCli(['power', '3', 'off', '-c', configFile], { cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    // The step it waited for (node 3 has no agent: cut at once), then the answer.
    assert.deepEqual(result.stdout.trim().split('\n').slice(-1), ['node 3: OFF (off)']);
    assert.ok(result.stdout.trim().split('\n').length === 2, result.stdout);
    await rec.waitForPayload(`${BASE}/node/3/power`, 'OFF', 5000, from);
    const event = await rec.waitForEvent((e) => e.node === 3 && e.result === 'ok', 5000, from);
    assert.equal(event.source, 'cli');
  });

  it('turingpi-mqtt power all status --json prints every node as JSON', async () => {
    const result = await runCli(['power', 'all', 'status', '--json', '-c', configFile], { cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    const answer = JSON.parse(result.stdout) as {
      status: string;
      data: { node: number; power: string }[];
      transaction: string;
    };
    assert.equal(answer.status, 'ok');
    assert.deepEqual(
      answer.data.map((r) => `${r.node}:${r.power}`),
      ['1:ON', '2:ON', '3:OFF', '4:ON', '5:ON', '6:ON', '7:ON'],
    );
    assert.equal(typeof answer.transaction, 'string');
  });

  it("turingpi-mqtt power 9 on exits 1 with the bridge's reason", async () => {
    const result = await runCli(['power', '9', 'on', '-c', configFile], { cwd: dir });
    assert.equal(result.code, 1);
    assert.match(result.stdout + result.stderr, /unknown node 9/);
  });

  it('turingpi-mqtt power 3 bogus exits 2 without asking the bridge', async () => {
    const from = rec.mark();
    const result = await runCli(['power', '3', 'bogus', '-c', configFile], { cwd: dir });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown action "bogus"/);
    assert.doesNotMatch(result.stderr, STACK_LINE);
    assert.deepEqual(rec.since(from, `${BASE}/bridge/request/power`), []);
  });

  it('reconnects after mosquitto restarts, says online again and acts on commands', async function () {
    this.timeout(20_000);
    assert.ok(broker);
    await broker.restart();
    // The broker forgot everything (no persistence): the bridge puts its state back.
    const from = rec.mark();
    await rec.waitForPayload(`${BASE}/bridge/state`, 'online', 10_000, from);
    await rec.waitForPayload(`${BASE}/node/3/power`, 'OFF', 5000, from);
    await rec.command(3, 'ON');
    await rec.waitForPayload(`${BASE}/node/3/power`, 'ON', 5000, from);
    assert.ok(bridge?.running);
  });

  it('leaves bridge/state offline, retained, through its last will when the process is killed', async function () {
    this.timeout(15_000);
    assert.ok(bridge && broker);
    const from = rec.mark();
    await bridge.stop('SIGKILL');
    await rec.waitForPayload(`${BASE}/bridge/state`, 'offline', 10_000, from);
    const late = await Recorder.connect(broker.url, BASE, { filters: [`${BASE}/bridge/state`] });
    try {
      const state = await late.waitFor(`${BASE}/bridge/state`);
      assert.equal(state.payload, 'offline');
      assert.equal(state.retain, true);
    } finally {
      await late.close();
    }
  });
});
