import assert from 'node:assert/strict';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { silentLogger } from '../../src/util/logger.js';
import { requireMosquitto, startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { Recorder } from '../support/recorder.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { delay, until } from '../support/wait.js';

/**
 * A publish made while the broker is away, or in flight when the connection drops, always ends
 * (issue 13, point 2): MQTT.js forgets QoS 1 packets queued before `reconnect()` without their
 * callbacks, so such a publish used to stay pending for ever. Real mosquitto, stopped and
 * started again; a TCP relay that goes silent, then is cut.
 */
describe('MqttConnection: publishes during a broker outage (real mosquitto)', function () {
  this.timeout(30_000);
  let mosquitto: Mosquitto | undefined;
  let proxy: TcpProxy | undefined;
  let connection: MqttConnection | undefined;
  let rec: Recorder | undefined;

  before(async function () {
    const binary = requireMosquitto(this);
    mosquitto = await startMosquitto({ binary });
  });
  afterEach(async () => {
    await rec?.close();
    rec = undefined;
    await connection?.stop();
    connection = undefined;
    await proxy?.close();
    proxy = undefined;
  });
  after(async () => {
    await mosquitto?.stop();
  });

  function connect(url: string, events: string[] = []): MqttConnection {
    connection = new MqttConnection({
      url,
      options: { clientId: 'under-test', clean: true, reconnectPeriod: 0, keepalive: 30 },
      logger: silentLogger(),
      backoff: { initialMs: 100, maxMs: 400 },
      onDisconnect: () => events.push('disconnected'),
      onConnect: () => {
        events.push('connected');
      },
    });
    return connection;
  }

  /** Whether `promise` settles within `ms`, and how. */
  async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<'resolved' | 'rejected' | 'pending'> {
    const outcome = promise.then(
      () => 'resolved' as const,
      () => 'rejected' as const,
    );
    return Promise.race([outcome, delay(ms).then(() => 'pending' as const)]);
  }

  it('ends a publish made while mosquitto is down, and publishes again once it is back', async () => {
    const events: string[] = [];
    const c = connect(mosquitto!.url, events);
    await c.start();
    await mosquitto!.stop();
    await until(() => !c.connected, 'the connection lost');
    const during = c.publish('x/bridge/event', 'made during the outage');
    assert.equal(await settlesWithin(during, 2000), 'rejected', 'the publish ends (with an error)');
    await assert.rejects(during, /not connected to the MQTT broker/);
    assert.equal(c.pending, 0, 'no publish pending');
    await mosquitto!.start();
    await until(() => c.connected, 'reconnected', 10_000);
    rec = await Recorder.connect(mosquitto!.url, 'x', { filters: ['x/#'] });
    await c.publish('x/bridge/event', 'after the restart');
    await rec.waitForPayload('x/bridge/event', 'after the restart');
    assert.equal(c.pending, 0);
    assert.deepEqual(events, ['connected', 'disconnected', 'connected']);
  });

  it('ends a publish whose acknowledgement never came when the connection drops', async () => {
    proxy = await startTcpProxy(mosquitto!.port);
    const c = connect(proxy.url);
    await c.start();
    proxy.freeze();
    const inFlight = c.publish('x/node/3/agent/command', 'SHUTDOWN');
    assert.equal(await settlesWithin(inFlight, 300), 'pending', 'no PUBACK over a silent link');
    assert.equal(c.pending, 1);
    proxy.cut();
    assert.equal(await settlesWithin(inFlight, 2000), 'rejected', 'the publish ends when the connection goes');
    await assert.rejects(inFlight, /connection to the MQTT broker was lost/);
    await until(() => c.connected, 'reconnected', 10_000);
    assert.equal(c.pending, 0, 'no publish pending after the reconnection');
    await c.publish('x/bridge/event', 'works again');
  });
});
