import assert from 'node:assert/strict';
import { connect } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { configSchema } from '../../src/config/schema.js';
import { mqttClientOptions } from '../../src/mqtt/options.js';
import { startAedes } from '../support/aedes.js';

describe('MQTT client options', () => {
  it("turn off mqtt-packet's number cache (65,536 encoded numbers, ~6 MiB per process)", () => {
    const config = configSchema.parse({ mqtt: { url: 'mqtt://127.0.0.1:1', base_topic: 'tp' }, board: { id: 'lab' } });
    // The flag is mqtt-packet's own, for the whole process: set as a client without the option leaves it.
    mqttPacket.writeToStream.cacheNumbers = true;
    // manualConnect: the client is built (where MQTT.js applies the option) and never connects.
    connect('mqtt://127.0.0.1:1', {
      ...mqttClientOptions(config, 'options-test', { topic: 'tp/x', payload: 'offline' }),
      manualConnect: true,
    });
    assert.equal(mqttPacket.writeToStream.cacheNumbers, false);
  });

  it('leave the keep-alive timer alone on every acknowledgement; a busy broker is still pinged', async () => {
    const broker = await startAedes();
    const config = configSchema.parse({
      mqtt: { url: broker.url, base_topic: 'tp' },
      board: { id: 'lab' },
    });
    const options = mqttClientOptions(config, 'keepalive-test', { topic: 'tp/x', payload: 'offline' });
    // A keepalive shorter than the config allows (5 s at least), so that the test is short.
    const client = connect(broker.url, { ...options, keepalive: 1 });
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', reject);
      });
      const manager = client.keepaliveManager as { keepaliveTimeoutTimestamp: number };
      const armed = manager.keepaliveTimeoutTimestamp;
      let pings = 0;
      client.on('packetsend', (packet) => {
        if (packet.cmd === 'pingreq') pings++;
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      // Acknowledged publishes for 1.6 s: MQTT.js's default would restart its timer on each PUBACK (and never ping).
      const until = Date.now() + 1600;
      let published = 0;
      while (Date.now() < until) {
        await client.publishAsync('tp/busy', String(published++), { qos: 1 });
        if (published === 1) assert.equal(manager.keepaliveTimeoutTimestamp, armed, 'rescheduled by a PUBACK');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.ok(published > 10);
      assert.ok(pings >= 1, 'no PINGREQ within 1.6 s of a 1 s keepalive while busy');
      assert.equal(client.connected, true);
    } finally {
      await client.endAsync();
      await broker.close();
    }
  });
});
