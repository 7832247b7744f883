import { connect } from 'mqtt';

/**
 * The floor: the least an MQTT.js program can be. It connects (clean session, QoS 1 like the
 * bridge), subscribes to one topic, says `online` on another, and republishes every message
 * it gets on a third. Nothing else is loaded, so whatever the bridge costs beyond this is
 * the bridge's own.
 *
 * It turns Nagle's algorithm off on its socket (MQTT.js leaves it on): with it on, a reply
 * written right after the PUBACK of the request waits for the broker's delayed ACK, about
 * 40 ms on Linux. That is the client's own cost, not the broker's: the floor is what a
 * client can do, so it does it.
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
  (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
  client.subscribe(`${prefix}/ping`, { qos: 1 }, () => {
    client.publish(`${prefix}/state`, 'online', { qos: 1 });
  });
});
client.on('error', (error) => {
  process.stderr.write(`floor client: ${error.message}\n`);
  process.exit(1);
});
process.on('SIGTERM', () => client.end(false, {}, () => process.exit(0)));
