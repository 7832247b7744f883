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
 * With --contract it also sends what docs/topics.md makes the bridge send for every
 * command, with nothing computed: the answer retained (a state topic), then an event and a
 * retained JSON state. Its figures show what the messages alone cost, whoever sends them.
 *
 * With --sample MS BYTES it also does what an idle agent cannot avoid: every MS it wakes and
 * publishes a retained message of BYTES (the size of the agent's telemetry) at QoS 1, as the
 * agent publishes its telemetry: the floor of the agent's idle CPU. It reads nothing and
 * computes nothing, so the gap to the agent is the agent's own work.
 *
 *   node floor-client.js URL PREFIX [--contract | --sample MS BYTES]
 *     (PREFIX/ping in, PREFIX/pong out, PREFIX/state online; --contract: PREFIX/event, PREFIX/node-state;
 *     --sample: PREFIX/telemetry)
 */
const [url, prefix, mode, ...rest] = process.argv.slice(2);
const sampleMs = Number(rest[0]);
const sampleBytes = Number(rest[1]);
const valid =
  mode === undefined ||
  mode === '--contract' ||
  (mode === '--sample' && Number.isInteger(sampleMs) && sampleMs > 0 && Number.isInteger(sampleBytes));
if (!url || !prefix || !valid) {
  process.stderr.write('usage: floor-client URL PREFIX [--contract | --sample MS BYTES]\n');
  process.exit(2);
}
const contract = mode === '--contract';

const client = connect(url, { clean: true, keepalive: 30, reconnectPeriod: 0, clientId: `floor-${process.pid}` });
client.on('message', (_topic, payload) => {
  client.publish(`${prefix}/pong`, payload, { qos: 1, retain: contract });
  if (contract) {
    const time = new Date().toISOString();
    const text = payload.toString();
    // The shapes and sizes of the bridge's: {time, type, node, action, source, result, message}
    // and {state, since, source, reason}.
    client.publish(
      `${prefix}/event`,
      JSON.stringify({
        time,
        type: 'power',
        node: 5,
        action: 'on',
        source: 'mqtt',
        result: 'ok',
        message: `echoed ${text}`,
      }),
      { qos: 1 },
    );
    client.publish(
      `${prefix}/node-state`,
      JSON.stringify({ state: 'on', since: time, source: 'mqtt', reason: `echoed ${text}` }),
      { qos: 1, retain: true },
    );
  }
});
if (mode === '--sample') {
  // A JSON object of the telemetry's size, its digits changing as a sample's would.
  const telemetry = (): string => {
    const head = JSON.stringify({ time: new Date().toISOString(), value: Math.random() });
    return `${head.slice(0, -1)},"pad":"${'x'.repeat(Math.max(0, sampleBytes - head.length - 9))}"}`;
  };
  setInterval(() => client.publish(`${prefix}/telemetry`, telemetry(), { qos: 1, retain: true }), sampleMs);
}
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
