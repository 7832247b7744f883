import assert from 'node:assert/strict';
import { connectAsync, type MqttClient } from 'mqtt';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/mqtt/embedded-broker.js';

/** The embedded broker's packet limit: 1 MiB. */
const EMBEDDED_MAX_PACKET_BYTES = 1024 * 1024;
import { captureLogger } from '../support/log-capture.js';

/** Issue 13, points 6 and 8: the embedded broker's credentials, its warning, and its packet size limit. */
describe('mqtt: the embedded broker', function () {
  this.timeout(20_000);
  let broker: EmbeddedBroker | undefined;
  const clients: MqttClient[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) await client.endAsync(true).catch(() => undefined);
    await broker?.close();
    broker = undefined;
  });

  async function connect(options: { username?: string; password?: string } = {}): Promise<MqttClient> {
    if (!broker) throw new Error('no broker');
    const client = await connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...options,
    });
    clients.push(client);
    return client;
  }

  it('with mqtt.username and mqtt.password set, takes only clients that give both', async () => {
    const log = captureLogger();
    broker = await startEmbeddedBroker('127.0.0.1', 0, log.logger, { username: 'bridge', password: 'Sup3r@S3cret' });
    await assert.rejects(connect(), /Not authorized|Bad username or password/i);
    await assert.rejects(
      connect({ username: 'bridge', password: 'wrong' }),
      /Bad username or password|Not authorized/i,
    );
    await assert.rejects(
      connect({ username: 'other', password: 'Sup3r@S3cret' }),
      /Bad username or password|Not authorized/i,
    );
    const client = await connect({ username: 'bridge', password: 'Sup3r@S3cret' });
    assert.equal(client.connected, true);
    assert.ok(!log.text().includes('Sup3r@S3cret'), 'the password never reaches the log');
  });

  it('warns when it listens beyond loopback without credentials, and only then', async () => {
    const open = captureLogger();
    broker = await startEmbeddedBroker('0.0.0.0', 0, open.logger);
    assert.ok(
      open.messages(40).some((m) => /beyond this machine.*mqtt\.username/.test(m)),
      open.text(),
    );
    await broker.close();

    const local = captureLogger();
    broker = await startEmbeddedBroker('127.0.0.1', 0, local.logger);
    assert.deepEqual(local.messages(40), []);
    await broker.close();

    const guarded = captureLogger();
    broker = await startEmbeddedBroker('0.0.0.0', 0, guarded.logger, { username: 'u', password: 'p' });
    assert.deepEqual(guarded.messages(40), []);
  });

  it('disconnects a client that sends a packet over the limit; others go on', async () => {
    const log = captureLogger();
    broker = await startEmbeddedBroker('127.0.0.1', 0, log.logger);
    const listener = await connect();
    const received: string[] = [];
    await listener.subscribeAsync('t/#', { qos: 1 });
    listener.on('message', (topic) => received.push(topic));
    const big = await connect();
    const closed = new Promise<void>((resolve) => big.once('close', () => resolve()));
    big.publish('t/big', Buffer.alloc(EMBEDDED_MAX_PACKET_BYTES + 1000, 'x'), { qos: 0 });
    await closed;
    const small = await connect();
    await small.publishAsync('t/small', 'ok', { qos: 1 });
    const deadline = Date.now() + 5000;
    while (!received.includes('t/small') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(received, ['t/small']);
    assert.ok(log.messages(40).some((m) => /disconnected a client that sent a packet of/.test(m)));
  });

  it('keeps at most its budget of retained messages: a client filling it is disconnected; others go on', async () => {
    // aedes keeps every retained message in memory: one client publishing retained 1 MB messages on
    // ever new topics took the bridge from 75 MB to 2.5 GB in 12 s.
    const log = captureLogger();
    broker = await startEmbeddedBroker('127.0.0.1', 0, log.logger);
    const payload = Buffer.alloc(1000 * 1000, 'x');
    const filler = await connect();
    let closed = false;
    const close = new Promise<void>((resolve) => filler.once('close', () => resolve()));
    void close.then(() => (closed = true));
    let sent = 0;
    // 200 MB offered; each QoS 1 publish waits for its acknowledgement (or the disconnection).
    while (!closed && sent < 200) {
      await Promise.race([filler.publishAsync(`fill/${sent}`, payload, { qos: 1, retain: true }), close]);
      sent++;
    }
    assert.ok(closed, 'the filler is disconnected');
    assert.ok(sent > 32 && sent <= 70, `disconnected after ${sent} messages of 1 MB`);
    assert.ok(
      log.messages(40).some((m) => /embedded broker: disconnected client .* retained messages/.test(m)),
      log.text(),
    );

    // What it kept stays; a retained message is still replaced or cleared, and a small new one fits.
    const other = await connect();
    await other.publishAsync('fill/0', 'small', { qos: 1, retain: true });
    await other.publishAsync('fill/1', '', { qos: 1, retain: true });
    await other.publishAsync('turingpi/bridge/state', 'online', { qos: 1, retain: true });
    const watcher = await connect();
    const retained = new Map<string, string>();
    watcher.on('message', (topic, message, packet) => {
      if (packet.retain) retained.set(topic, message.length > 100 ? 'big' : message.toString());
    });
    await watcher.subscribeAsync(['fill/0', 'fill/1', 'fill/2', 'turingpi/#'], { qos: 1 });
    const deadline = Date.now() + 5000;
    while (retained.size < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(
      Object.fromEntries(retained),
      { 'fill/0': 'small', 'fill/2': 'big', 'turingpi/bridge/state': 'online' },
      'fill/1 cleared',
    );
    assert.equal(other.connected, true);
  });
});
