import { connect } from 'mqtt';

/**
 * The floor: the least an MQTT.js program can be. It connects (clean session, QoS 1 like the
 * bridge), subscribes to one topic, says `online` on another, and republishes every message
 * it gets on a third. Nothing else is loaded, so whatever the bridge costs beyond this is
 * the bridge's own.
 *
 *   node floor-client.js URL PREFIX     (PREFIX/ping in, PREFIX/pong out, PREFIX/state online)
 */
const [url, prefix] = process.argv.slice(2);
if (!url || !prefix) {
  process.stderr.write('usage: floor-client URL PREFIX\n');
  process.exit(2);
}

const client = connect(url, { clean: true, keepalive: 30, reconnectPeriod: 0, clientId: `floor-${process.pid}` });
client.on('message', (_topic, payload) => {
  client.publish(`${prefix}/pong`, payload, { qos: 1 });
});
client.on('connect', () => {
  client.subscribe(`${prefix}/ping`, { qos: 1 }, () => {
    client.publish(`${prefix}/state`, 'online', { qos: 1 });
  });
});
client.on('error', (error) => {
  process.stderr.write(`floor client: ${error.message}\n`);
  process.exit(1);
});
process.on('SIGTERM', () => client.end(false, {}, () => process.exit(0)));
