import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { Recorder, type EventPayload } from '../support/recorder.js';
import {
  CliProcess,
  STACK_LINE,
  runCli,
  startBridge,
  startCli,
  tempDir,
  testBridgeConfig,
  writeConfig,
} from '../support/cli.js';
import { freePort } from '../support/ports.js';

/**
 * The built CLI with its embedded broker (the demo's set-up), driven only through MQTT, the
 * way a user or Home Assistant drives it (docs/topics.md, docs/reliability.md).
 */

const BASE = 'tp';
const NODES = [1, 2, 3, 4, 5, 6, 7];
const SECRET = 'not-for-your-eyes-4711';
const CREDENTIALS = { username: 'tester', password: SECRET };

const isNodePower = (topic: string) => /\/node\/\d+\/power$/.test(topic);
const isError = (e: EventPayload) => e.result === 'error';

describe('bridge CLI on the embedded broker', function () {
  this.timeout(30_000);

  let dir: string;
  let port: number;
  let url: string;
  let configFile: string;
  let bridge: CliProcess;
  let rec: Recorder;

  before(async () => {
    dir = tempDir();
    port = await freePort();
    url = `mqtt://127.0.0.1:${port}`;
    // A username and password the embedded broker requires of every client: they must never show up.
    configFile = writeConfig(
      dir,
      testBridgeConfig({ dir, url: 'embedded', embeddedPort: port, overrides: { mqtt: CREDENTIALS } }),
    );
    bridge = await startBridge(configFile);
    rec = await Recorder.connect(url, BASE, { client: { username: CREDENTIALS.username, password: SECRET } });
    await rec.waitForPayload(`${BASE}/bridge/state`, 'online');
  });

  after(async () => {
    await rec?.close();
    if (bridge?.running) await bridge.stop();
  });

  it('says where to watch it and publishes bridge/state online, retained', async () => {
    // The broker asks for a user: the line names it, and the password only as a placeholder.
    const watch = `mosquitto_sub -h 127.0.0.1 -p ${port} -u tester -P '<mqtt.password>' -t '${BASE}/#' -v`;
    assert.ok(
      bridge.logLines().some((l) => l.msg.includes(watch)),
      bridge.describe(),
    );
    const state = rec.last(`${BASE}/bridge/state`);
    assert.equal(state?.payload, 'online');
    assert.equal(state?.retain, true);
  });

  it('takes no client without mqtt.username and mqtt.password (issue 13)', async () => {
    await assert.rejects(
      Recorder.connect(url, BASE, { client: { reconnectPeriod: 0 } }),
      /Not authorized|Bad username or password/i,
    );
  });

  it('publishes bridge/info as JSON without secrets', () => {
    const info = JSON.parse(rec.last(`${BASE}/bridge/info`)?.payload ?? '{}') as Record<string, unknown>;
    assert.match(String(info.version), /^\d+\.\d+\.\d+/);
    assert.deepEqual(info.board, {
      type: 'simulator',
      id: 'lab',
      name: 'Lab',
      model: 'Turing Pi 1 (simulated)',
      nodes: 7,
    });
    assert.ok(!Number.isNaN(Date.parse(String(info.started_at))));
    for (const m of rec.messages) assert.ok(!m.payload.includes(SECRET), `secret in ${m.topic}`);
    assert.ok(!bridge.stdout.includes(SECRET) && !bridge.stderr.includes(SECRET), 'secret in the log');
  });

  it('publishes power, state and presence of all 7 nodes, retained', async () => {
    for (const n of NODES) {
      const power = await rec.waitFor(`${BASE}/node/${n}/power`);
      assert.equal(power.payload, 'ON');
      assert.equal(power.retain, true);
      const state = JSON.parse((await rec.waitFor(`${BASE}/node/${n}/state`)).payload) as {
        state: string;
        since: string;
        source: string;
        reason: string;
      };
      assert.equal(state.state, 'on');
      assert.equal(typeof state.reason, 'string');
      assert.equal((await rec.waitFor(`${BASE}/node/${n}/present`)).payload, 'ON');
    }
    assert.equal(rec.last(`${BASE}/node/8/power`), undefined);
    assert.equal((await rec.waitFor(`${BASE}/board/state`)).payload, 'online');
  });

  it('publishes the board clock on rtc', async () => {
    const rtc = JSON.parse((await rec.waitFor(`${BASE}/rtc`)).payload) as Record<string, unknown>;
    assert.match(String(rtc.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
    assert.equal(rtc.drift, 0);
    assert.equal(rtc.oscillator_running, true);
    assert.equal(typeof rtc.battery_backup, 'boolean');
    assert.equal(rtc.power_failed, false);
  });

  it('announces the board and every enabled node to Home Assistant; node 1 is protected', async () => {
    const boardConfig = JSON.parse((await rec.waitFor('homeassistant/device/lab/config')).payload) as {
      device: { name: string };
      components: Record<string, { platform: string }>;
    };
    assert.equal(boardConfig.device.name, 'Lab');
    assert.equal(boardConfig.components.bridge?.platform, 'binary_sensor');
    for (const n of NODES) {
      const message = await rec.waitFor(`homeassistant/device/lab_node${n}/config`);
      assert.equal(message.retain, true);
      const node = JSON.parse(message.payload) as {
        device: { name: string };
        components: Record<string, { platform: string; unique_id: string; command_topic?: string }>;
      };
      assert.equal(node.device.name, `Lab Node ${n}`);
      assert.equal(node.components.power?.unique_id, `lab_node${n}_power`);
      if (n === 1) {
        assert.equal(node.components.power?.platform, 'binary_sensor');
        assert.equal(node.components.force_off, undefined, 'no Force off on a protected node');
      } else {
        assert.equal(node.components.power?.platform, 'switch');
        assert.equal(node.components.power?.command_topic, `${BASE}/node/${n}/set`);
        assert.equal(node.components.force_off?.platform, 'button');
      }
    }
  });

  it('switches node 3 off on node/3/set OFF and says so in an event', async () => {
    const from = rec.mark();
    await rec.command(3, 'OFF');
    await rec.waitForPayload(`${BASE}/node/3/power`, 'OFF', 5000, from);
    const event = await rec.waitForEvent((e) => e.node === 3 && e.result === 'ok', 5000, from);
    assert.equal(event.source, 'mqtt');
    assert.equal(event.action, 'off');
    const state = JSON.parse((await rec.waitFor(`${BASE}/node/3/state`, undefined, 5000, from)).payload) as {
      state: string;
    };
    assert.equal(state.state, 'off');
    assert.deepEqual(
      rec.since(from, (t) => /\/node\/[^3]\/power$/.test(t)),
      [],
      'no other node changed',
    );
  });

  it('refuses OFF for protected node 1 with an error event and leaves it on', async () => {
    const from = rec.mark();
    await rec.command(1, 'off');
    const event = await rec.waitForEvent(isError, 5000, from);
    assert.equal(event.node, 1);
    assert.match(event.error ?? '', /protected/);
    const status = await rec.request('status');
    const node1 = (status.data as { nodes: { node: number; power: string }[] }).nodes.find((x) => x.node === 1);
    assert.equal(node1?.power, 'ON');
    assert.deepEqual(rec.since(from, `${BASE}/node/1/power`), []);
  });

  const badCommands: [string, () => Promise<void>, RegExp][] = [
    ['an unknown word', () => rec.command(4, 'LOUDER'), /unknown command "LOUDER"/],
    ['an unknown node', () => rec.command(9, 'OFF'), /unknown node/],
    ['a 2 KiB payload', () => rec.command(4, Buffer.alloc(2048, 'O')), /2048 bytes refused/],
    [
      'a malformed JSON request',
      () => rec.publish(`${BASE}/bridge/request/power`, '{"node": 4, "action": '),
      /not valid JSON/,
    ],
    [
      'a request for a node that does not exist',
      () => rec.publish(`${BASE}/bridge/request/power`, '{"node": 12, "action": "off"}'),
      /unknown node 12/,
    ],
  ];
  for (const [what, send, reason] of badCommands) {
    it(`answers ${what} with an error event and changes nothing`, async () => {
      const from = rec.mark();
      await send();
      const event = await rec.waitForEvent(isError, 5000, from);
      assert.match(event.error ?? '', reason);
      // A round trip through the bridge: anything the bad command caused has been published by now.
      await rec.request('status');
      assert.deepEqual(rec.since(from, isNodePower), []);
      assert.equal(rec.events(from).filter(isError).length, 1);
    });
  }

  it('answers bridge/request/power once, with the transaction', async () => {
    const response = await rec.request('power', { node: 2, action: 'status' });
    assert.equal(response.status, 'ok');
    assert.deepEqual(response.data, { node: 2, power: 'ON', state: 'on' });
    const off = await rec.request('power', { node: 7, action: 'off' });
    assert.equal(off.status, 'ok');
    assert.equal((off.data as { power: string }).power, 'OFF');
    await rec.request('status');
    const responses = rec
      .since(0, `${BASE}/bridge/response/power`)
      .filter((m) => (JSON.parse(m.payload) as { transaction: string }).transaction === off.transaction);
    assert.equal(responses.length, 1);
    const back = await rec.request('power', { node: 7, action: 'on' });
    assert.equal((back.data as { power: string }).power, 'ON');
  });

  it('answers bridge/request/status with every node', async () => {
    const response = await rec.request('status');
    assert.equal(response.status, 'ok');
    const data = response.data as {
      board: { state: string };
      nodes: { node: number; power: string; protected: boolean }[];
    };
    assert.equal(data.board.state, 'online');
    assert.deepEqual(
      data.nodes.map((x) => x.node),
      NODES,
    );
    assert.equal(data.nodes.find((x) => x.node === 3)?.power, 'OFF');
    assert.equal(data.nodes.find((x) => x.node === 1)?.protected, true);
  });

  it('syncs the clock on rtc/set SYNC', async () => {
    const from = rec.mark();
    await rec.publish(`${BASE}/rtc/set`, 'sync');
    const event = await rec.waitForEvent((e) => e.type === 'rtc', 5000, from);
    assert.equal(event.result, 'ok');
    assert.equal(event.action, 'sync');
  });

  it('refuses REBOOT of a node that is off (it is not switched on)', async () => {
    const from = rec.mark();
    await rec.command(3, 'REBOOT');
    const event = await rec.waitForEvent(isError, 5000, from);
    assert.equal(event.node, 3);
    assert.match(event.error ?? '', /is off/);
    await rec.request('status');
    assert.deepEqual(rec.since(from, `${BASE}/node/3/power`), []);
  });

  it('power-cycles node 6 (no agent) on REBOOT: OFF, then ON', async () => {
    const from = rec.mark();
    await rec.command(6, 'REBOOT');
    const off = await rec.waitForPayload(`${BASE}/node/6/power`, 'OFF', 5000, from);
    const on = await rec.waitForPayload(`${BASE}/node/6/power`, 'ON', 5000, from);
    assert.ok(rec.messages.indexOf(on) > rec.messages.indexOf(off));
    assert.ok(on.at - off.at >= 400, `off for ${on.at - off.at} ms, reboot_off_time is 500ms`);
    await rec.waitForEvent((e) => e.node === 6 && e.result === 'ok' && e.action === 'reboot', 5000, from);
  });

  it('publishes nothing while nothing changes (3 polls)', async () => {
    // Let the reboot's last state settle, then listen.
    const before = await rec.request('status');
    const from = rec.mark();
    await new Promise((resolve) => setTimeout(resolve, 3500));
    const to = rec.mark();
    // The polls did run meanwhile (poll_interval 1s): a dead poll loop publishes nothing either.
    const after = await rec.request('status');
    assert.deepEqual(
      rec.messages.slice(from, to).map((m) => `${m.topic} ${m.payload}`),
      [],
    );
    const polls = (status: { data?: unknown }) => (status.data as { board: { polls: number } }).board.polls;
    assert.ok(polls(after) - polls(before) >= 3, `${polls(after) - polls(before)} polls in 3.5 s`);
    const readAt = Date.parse((after.data as { board: { read_at: string } }).board.read_at);
    assert.ok(Date.now() - readAt < 2000, `the board was last read at ${new Date(readAt).toISOString()}`);
  });

  it(
    'republishes discovery once, 1-5 s after Home Assistant comes online, however many births ' + 'arrive',
    async function () {
      this.timeout(15_000);
      const from = rec.mark();
      const birth = Date.now();
      for (let i = 0; i < 3; i++) await rec.publish('homeassistant/status', 'online');
      const again = await rec.waitFor('homeassistant/device/lab/config', undefined, 7000, from);
      const delay = again.at - birth;
      assert.ok(delay >= 900 && delay <= 5600, `republished after ${delay} ms`);
      await rec.waitFor('homeassistant/device/lab_node7/config', undefined, 3000, from);
      await rec.waitFor(`${BASE}/node/7/power`, undefined, 3000, from);
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.equal(rec.since(from, 'homeassistant/device/lab/config').length, 1);
      assert.equal(rec.since(from, 'homeassistant/device/lab_node3/config').length, 1);
      // States come back too (Home Assistant forgets them on restart).
      assert.equal(rec.since(from, `${BASE}/node/3/power`).at(-1)?.payload, 'OFF');
    },
  );

  it('refuses a second bridge on the same base topic with a one-line reason', async () => {
    const otherDir = tempDir();
    const other = writeConfig(otherDir, testBridgeConfig({ dir: otherDir, url, overrides: { mqtt: CREDENTIALS } }));
    const from = rec.mark();
    const result = await runCli(['bridge', '-c', other], { cwd: otherDir, timeoutMs: 15_000 });
    assert.notEqual(result.code, 0);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0] ?? '', /another bridge is online on base topic "tp"/);
    assert.doesNotMatch(result.stderr, STACK_LINE);
    // The first bridge was not disturbed: it did not go offline and still acts.
    assert.deepEqual(rec.since(from, `${BASE}/bridge/state`), []);
    const status = await rec.request('status');
    assert.equal(status.status, 'ok');
  });

  it('stops on SIGTERM within 5 s with bridge/state offline, leaving power as it was', async () => {
    const from = rec.mark();
    const exit = await bridge.stop('SIGTERM');
    assert.equal(exit.code, 0, bridge.describe());
    assert.ok(exit.ms < 5000, `took ${exit.ms} ms`);
    assert.equal(rec.since(from, `${BASE}/bridge/state`).at(-1)?.payload, 'offline');
    assert.deepEqual(rec.since(from, isNodePower), []);
    assert.deepEqual(
      bridge
        .logLines()
        .filter((l) => l.level >= 50)
        .map((l) => l.msg),
      [],
      'errors logged',
    );
    assert.ok(bridge.logLines().some((l) => /node power unchanged/.test(l.msg)));
    await rec.close();

    // Same simulator state file: the board kept its power, and the new run reads it unchanged.
    bridge = await startBridge(configFile);
    rec = await Recorder.connect(url, BASE, { client: { username: CREDENTIALS.username, password: SECRET } });
    await rec.waitForPayload(`${BASE}/bridge/state`, 'online');
    for (const n of NODES) {
      assert.equal((await rec.waitFor(`${BASE}/node/${n}/power`)).payload, n === 3 ? 'OFF' : 'ON', `node ${n}`);
    }
    assert.deepEqual(rec.events().filter(isError), []);
  });
});

