import assert from 'node:assert/strict';
import { Duplex, Writable } from 'node:stream';
import type { MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { mqttClientOptions } from '../../src/mqtt/options.js';
import {
  MAX_INCOMING_PACKET_BYTES,
  PacketLimitFilter,
  acknowledgementOf,
  describeDropped,
  limitIncomingPackets,
  type DroppedPacket,
} from '../../src/mqtt/packet-limit.js';
import { parseConfig } from '../../src/config/index.js';

/** Feeds `bytes` through a filter in chunks of `chunk` bytes; returns what came out and what was dropped. */
function run(bytes: Buffer, maxBytes: number, chunk: number): { out: Buffer; dropped: DroppedPacket[] } {
  const dropped: DroppedPacket[] = [];
  const filter = new PacketLimitFilter(maxBytes, (packet) => dropped.push(packet));
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) out.push(...filter.take(bytes.subarray(i, i + chunk)));
  return { out: Buffer.concat(out), dropped };
}

function publish(topic: string, payload: Buffer, qos: 0 | 1 | 2, messageId?: number, retain = false): Buffer {
  return mqttPacket.generate({
    cmd: 'publish',
    topic,
    payload,
    qos,
    retain,
    dup: false,
    ...(messageId ? { messageId } : {}),
  });
}

describe('mqtt: packets over the size limit are dropped before the parser', () => {
  const small = publish('tp/node/2/set', Buffer.from('ON'), 1, 7);
  const ping = mqttPacket.generate({ cmd: 'pingresp' });
  const big = publish('tp/bridge/request/\u001b[31mstatus', Buffer.alloc(300_000, 'x'), 1, 513);
  const bigQos0 = publish('tp/a', Buffer.alloc(20_000, 'y'), 0);

  for (const chunk of [1, 3, 7, 1000, 65_536, 1_000_000]) {
    it(`passes small packets unchanged and drops a big one (chunks of ${chunk} bytes)`, () => {
      const stream = Buffer.concat([small, big, ping, bigQos0, small]);
      const { out, dropped } = run(stream, 10_000, chunk);
      assert.deepEqual(out, Buffer.concat([small, ping, small]));
      assert.equal(dropped.length, 2);
      assert.deepEqual(dropped[0], {
        type: 3,
        qos: 1,
        length: big.length - 4,
        topic: 'tp/bridge/request/\u001b[31mstatus',
        messageId: 513,
        retain: false,
        payloadLength: 300_000,
      });
      assert.equal(dropped[1]?.topic, 'tp/a');
      assert.equal(dropped[1]?.messageId, undefined);
      assert.equal(dropped[1]?.payloadLength, 20_000);
    });
  }

  it("tells a dropped publish's retain flag: a stale command is refused as retained, not as too big", () => {
    const retained = publish('tp/node/2/set', Buffer.alloc(20_000, 'z'), 1, 8, true);
    assert.deepEqual(
      run(retained, 10_000, 1000).dropped.map((d) => [d.topic, d.retain]),
      [['tp/node/2/set', true]],
    );
  });

  it('passes a read of whole packets within the limit on as one piece: one call of the parser', () => {
    const filter = new PacketLimitFilter(10_000, () => undefined);
    // A command and the acknowledgement that arrives with it, as the bridge reads them.
    const read = Buffer.concat([mqttPacket.generate({ cmd: 'puback', messageId: 9 }), small]);
    const pieces = filter.take(read);
    assert.deepEqual(pieces, [read]);
    assert.equal(pieces[0], read, 'the read itself, not a copy');
    // What follows a dropped packet in the same read goes on together too.
    assert.deepEqual(filter.take(Buffer.concat([small, big, small, ping])), [small, Buffer.concat([small, ping])]);
  });

  it("sits in MQTT.js's parser: each read parsed in order, the next one after the parse is done", async () => {
    // MQTT.js builds its socket with streamBuilder and pipes it, once, into a Writable whose _write parses.
    const written: Buffer[] = [];
    const socket = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        written.push(chunk);
        callback();
      },
    });
    const client = { streamBuilder: () => socket };
    const dropped: DroppedPacket[] = [];
    limitIncomingPackets(client as unknown as MqttClient, 10_000, (packet) => dropped.push(packet));
    const stream = client.streamBuilder();
    const parsed: string[] = [];
    let parsing = false;
    const parser = new Writable({
      write(chunk: Buffer, _encoding, done) {
        assert.equal(parsing, false, 'a piece handed on while the one before is still being parsed');
        parsing = true;
        parsed.push(chunk.toString('hex'));
        // MQTT.js calls done after handling the packets, a tick or more later.
        setImmediate(() => {
          parsing = false;
          done();
        });
      },
    });
    stream.pipe(parser);
    socket.push(Buffer.concat([small, big, small, ping]));
    socket.push(small);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(
      parsed,
      [small, Buffer.concat([small, ping]), small].map((b) => b.toString('hex')),
    );
    assert.equal(dropped.length, 1);
    // The broker gets the PUBACK of the QoS 1 publish it will never hear of again.
    assert.deepEqual(written, [Buffer.from([0x40, 2, 0x02, 0x01])]);
  });

  it('what it passes, the MQTT parser reads as the same packets', () => {
    const { out } = run(Buffer.concat([small, big, small]), 10_000, 4096);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const packets: mqttPacket.Packet[] = [];
    parser.on('packet', (p) => packets.push(p));
    parser.parse(out);
    assert.deepEqual(
      packets.map((p) => (p as mqttPacket.IPublishPacket).topic),
      ['tp/node/2/set', 'tp/node/2/set'],
    );
  });

  it('answers a dropped QoS 1 publish with PUBACK and a QoS 2 one with PUBREC, nothing for QoS 0', () => {
    assert.deepEqual(
      acknowledgementOf({ type: 3, qos: 1, length: 9, topic: 't', messageId: 0x1234, retain: false }),
      Buffer.from([0x40, 2, 0x12, 0x34]),
    );
    assert.deepEqual(
      acknowledgementOf({ type: 3, qos: 2, length: 9, topic: 't', messageId: 1, retain: false }),
      Buffer.from([0x50, 2, 0, 1]),
    );
    assert.equal(acknowledgementOf({ type: 3, qos: 0, length: 9, topic: 't', retain: false }), undefined);
  });

  it('names the topic with its control characters escaped, never the content', () => {
    const text = describeDropped({
      type: 3,
      qos: 1,
      length: 200 * 1024 * 1024,
      topic: 'a/\u001b[31m\nb',
      messageId: 1,
      retain: false,
    });
    assert.equal(text, 'MQTT: dropped a message of 200.0 MiB on a/\\x1b[31m\\nb without reading it (limit 256 KiB)');
  });

  it('passes malformed framing on untouched, for the parser to refuse', () => {
    const junk = Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02]);
    assert.deepEqual(run(junk, 10, 2).out, junk);
  });

  it('tells an MQTT 5 broker the limit in CONNECT (maximumPacketSize)', () => {
    const v5 = mqttClientOptions(parseConfig({ mqtt: { url: 'mqtt://b', protocol_version: 5 } }), 'id', {
      topic: 't',
      payload: 'offline',
    });
    assert.equal(v5.properties?.maximumPacketSize, MAX_INCOMING_PACKET_BYTES);
    const v4 = mqttClientOptions(parseConfig({ mqtt: { url: 'mqtt://b' } }), 'id', { topic: 't', payload: 'offline' });
    assert.equal(v4.properties, undefined);
  });
});
