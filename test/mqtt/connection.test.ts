import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { MqttConnection, describeMqttError } from '../../src/mqtt/connection.js';
import { levelsMatch } from '../../src/mqtt/match.js';

const topicMatches = (filter: string, topic: string): boolean => levelsMatch(filter.split('/'), topic.split('/'));
import { silentLogger } from '../../src/util/logger.js';
import { startAedes, type TestBroker } from '../support/aedes.js';
import { Recorder } from '../support/recorder.js';

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
    const proto = Socket.prototype as unknown as {
      _writev: (this: Socket, chunks: { chunk: Buffer | string }[], cb: unknown) => unknown;
      _write: (this: Socket, chunk: Buffer | string, ...rest: unknown[]) => unknown;
    };
    const { _writev: writev, _write: write } = proto;
    const writes: string[] = [];
    // Only the client's side: aedes, in this process, writes to its own sockets too.
    const ours = (socket: Socket): boolean => socket.remotePort === broker.port;
    proto._writev = function (chunks, cb) {
      if (ours(this)) writes.push(chunks.map((c) => c.chunk.toString()).join(''));
      return writev.call(this, chunks, cb);
    };
    proto._write = function (chunk, ...rest) {
      if (ours(this)) writes.push(chunk.toString());
      return write.call(this, chunk, ...rest);
    };
    try {
      await publishing();
    } finally {
      proto._writev = writev;
      proto._write = write;
    }
    return writes.filter((w) => w.includes('x/'));
  }

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
    assert.match(text, /refused the credentials/);
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
