import type { Duplex } from 'node:stream';
import type { MqttClient } from 'mqtt';
import { escapeControl } from '../util/printable.js';

/**
 * The largest MQTT packet a turingpi-mqtt process takes in (commands, agent states and
 * telemetry are all under a few kilobytes). MQTT.js's parser (mqtt-packet) keeps every byte
 * of a packet until the last one arrived: a 200 MB publish on a subscribed topic took the
 * bridge to 719 MB resident, and it stayed there. With MQTT 5 the broker is told this limit
 * in CONNECT (maximumPacketSize) and drops what is bigger; with MQTT 3.1.1 there is no such
 * field, so the bytes of a bigger packet are dropped here as they arrive, before the parser.
 */
export const MAX_INCOMING_PACKET_BYTES = 256 * 1024;

/** What is known of a packet dropped for its size: the fixed header, and the topic of a publish. */
export interface DroppedPacket {
  /** The MQTT control packet type (3: PUBLISH). */
  type: number;
  qos: number;
  /** Remaining length (the size announced in the fixed header, without the header). */
  length: number;
  topic?: string;
  messageId?: number;
  /** A publish's retain flag. */
  retain: boolean;
  /** The bytes after a publish's topic and packet id (with MQTT 5, its properties among them). */
  payloadLength?: number;
}

const PUBLISH = 3;
type Mode = 'header' | 'pass' | 'skip' | 'raw';

/**
 * Reads MQTT framing (a fixed header: one type byte, a remaining length in 1-4 bytes of 7 bits)
 * from a byte stream, read by read (`take`), and passes every packet on unchanged, except one
 * whose remaining length is over `maxBytes`: its bytes are dropped as they arrive and `onDrop` is
 * called once, with the topic and packet id of a publish read from its first bytes. At most
 * `maxBytes` (plus one topic) is ever held. Bytes that are not valid framing are passed on as
 * they are (raw): the MQTT parser behind reports the protocol error.
 *
 * Not a stream of its own: a Transform between the socket and MQTT.js's parser cost every read
 * a second trip through node's stream machinery (docs/performance-log.md, "Command latency").
 */
export class PacketLimitFilter {
  private mode: Mode = 'header';
  /** The fixed header read so far (a type byte and at most four length bytes), kept across reads. */
  private readonly header = new Uint8Array(5);
  private headerLength = 0;
  /** Bytes of the current packet still to pass or drop. */
  private remaining = 0;
  private dropped: DroppedPacket | undefined;
  private reported = false;
  /** The first bytes of a dropped publish: topic length, topic, packet id. */
  private start: Buffer[] = [];

  /** What passes of the read in hand, in order: one list, emptied at each read (take()). */
  private readonly passed: Buffer[] = [];

  constructor(
    private readonly maxBytes: number,
    private readonly onDrop: (packet: DroppedPacket) => void,
  ) {}

  /**
   * Where the bytes to pass of the chunk in hand begin and end. What passes goes on in as few
   * pieces as it can: a chunk of whole packets within the limit, the usual read, in one. (Each
   * piece is a call of MQTT.js's parser: a command and the acknowledgement read with it
   * used to make four, a header and a body each.)
   */
  private passFrom = 0;
  private passTo = 0;
  /** Where the header being read began in the chunk in hand; -1 if it began in an earlier one. */
  private headerAt = -1;

  /**
   * Takes one read off the socket; returns what of it passes, in order (none, the read itself, or
   * parts). The list is the filter's own, valid until the next call: a new one for every read was
   * a third of what the filter allocated.
   */
  take(chunk: Buffer): Buffer[] {
    this.passed.length = 0;
    this.passFrom = 0;
    this.passTo = 0;
    this.headerAt = -1;
    let position = 0;
    while (position < chunk.length) {
      if (this.mode === 'raw') {
        this.pass(chunk, position, chunk.length);
        break;
      }
      if (this.mode === 'header') {
        position = this.readHeaderByte(chunk, position);
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - position);
      if (this.mode === 'pass') this.pass(chunk, position, position + take);
      else this.keepStart(chunk.subarray(position, position + take));
      position += take;
      this.remaining -= take;
      if (this.remaining === 0) this.endPacket();
    }
    this.flushPassed(chunk);
    return this.passed;
  }

  /** Bytes `from`-`to` of `chunk` pass: joined to the range before them when they follow it. */
  private pass(chunk: Buffer, from: number, to: number): void {
    if (from !== this.passTo) {
      this.flushPassed(chunk);
      this.passFrom = from;
    }
    this.passTo = to;
  }

  private flushPassed(chunk: Buffer): void {
    if (this.passTo > this.passFrom) {
      this.passed.push(
        this.passFrom === 0 && this.passTo === chunk.length ? chunk : chunk.subarray(this.passFrom, this.passTo),
      );
    }
    this.passFrom = this.passTo;
  }

  private readHeaderByte(chunk: Buffer, position: number): number {
    const byte = chunk[position] as number;
    if (this.headerLength === 0) this.headerAt = position;
    this.header[this.headerLength++] = byte;
    const lengthBytes = this.headerLength - 1;
    if (lengthBytes === 0 || (byte & 0x80) !== 0) {
      if (lengthBytes === 4) this.toRaw(chunk, position + 1); // a fifth length byte: malformed
      return position + 1;
    }
    let length = 0;
    for (let i = lengthBytes; i >= 1; i--) length = length * 128 + ((this.header[i] as number) & 0x7f);
    const first = this.header[0] as number;
    if (length > this.maxBytes) {
      this.mode = 'skip';
      this.dropped = { type: first >> 4, qos: (first >> 1) & 3, length, retain: (first & 1) === 1 };
      this.reported = false;
      this.start = [];
    } else {
      this.passHeader(chunk, position + 1);
      this.mode = 'pass';
    }
    this.headerLength = 0;
    this.headerAt = -1;
    this.remaining = length;
    if (length === 0) this.endPacket();
    return position + 1;
  }

