import assert from 'node:assert/strict';
import { connectAsync, type MqttClient } from 'mqtt';
import { parseSetPayload } from '../../src/power/types.js';
import { startAedes, type TestBroker } from '../support/aedes.js';
import { Recorder } from '../support/recorder.js';
import { delay, prng, startLibraryBridge, until, type LibraryBridge } from './helpers.js';

/**
 * Issue 6, item 3: at least 10,000 generated messages over every command and request topic.
 * Each one that reaches the bridge is a command it must refuse: exactly one error event per
 * message, no power change, no crash. Messages the broker does not route to the bridge
 * (other case, extra levels) must give nothing; wildcard topics are refused by the broker.
 * The generator is seeded: a failure names the seed to replay it (FAULTS_SEED=...).
 */

const SEED = Number(process.env.FAULTS_SEED ?? 20_260_106);
const MESSAGES = 10_000;
const BASE = 'tp';

interface Generated {
  topic: string;
  payload: Buffer;
  /** Whether the bridge subscribes to this topic (then exactly one error event is due). */
  routed: boolean;
  kind: string;
}

function generator(random: () => number) {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const int = (min: number, max: number): number => min + Math.floor(random() * (max - min + 1));
  const bytes = (length: number): Buffer => Buffer.from(Array.from({ length }, () => int(0, 255)));
  const text = (length: number): string => Array.from({ length }, () => String.fromCharCode(int(0x20, 0x7e))).join('');
  const huge = (): Buffer => Buffer.alloc(int(1025, 64 * 1024), pick(['O', '{', 'x', '\u0000']));
  const badWords = [
    'ONN',
    'of',
    'OFFF',
    'RESTART',
    'POWER_ON',
    'ON OFF',
    'on;reboot',
    'ＯＮ',
    '1',
    '0',
    'true',
    'null',
    '{}',
    '[]',
    '"ON"',
    '{"state":"ON"}',
    '["ON"]',
    'ON\u0000',
    'REBOOT\u0007',
    '',
  ];
  const jsonJunk = ['1', '"power"', 'true', 'null', '[1,2]', '[]', '{"node":', '{node:2}', "{'node':2}", 'NaN'];
  const unknownNodes = ['0', '8', '99', '01', '007', '1x', '-1', '1.0', '', ' 2', 'two', '9999', '10000', '%32'];
  const caseVariants = [
    `${BASE}/Node/2/set`,
    `TP/node/2/set`,
    `${BASE}/node/2/SET`,
    `${BASE}/node/2/set/x`,
    `${BASE}/Bridge/request/power`,
    `${BASE}/node/2`,
  ];
  const requestActions = [
    'status',
    'rtc/sync',
    'schedule/run',
    'schedule/enable',
    'POWER',
    'reboot',
    'power/extra',
    'x'.repeat(80),
    'ÿ',
    '../power',
  ];
  const nodeSetPayload = (): Buffer => {
    for (;;) {
      const choice = random();
      const payload =
        choice < 0.3
          ? bytes(int(1, 64))
          : choice < 0.37
            ? huge()
            : Buffer.from(choice < 0.7 ? pick(badWords) : text(int(1, 30)));
      // Random bytes may by chance spell a command word: such a message is not abuse.
      if (payload.length > 1024 || parseSetPayload(payload.toString('utf8')) === undefined) return payload;
    }
  };
  const powerBody = (): Buffer => {
    const choice = random();
    if (choice < 0.15) return bytes(int(1, 80));
    if (choice < 0.2) return huge();
    if (choice < 0.35) return Buffer.from(pick(jsonJunk));
    const bodies: unknown[] = [
      { node: pick([2, 3, 'all']), action: pick(['explode', 'ON ', 'power', 1, null, true, ['on']]) },
      { node: pick(['x', 2.5, 0, -3, null, true, [2], { n: 2 }, '02', '']), action: 'on' },
      { node: pick([8, 99, 1024]), action: pick(['on', 'off']) },
      {
        node: pick([2, 3, 4]),
        action: 'on',
        [pick(['extra', 'force', '__proto__x', 'Node', 'transactionx'])]: int(0, 9),
      },
      { action: 'on' },
      { node: 2 },
      { node: 1, action: pick(['off', 'force-off', 'shutdown']) }, // node 1 is protected: refused
      { node: 5, action: 'off', source: 'cli', debug: true },
    ];
    return Buffer.from(JSON.stringify({ transaction: int(0, 1e6), ...(pick(bodies) as object) }));
  };

  // An empty payload on a command topic is how a retained command is cleared: no command, no
  // event (docs/topics.md). White space is bad input like the rest.
  const clearing = (message: Generated): Generated =>
    message.routed && message.payload.length === 0 ? { ...message, routed: false, kind: 'empty (a clear)' } : message;
  return (): Generated => clearing(generate());

  function generate(): Generated {
    const choice = random();
    if (choice < 0.4)
      return {
        topic: `${BASE}/node/${int(1, 7)}/set`,
        payload: nodeSetPayload(),
        routed: true,
        kind: 'bad command word',
      };
    if (choice < 0.46) {
      return {
        topic: `${BASE}/node/1/set`,
        payload: Buffer.from(pick(['OFF', 'force_off', 'Shutdown'])),
        routed: true,
        kind: 'protected node',
      };
    }
    if (choice < 0.55) {
      return {
        topic: `${BASE}/node/${pick(unknownNodes)}/set`,
        payload: Buffer.from(pick(['ON', 'OFF', 'TOGGLE'])),
        routed: true,
        kind: 'unknown node',
      };
    }
    if (choice < 0.8)
      return { topic: `${BASE}/bridge/request/power`, payload: powerBody(), routed: true, kind: 'bad power request' };
    if (choice < 0.87) {
      const action = pick(requestActions);
      // status and rtc/sync are valid with no fields: always give them one they do not know.
      const body = JSON.stringify({
        transaction: `t${int(0, 999)}`,
        [pick(['extra', 'node', 'name', 'enabled'])]: pick([1, 'x', true, null]),
      });
      const payload =
        random() < 0.2
          ? bytes(int(1, 40))
          : Buffer.from(action === 'schedule/enable' || random() < 0.5 ? body : pick(jsonJunk));
      return { topic: `${BASE}/bridge/request/${action}`, payload, routed: true, kind: 'bad request' };
    }
    if (choice < 0.92) {
      const topic = pick([`${BASE}/bridge/maintenance/set`, `${BASE}/rtc/set`]);
      return {
        topic,
        payload:
          random() < 0.3 ? bytes(int(1, 32)) : Buffer.from(pick(badWords.filter((w) => w !== 'ON' && w !== 'OFF'))),
        routed: true,
        kind: 'bad maintenance/rtc word',
      };
    }
    // "<b>/bridge/request/#" matches its parent level too: the bare prefix is a request with no action.
    if (choice < 0.93)
      return {
        topic: `${BASE}/bridge/request`,
        payload: Buffer.from('{"node":2,"action":"on"}'),
        routed: true,
        kind: 'request without action',
      };
    return {
      topic: pick(caseVariants),
      payload: Buffer.from(pick(['ON', 'OFF', '{"node":2,"action":"on"}'])),
      routed: false,
      kind: 'not a command topic',
    };
  }
}

