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
});