  /**
   * The header just read (up to `end` of the chunk) passes: as part of the chunk, or from the
   * bytes kept when it began in an earlier chunk.
   */
  private passHeader(chunk: Buffer, end: number): void {
    if (this.headerAt >= 0) {
      this.pass(chunk, this.headerAt, end);
      return;
    }
    this.flushPassed(chunk);
    this.passed.push(Buffer.from(this.header.subarray(0, this.headerLength)));
    this.passFrom = end;
    this.passTo = end;
  }

  /** Keeps the first bytes of a dropped publish until its topic and packet id are known. */
  private keepStart(part: Buffer): void {
    const dropped = this.dropped;
    if (!dropped || this.reported) return;
    if (dropped.type !== PUBLISH) {
      this.report();
      return;
    }
    this.start.push(part);
    const start = this.start.length === 1 ? part : Buffer.concat(this.start);
    this.start = [start];
    if (start.length < 2) return;
    const topicLength = start.readUInt16BE(0);
    const needed = 2 + topicLength + (dropped.qos > 0 ? 2 : 0);
    if (start.length < needed) return;
    dropped.topic = start.toString('utf8', 2, 2 + topicLength);
    dropped.payloadLength = dropped.length - needed;
    if (dropped.qos > 0) dropped.messageId = start.readUInt16BE(2 + topicLength);
    this.report();
  }

  private report(): void {
    if (this.reported || !this.dropped) return;
    this.reported = true;
    this.start = [];
    this.onDrop(this.dropped);
  }

  private endPacket(): void {
    if (this.mode === 'skip') this.report();
    this.dropped = undefined;
    this.mode = 'header';
  }

  /** Malformed framing: the header so far (up to `end` of the chunk) and everything after it pass as they are. */
  private toRaw(chunk: Buffer, end: number): void {
    this.passHeader(chunk, end);
    this.headerLength = 0;
    this.headerAt = -1;
    this.mode = 'raw';
  }
}

/**
 * The acknowledgement the broker waits for after a QoS 1 (PUBACK) or QoS 2 (PUBREC) publish we
 * dropped, so its in-flight window does not fill up; undefined for QoS 0. MQTT 3.1.1 and 5 alike
 * (remaining length 2: in MQTT 5 the reason code "success" may be left out).
 */
export function acknowledgementOf(packet: DroppedPacket): Buffer | undefined {
  if (packet.type !== PUBLISH || packet.messageId === undefined) return undefined;
  const type = packet.qos === 2 ? 0x50 : 0x40;
  return Buffer.from([type, 2, packet.messageId >> 8, packet.messageId & 0xff]);
}

type WriteChunk = (chunk: Buffer, encoding: BufferEncoding, done: (error?: Error | null) => void) => void;

/**
 * Puts a PacketLimitFilter in front of MQTT.js's parser on every connection it makes (the first
 * and each reconnection). The client must be created with `manualConnect: true` and connected
 * after this call. MQTT.js has no hook between socket and parser: it pipes the socket, once per
 * connection, into a Writable of its own whose `_write` parses. That `_write` is wrapped, so the
 * parser sees only what passes, in the same calls and with the same backpressure; the socket
 * stays the client's stream (writes, errors and close are untouched).
 */
export function limitIncomingPackets(
  client: MqttClient,
  maxBytes: number,
  onDrop: (packet: DroppedPacket) => void,
): void {
  const holder = client as unknown as { streamBuilder: (client: MqttClient) => Duplex };
  const build = holder.streamBuilder.bind(client);
  holder.streamBuilder = (forClient) => {
    const stream = build(forClient);
    const filter = new PacketLimitFilter(maxBytes, (packet) => {
      const ack = acknowledgementOf(packet);
      if (ack && !stream.destroyed) stream.write(ack);
      onDrop(packet);
    });
    const pipe = stream.pipe.bind(stream);
    stream.pipe = (<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T => {
      const parser = destination as unknown as { _write: WriteChunk };
      if (typeof parser._write !== 'function') throw new Error('internal: MQTT.js no longer parses in _write');
      parser._write = filtered(parser._write.bind(destination), filter);
      return pipe(destination, options);
    }) as typeof stream.pipe;
    return stream;
  };
}

/** `parse` behind the filter: the usual read goes on in one call; pieces one after another, each once parsed. */
function filtered(parse: WriteChunk, filter: PacketLimitFilter): WriteChunk {
  return (chunk, encoding, done) => {
    const passed = filter.take(chunk);
    if (passed.length === 1) {
      parse(passed[0] as Buffer, encoding, done);
      return;
    }
    // Parsed one after another across callbacks: a copy, as the filter's list is emptied at its next read.
    const pieces = [...passed];
    let next = 0;
    const parseNext = (error?: Error | null): void => {
      if (error || next === pieces.length) done(error);
      else parse(pieces[next++] as Buffer, encoding, parseNext);
    };
    parseNext();
  };
}

/** The warning logged for a dropped packet: its size and topic, never its content. */
export function describeDropped(packet: DroppedPacket): string {
  const size = `${(packet.length / (1024 * 1024)).toFixed(1)} MiB`;
  const limit = `${MAX_INCOMING_PACKET_BYTES / 1024} KiB`;
  if (packet.type !== PUBLISH)
    return `MQTT: dropped an incoming packet of type ${packet.type} and ${size} (limit ${limit})`;
  const topic = packet.topic === undefined ? '' : ` on ${escapeControl(packet.topic)}`;
  return `MQTT: dropped a message of ${size}${topic} without reading it (limit ${limit})`;
}