describe('faults: input abuse over every command and request topic', function () {
  this.timeout(90_000);
  let broker: TestBroker;
  let lab: LibraryBridge;
  let rec: Recorder;
  let sender: MqttClient;
  let retainedTopics: string[] = [];
  const powerChanges: string[] = [];

  before(async () => {
    broker = await startAedes();
    sender = await connectAsync(broker.url, { clientId: 'abuser', clean: true, reconnectPeriod: 0 });
    // Stale retained commands, present before the bridge subscribes: valid words among them.
    const stale: [string, string][] = [
      ...[1, 2, 3, 4, 5, 6, 7].map((n): [string, string] => [`${BASE}/node/${n}/set`, n % 2 ? 'ON' : 'OFF']),
      [`${BASE}/node/8/set`, 'ON'],
      [`${BASE}/node/01/set`, 'TOGGLE'],
      [`${BASE}/bridge/request/power`, '{"node":2,"action":"toggle"}'],
      [`${BASE}/bridge/request/status`, ''],
      [`${BASE}/bridge/maintenance/set`, 'ON'],
      [`${BASE}/rtc/set`, 'SYNC'],
    ];
    for (const [topic, payload] of stale)
      await sender.publishAsync(topic, payload === '' ? ' ' : payload, { qos: 1, retain: true });
    retainedTopics = stale.map(([topic]) => topic);
    rec = await Recorder.connect(broker.url, BASE, {
      filters: [`${BASE}/bridge/event`, `${BASE}/node/+/power`, `${BASE}/bridge/response/#`],
    });
    lab = await startLibraryBridge(broker.url, { sections: { board: { poll_interval: '1h' } } });
    lab.sim.ds4520.onPowerChange((control, previous) =>
      powerChanges.push(`${previous.toString(16)}->${control.toString(16)}`),
    );
  });

  after(async () => {
    for (const topic of retainedTopics)
      await sender?.publishAsync(topic, '', { qos: 1, retain: true }).catch(() => undefined);
    await sender?.endAsync(true).catch(() => undefined);
    await rec?.close();
    await lab?.bridge.stop();
    await broker?.close();
  });

  it('refuses every stale retained command with one event each, valid words included', async () => {
    await until(
      () => rec.events().length >= retainedTopics.length,
      `${retainedTopics.length} retained-command events`,
      5000,
    );
    await delay(200);
    const events = rec.events();
    assert.equal(events.length, retainedTopics.length);
    assert.ok(
      events.every((e) => e.result === 'error' && /retained/.test(e.error ?? '')),
      JSON.stringify(events.slice(0, 3)),
    );
    assert.deepEqual(powerChanges, []);
    console.log(
      `      input abuse, retained: ${retainedTopics.length} stale retained commands (valid words included), ` +
        `${events.length} error events, 0 acted, 0 power changes`,
    );
  });

  it(
    `survives ${MESSAGES.toLocaleString('en')} generated bad messages: one error event each, no power ` + `change`,
    async () => {
      const next = generator(prng(SEED));
      const controlBefore = lab.sim.ds4520.control;
      const from = rec.mark();
      const kinds = new Map<string, number>();
      let routed = 0;
      let bytes = 0;
      const started = Date.now();
      const BATCH = 250;
      for (let sent = 0; sent < MESSAGES; sent += BATCH) {
        const batch = Array.from({ length: Math.min(BATCH, MESSAGES - sent) }, next);
        for (const message of batch) {
          kinds.set(message.kind, (kinds.get(message.kind) ?? 0) + 1);
          if (message.routed) routed++;
          bytes += message.payload.length;
        }
        await Promise.all(batch.map((m) => sender.publishAsync(m.topic, m.payload, { qos: 1 })));
      }
      const sendMs = Date.now() - started;
      await until(
        () => rec.events(from).length >= routed,
        `${routed} error events (have ${rec.events(from).length})`,
        40_000,
      );
      await delay(500); // a second event for any message would arrive by now
      const events = rec.events(from);
      const wallMs = Date.now() - started;

      if (process.env.FAULTS_DEBUG) {
        const by = new Map<string, number>();
        for (const e of events) {
          const k = `${e.type} ${(e.error ?? '').slice(0, 50)}`;
          by.set(k, (by.get(k) ?? 0) + 1);
        }
        console.log([...by].sort((a, b) => b[1] - a[1]).slice(0, 40));
      }
      assert.equal(
        events.length,
        routed,
        `error events (${events.length}) differ from routed bad messages (${routed})`,
      );
      const notErrors = events.filter((e) => e.result !== 'error');
      assert.deepEqual(notErrors, [], 'every event of the flood is a refusal');
      assert.deepEqual(powerChanges, [], 'no power bit changed');
      assert.equal(lab.sim.ds4520.control, controlBefore);
      const failures = lab.log.messages(50).filter((m) => /failed/.test(m));
      assert.deepEqual(failures, [], 'no handler failed (logged at error level)');
      const status = await rec.request('status', {}, 5000);
      assert.equal(status.status, 'ok', 'the bridge still answers');

      const mix = [...kinds].map(([k, v]) => `${k} ${v}`).join(', ');
      console.log(
        `      input abuse: ${MESSAGES} messages (${(bytes / 1e6).toFixed(1)} MB; ${mix}), ${routed} routed -> ` +
          `${events.length} error events, 0 power changes, 0 crashes; sent in ${(sendMs / 1000).toFixed(1)} s, ` +
          `all refused within ${(wallMs / 1000).toFixed(1)} s (seed ${SEED})`,
      );
    },
  );

  it('is disconnected by the broker for wildcard topics, and the bridge sees nothing', async () => {
    const from = rec.mark();
    const wild = [`${BASE}/node/+/set`, `${BASE}/node/+x/set`, `${BASE}/node/#`, `${BASE}/bridge/request/+`];
    let refused = 0;
    for (const topic of wild) {
      const client = await connectAsync(broker.url, { clean: true, reconnectPeriod: 0 });
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      client.publish(topic, 'ON', { qos: 1 }, () => undefined);
      await Promise.race([closed.then(() => refused++), delay(2000)]);
      client.end(true);
    }
    await delay(200);
    assert.equal(refused, wild.length, 'the broker drops a client that publishes to a wildcard');
    assert.deepEqual(rec.events(from), []);
    assert.deepEqual(powerChanges, []);
    console.log(
      `      input abuse, wildcard topics: ${wild.length} publishes, ${refused} refused by the broker, 0 ` +
        `events, 0 power changes`,
    );
  });

  it('still acts on each valid command exactly once, whatever its case or white space', async () => {
    const valid: [number, string, boolean][] = [
      [2, 'ON', true],
      [2, ' off\n', false],
      [3, 'On', true],
      [3, 'toggle', false],
      [4, 'FORCE_OFF', false],
      [4, '\tON ', true],
    ];
    for (const [n, word, on] of valid) {
      const from = rec.mark();
      await rec.command(n, word);
      const event = await rec.waitForEvent(
        (e) => e.type === 'power' && e.node === n && e.result !== 'progress',
        5000,
        from,
      );
      assert.equal(event.result, 'ok', `${JSON.stringify(word)} on node ${n}: ${event.error}`);
      await until(
        () => lab.sim.ds4520.nodePowered(n) === on,
        `node ${n} ${on ? 'on' : 'off'} after ${JSON.stringify(word)}`,
        3000,
      );
      await delay(100);
      assert.equal(
        rec.events(from).filter((e) => e.type === 'power' && e.result !== 'progress').length,
        1,
        'one final event per command',
      );
    }
    const request = await rec.request('power', { node: '5', action: 'ON' });
    assert.equal(request.status, 'ok');
    assert.equal(lab.sim.ds4520.nodePowered(5), true);
    console.log(`      input abuse, valid commands: ${valid.length + 1} sent, ${valid.length + 1} acted once each`);
  });
});
