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

/** What a test of these suites starts, ended after each test (a retained command left is cleared first). */
interface Setup {
  binary: string;
  mosquitto?: Mosquitto;
  run?: BridgeRun;
  rec?: Recorder;
  /** A mosquitto, a bridge on it speaking `protocolVersion`, and a recorder: what most tests start. */
  startAll(protocolVersion: 4 | 5): Promise<{ mosquitto: Mosquitto; run: BridgeRun; rec: Recorder }>;
}

function mosquittoSetup(): Setup {
  const setup: Setup = {
    binary: '',
    async startAll(protocolVersion) {
      const mosquitto = (setup.mosquitto = await startMosquitto({ binary: setup.binary }));
      const run = (setup.run = await startOn(mosquitto.url, protocolVersion));
      const rec = (setup.rec = await Recorder.connect(mosquitto.url, BASE));
      return { mosquitto, run, rec };
    },
  };
  before(function () {
    setup.binary = requireMosquitto(this);
  });
  afterEach(async () => {
    await setup.rec?.publish(NODE_SET, '', { retain: true }).catch(() => undefined);
    await setup.rec?.close();
    await setup.run?.bridge.stop();
    await setup.mosquitto?.stop();
    setup.rec = undefined;
    setup.run = undefined;
    setup.mosquitto = undefined;
  });
  return setup;
}

describe('commands on a real mosquitto: one published retained while the bridge or an agent runs', function () {
  this.timeout(30_000);
  const s = mosquittoSetup();

  it('MQTT 5: is refused at once with one error event, also after a reconnection', async () => {
    const { mosquitto, run, rec } = await s.startAll(5);
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
      // Doing what the event says (clearing it) is no command, and no second error.
      await rec.publish(NODE_SET, '', { retain: true });
      await delay(300);
      assert.equal(rec.events(from).length, 1, `${round}: the clear raised an event`);
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
    const { rec } = await s.startAll(4);
    const from = rec.mark();
    await rec.command(4, 'OFF', { retain: true });
    await rec.waitForPayload(`${BASE}/node/4/power`, 'OFF', 5000, from);
    // The clear the docs advise reaches the bridge as an empty live message: no command, no error.
    await rec.publish(NODE_SET, '', { retain: true });
    await delay(300);
    assert.deepEqual(
      rec.events(from).filter((e) => e.result === 'error'),
      [],
    );
  });

  it('MQTT 5: the agent refuses a command published retained on its command topic, and runs no argv', async () => {
    s.mosquitto = await startMosquitto({ binary: s.binary });
    const agent = await startTestAgent({
      url: s.mosquitto.url,
      node: 3,
      drainMs: 10,
      gracefulTimeout: '5s',
      protocolVersion: 5,
    });
    s.rec = await Recorder.connect(s.mosquitto.url, BASE);
    try {
      await s.rec.waitForPayload(`${BASE}/node/3/agent/state`, 'online');
      await s.rec.publish(`${BASE}/node/3/agent/command`, 'SHUTDOWN', { retain: true });
      await delay(500);
      assert.equal(agent.runs, 0, 'no shutdown argv ran');
      assert.equal(s.rec.last(`${BASE}/node/3/agent/state`)?.payload, 'online');
    } finally {
      await s.rec.publish(`${BASE}/node/3/agent/command`, '', { retain: true });
      await agent.stop();
    }
  });
});

/**
 * A command over the packet limit (256 KiB) is dropped unread (src/mqtt/packet-limit.ts), on
 * MQTT 3.1.1: with MQTT 5 the broker is told the limit and never sends it. A script waiting for
 * an answer used to hang: only the log said so.
 */
describe('commands on a real mosquitto: a message over the packet limit', function () {
  this.timeout(30_000);
  const MIB = 1024 * 1024;
  const REFUSED = `payload of ${MIB} bytes refused: at most 1024 bytes`;
  const s = mosquittoSetup();

  it('gets the error event a payload over 1 KiB gets, with its size; a request gets its response too', async () => {
    const { run, rec } = await s.startAll(4);
    const bridge = run.bridge;

    let from = rec.mark();
    await rec.command(4, Buffer.alloc(2048, 'O'));
    const small = await rec.waitForEvent((e) => e.result === 'error', 5000, from);
    from = rec.mark();
    await rec.command(4, Buffer.alloc(MIB, 'O'));
    const big = await rec.waitForEvent((e) => e.result === 'error', 5000, from);
    assert.deepEqual(
      { ...big, time: undefined },
      { ...small, time: undefined, error: REFUSED },
      'the same event, with the size',
    );
    assert.equal(big.node, 4);
    assert.equal(bridge.model.power(4), true);
    assert.ok(run.log.messages().some((m) => /dropped a message of 1\.0 MiB on tp\/node\/4\/set/.test(m)));

    from = rec.mark();
    await rec.publish(`${BASE}/bridge/request/power`, Buffer.alloc(MIB, ' '));
    const response = await rec.waitFor(`${BASE}/bridge/response/power`, () => true, 5000, from);
    // No transaction: it was in the payload, which was not read.
    assert.deepEqual(JSON.parse(response.payload), { status: 'error', error: REFUSED });
    const events = rec.events(from);
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.equal(events[0]?.type, 'request');
    assert.equal(events[0]?.action, 'power');
    assert.equal(events[0]?.error, REFUSED);
    // The connection was kept: a request right after it is answered.
    assert.equal((await rec.request('status')).status, 'ok');
  });

  it('found retained at the start, is refused as a stale command: one event, no response', async () => {
    s.mosquitto = await startMosquitto({ binary: s.binary });
    s.rec = await Recorder.connect(s.mosquitto.url, BASE);
    const stale = `${BASE}/bridge/request/status`;
    await s.rec.publish(stale, Buffer.alloc(MIB, ' '), { retain: true });
    s.run = await startOn(s.mosquitto.url, 4);
    await s.rec.waitForPayload(`${BASE}/bridge/state`, 'online');
    await delay(300);
    const errors = s.rec.events().filter((e) => e.result === 'error');
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.match(errors[0]?.error ?? '', /^ignored a retained message on tp\/bridge\/request\/status/);
    assert.deepEqual(s.rec.since(0, `${BASE}/bridge/response/status`), []);
    await s.rec.publish(stale, '', { retain: true });
  });
});
