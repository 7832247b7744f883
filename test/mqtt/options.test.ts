import assert from 'node:assert/strict';
import { connect } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { configSchema } from '../../src/config/schema.js';
import { mqttClientOptions } from '../../src/mqtt/options.js';

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
});