describe('bridge CLI: retained commands on the embedded broker', function () {
  this.timeout(30_000);
  let first: CliProcess | undefined;
  let second: CliProcess | undefined;
  let rec: Recorder | undefined;

  after(async () => {
    await rec?.close();
    if (second?.running) await second.stop();
    if (first?.running) await first.stop();
  });

  it('never acts on a retained command found at start: one error event, the node stays on', async () => {
    // A broker that outlives the bridge under test: the first bridge's embedded one.
    const dir = tempDir();
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    first = await startBridge(
      writeConfig(
        dir,
        testBridgeConfig({
          dir,
          url: 'embedded',
          embeddedPort: port,
          overrides: { homeassistant: { enabled: false } },
        }),
      ),
    );

    rec = await Recorder.connect(url, 'tp2');
    await rec.command(5, 'OFF', { retain: true });

    const otherDir = tempDir();
    const config = testBridgeConfig({
      dir: otherDir,
      url,
      base: 'tp2',
      id: 'lab2',
      overrides: { homeassistant: { enabled: false } },
    });
    second = await startBridge(writeConfig(otherDir, config));
    await rec.waitForPayload('tp2/bridge/state', 'online');
    const status = await rec.request('status');
    assert.equal(
      (status.data as { nodes: { node: number; power: string }[] }).nodes.find((x) => x.node === 5)?.power,
      'ON',
    );
    const errors = rec.events().filter(isError);
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.match(errors[0]?.error ?? '', /retained/);
    assert.equal(rec.last('tp2/node/5/power')?.payload, 'ON');
    await rec.publish('tp2/node/5/set', '', { retain: true });
  });
});

describe('bridge CLI: embedded broker port in use', function () {
  this.timeout(20_000);
  let blocker: Server | undefined;

  after(() => blocker?.close());

  it('exits with a one-line reason, no stack trace', async () => {
    blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const address = blocker.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const dir = tempDir();
    const proc = startCli(
      ['bridge', '-c', writeConfig(dir, testBridgeConfig({ dir, url: 'embedded', embeddedPort: port }))],
      { cwd: dir },
    );
    const exit = await proc.exited;
    assert.notEqual(exit.code, 0);
    const lines = proc.stderr.trim().split('\n');
    assert.equal(lines.length, 1, proc.stderr);
    assert.match(lines[0] ?? '', new RegExp(`port ${port} on 127.0.0.1 is already in use`));
    assert.doesNotMatch(proc.stderr, STACK_LINE);
  });
});
