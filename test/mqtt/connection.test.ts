import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { connectAsync } from 'mqtt';
import { describeMqttError } from '../../src/mqtt/broker-errors.js';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { levelsMatch } from '../../src/mqtt/match.js';

const topicMatches = (filter: string, topic: string): boolean => levelsMatch(filter.split('/'), topic.split('/'));
import { silentLogger } from '../../src/util/logger.js';
import { startAedes, type TestBroker } from '../support/aedes.js';
import { captureLogger } from '../support/log-capture.js';
import { Recorder } from '../support/recorder.js';
import { until } from '../support/wait.js';

describe('MqttConnection', function () {
  this.timeout(10_000);
  let broker: TestBroker;
  let connection: MqttConnection | undefined;
  let rec: Recorder | undefined;

  beforeEach(async () => {
    broker = await startAedes();
  });
  afterEach(async () => {
    await rec?.close();
    await connection?.stop();
    await broker.close();
  });

  function connect(): MqttConnection {
    connection = new MqttConnection({
      url: broker.url,
      options: {
        clientId: 'under-test',
        clean: true,
        reconnectPeriod: 0,
        will: { topic: 'x/bridge/state', payload: Buffer.from('offline'), qos: 1, retain: true },
      },
      logger: silentLogger(),
      backoff: { initialMs: 50, maxMs: 200 },
    });
    return connection;
  }

  it('publishes retained state only when it changed', async () => {
    const c = connect();
    await c.start();
    rec = await Recorder.connect(broker.url, 'x');
    assert.equal(await c.publishState('x/node/3/power', 'ON'), true);
    assert.equal(await c.publishState('x/node/3/power', 'ON'), false);
    assert.equal(await c.publishState('x/node/3/power', 'OFF'), true);
    await rec.waitForPayload('x/node/3/power', 'OFF');
    assert.deepEqual(
      rec.since(0, 'x/node/3/power').map((m) => m.payload),
      ['ON', 'OFF'],
    );
  });

  it('after the broker drops it: reconnects, renews subscriptions and republishes its state', async () => {
    const c = connect();
    const received: string[] = [];
    await c.start();
    await c.subscribe('x/node/+/set', (_topic, payload) => received.push(payload.toString()));
    await c.publishState('x/node/3/power', 'ON');
    rec = await Recorder.connect(broker.url, 'x');
    await rec.waitForPayload('x/node/3/power', 'ON');
    const from = rec.mark();
    broker.dropConnections();
    await rec.waitForPayload('x/bridge/state', 'offline', 5000, from); // the will, since the socket died
    await rec.waitForPayload('x/node/3/power', 'ON', 5000, from);
    await rec.command(3, 'OFF');
    const deadline = Date.now() + 3000;
    while (received.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(received, ['OFF']);
  });

  /** What the connection's own socket hands to the kernel, one entry per write, while `publishing` runs. */
  async function socketWrites(publishing: () => Promise<void>): Promise<string[]> {
    return (await rawSocketWrites(publishing)).map((w) => w.toString()).filter((w) => w.includes('x/'));
  }

  /** Every write of this process's sockets to the broker (any client's), while `publishing` runs. */
  async function rawSocketWrites(publishing: () => Promise<void>): Promise<Buffer[]> {
    const proto = Socket.prototype as unknown as {
      _writev: (this: Socket, chunks: { chunk: Buffer | string }[], cb: unknown) => unknown;
      _write: (this: Socket, chunk: Buffer | string, ...rest: unknown[]) => unknown;
    };
    const { _writev: writev, _write: write } = proto;
    const writes: Buffer[] = [];
    const bytes = (chunk: Buffer | string): Buffer => (Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    // Only the clients' side: aedes, in this process, writes to its own sockets too.
    const ours = (socket: Socket): boolean => socket.remotePort === broker.port;
    proto._writev = function (chunks, cb) {
      if (ours(this)) writes.push(Buffer.concat(chunks.map((c) => bytes(c.chunk))));
      return writev.call(this, chunks, cb);
    };
    proto._write = function (chunk, ...rest) {
      if (ours(this)) writes.push(bytes(chunk));
      return write.call(this, chunk, ...rest);
    };
    try {
      await publishing();
    } finally {
      proto._writev = writev;
      proto._write = write;
    }
    return writes;
  }

  it("writes a command's answer before the command's PUBACK, however many microtasks the command takes", async () => {
    const c = connect();
    await c.start();
    // A command as a simulated board runs it: several awaits, no I/O, then the flushed answer.
    await c.subscribe('x/node/+/set', () => {
      void (async () => {
        for (let i = 0; i < 8; i++) await Promise.resolve();
        const answer = c.publishState('x/node/3/power', 'ON', { flush: true });
        await c.publish('x/bridge/event', '{"event":1}');
        await answer;
      })();
    });
    const commander = await connectAsync(broker.url, { clientId: 'commander' });
    try {
      // QoS 0 on the answer: the commander itself then sends no PUBACK (every 0x40 below is ours).
      await commander.subscribeAsync('x/node/3/power', { qos: 0 });
      const answered = new Promise<void>((resolve) => commander.on('message', () => resolve()));
      const writes = await rawSocketWrites(async () => {
        await commander.publishAsync('x/node/3/set', 'ON', { qos: 1 });
        await answered;
      });
      const stream = Buffer.concat(writes);
      const answerAt = stream.indexOf('x/node/3/power');
      // PUBACK: type 4 (0x40), remaining length 2; found after the command's own PUBLISH.
      const pubackAt = stream.indexOf(Buffer.from([0x40, 0x02]), stream.indexOf('x/node/3/set'));
      assert.ok(answerAt >= 0 && pubackAt >= 0, `answer at ${answerAt}, PUBACK at ${pubackAt}`);
      assert.ok(answerAt < pubackAt, `the PUBACK (at byte ${pubackAt}) went out before the answer (${answerAt})`);
      // And not in a socket write of its own: with what the command published after its answer.
      const pubackWrite = writes.find((w) => w.includes(Buffer.from([0x40, 0x02])) && !w.includes('x/node/3/set'));
      assert.ok(pubackWrite?.includes('x/bridge/event'), 'the PUBACK was written without the event after the answer');
    } finally {
      await commander.endAsync();
    }
  });

  it(
    "sends a flushed message (a command's answer) in a write of its own, ahead of what the same tick " + 'publishes',
    async () => {
      const c = connect();
      await c.start();
      const tick = (flush: boolean, power: string) => async () => {
        await Promise.all([
          c.publishState('x/node/3/power', power, { flush }),
          c.publish('x/bridge/event', '{"event":1}'),
          c.publishState('x/node/3/state', `{"state":"${power}"}`),
        ]);
      };
      // Without flush MQTT.js sends all three in one write at the end of the tick ...
      const batched = await socketWrites(tick(false, 'ON'));
      assert.equal(batched.length, 1, `writes: ${JSON.stringify(batched)}`);
      // ... with it, the answer leaves first and alone, the other two together after it.
      const flushed = await socketWrites(tick(true, 'OFF'));
      assert.equal(flushed.length, 2, `writes: ${JSON.stringify(flushed)}`);
      assert.match(flushed[0] ?? '', /x\/node\/3\/power/);
      assert.doesNotMatch(flushed[0] ?? '', /x\/bridge\/event|x\/node\/3\/state/);
      assert.match(flushed[1] ?? '', /x\/bridge\/event[\s\S]*x\/node\/3\/state/);
      rec = await Recorder.connect(broker.url, 'x');
      await rec.waitForPayload('x/node/3/power', 'OFF');
    },
  );

  it('send: done once when acknowledged; at once, with the reason, while not connected', async () => {
    const c = connect();
    const early: string[] = [];
    c.send('x/bridge/event', '{}', {}, (error) => early.push(error?.message ?? 'acknowledged'));
    assert.equal(early.length, 1, 'told within the call');
    assert.match(early[0] ?? '', /not started/);
    await c.start();
    rec = await Recorder.connect(broker.url, 'x');
    const outcomes: string[] = [];
    const acknowledged = new Promise<void>((resolve) =>
      c.send('x/bridge/event', '{"n":1}', {}, (error) => {
        outcomes.push(error?.message ?? 'acknowledged');
        resolve();
      }),
    );
    assert.equal(c.pending, 1);
    await acknowledged;
    assert.deepEqual(outcomes, ['acknowledged']);
    assert.equal(c.pending, 0);
    await rec.waitForPayload('x/bridge/event', '{"n":1}');
    assert.equal(
      c.sendState('x/node/3/power', 'ON', {}, () => undefined),
      true,
    );
    assert.equal(
      c.sendState('x/node/3/power', 'ON', {}, () => undefined),
      false,
      'unchanged: not sent again',
    );
  });

  it('a message whose connection is lost before its acknowledgement ends with that reason', async () => {
    const c = connect();
    await c.start();
    const ended = new Promise<string>((resolve) =>
      c.send('x/bridge/event', '{}', {}, (error) => resolve(error?.message ?? 'acknowledged')),
    );
    const published = c.publish('x/bridge/event', '{}');
    // The socket goes before MQTT.js wrote either (it writes at the end of the tick).
    (c as unknown as { client: { stream: Socket } }).client.stream.destroy();
    assert.match(await ended, /connection to the MQTT broker was lost before the message to x\/bridge\/event/);
    await assert.rejects(published, /lost before the message to x\/bridge\/event was acknowledged/);
    assert.equal(c.pending, 0);
  });

  it('says "not connected to" a broker it never reached, "disconnected from" one it lost', async () => {
    // A newcomer's agent on a wrong port logged "disconnected from" a broker it had never seen.
    const neverLog = captureLogger('info');
    const never = new MqttConnection({
      url: 'mqtt://127.0.0.1:1',
      options: { reconnectPeriod: 0, connectTimeout: 2000 },
      logger: neverLog.logger,
      backoff: { initialMs: 50, maxMs: 200 },
    });
    void never.start().catch(() => undefined);
    await until(() => neverLog.text().includes('retrying in'), 'a retry');
    await never.stop();
    assert.ok(
      neverLog.messages(40).some((m) => /^MQTT: not connected to mqtt:\/\/127\.0\.0\.1:1; retrying in/.test(m)),
      neverLog.messages(40).join('\n'),
    );
    assert.ok(!neverLog.text().includes('disconnected from'));

    const lostLog = captureLogger('info');
    const lost = new MqttConnection({
      url: broker.url,
      options: { reconnectPeriod: 0 },
      logger: lostLog.logger,
      backoff: { initialMs: 50, maxMs: 200 },
    });
    connection = lost;
    await lost.start();
    await broker.close();
    await until(() => lostLog.text().includes('retrying in'), 'a retry after the loss');
    assert.ok(lostLog.messages(40).some((m) => /^MQTT: disconnected from mqtt:/.test(m)));
    broker = await startAedes();
  });

  it('fails fast with a reason a person can act on when asked to (the CLI client)', async () => {
    const c = new MqttConnection({
      url: 'mqtt://127.0.0.1:1',
      options: { reconnectPeriod: 0, connectTimeout: 2000 },
      logger: silentLogger(),
    });
    await assert.rejects(c.start(true), /cannot connect to MQTT broker mqtt:\/\/127\.0\.0\.1:1: connection refused/);
    await c.stop();
  });

  it('describes refused credentials without echoing them', () => {
    const text = describeMqttError(
      Object.assign(new Error('Connection refused: Not authorized'), { code: 5 }),
      'mqtt://broker:1883',
    );
    assert.match(text, /refused the credentials \(not authorized\): check mqtt\.username and mqtt\.password$/);
    // Credentials written into the URL: that is where to look (the password shown as ***).
    const inUrl = describeMqttError(
      Object.assign(new Error('Connection refused: Not authorized'), { code: 5 }),
      'mqtt://bridge:***@broker:1883',
    );
    assert.match(inUrl, /check the user and password in mqtt\.url$/);
  });

  it('says a reset before the CONNACK may be a scheme that does not match the port, and which to write', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    assert.match(
      describeMqttError(reset, 'mqtts://broker:1883', true),
      /^mqtts:\/\/broker:1883 closed the connection at once: is this port plain \(usually 1883\)\? .*write mqtt:\/\/$/,
    );
    assert.match(
      describeMqttError(reset, 'mqtt://broker:8883', true),
      /is this port TLS \(usually 8883\)\? .*write mqtts:\/\/$/,
    );
    assert.match(describeMqttError(reset, 'wss://broker:9001', true), /is this port plain\? .*write ws:\/\/$/);
    // A reset of a connection that was up is not about the scheme.
    assert.equal(describeMqttError(reset, 'mqtts://broker:8883'), 'MQTT broker mqtts://broker:8883: read ECONNRESET');
  });
});

describe('topicMatches', () => {
  it('matches + as one level and # as the rest', () => {
    assert.equal(topicMatches('tp/node/+/set', 'tp/node/3/set'), true);
    assert.equal(topicMatches('tp/node/+/set', 'tp/node/3/4/set'), false);
    assert.equal(topicMatches('tp/bridge/request/#', 'tp/bridge/request/rtc/sync'), true);
    assert.equal(topicMatches('tp/rtc/set', 'tp/rtc/set/x'), false);
    assert.equal(topicMatches('tp/rtc', 'tp/rtc/set'), false);
  });
});
