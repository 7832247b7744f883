import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';
import type { Config } from '../config/schema.js';
import { MAX_INCOMING_PACKET_BYTES } from './packet-limit.js';

export interface Will {
  topic: string;
  payload: string;
}

/** The broker URL a config points at; `embedded` means the in-process broker. */
export function brokerUrl(config: Config): string {
  if (config.mqtt.url !== 'embedded') return config.mqtt.url;
  const { host, port } = config.mqtt.embedded;
  return mqttUrl(host, port);
}

/** `mqtt://host:port`, an IPv6 address in brackets. */
export function mqttUrl(host: string, port: number): string {
  return `mqtt://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function ignoreTrace(): void {}

/**
 * MQTT.js options from the config: clean session always (docs/topics.md), the retained last
 * will, TLS files read here so a missing file is a clear error before any connection.
 */
export function mqttClientOptions(config: Config, clientId: string, will: Will): IClientOptions {
  const { mqtt } = config;
  const options: IClientOptions = {
    clientId,
    clean: true,
    keepalive: mqtt.keepalive,
    protocolVersion: mqtt.protocol_version,
    reconnectPeriod: 0, // reconnection is ours: with back-off, see connection.ts
    connectTimeout: 10_000,
    will: { topic: will.topic, payload: Buffer.from(will.payload), qos: 1, retain: true },
    resubscribe: true,
    // mqtt-packet's cache of 65,536 encoded numbers costs ~6 MiB for speed no command here needs.
    writeCache: false,
    // MQTT.js otherwise restarts its keep-alive timer on every acknowledgement it receives
    // (three per command: a clearTimeout and a setTimeout each); without, it pings once per
    // keepalive whatever the traffic, and a dead broker is still noticed within 1.5 keepalives.
    reschedulePings: false,
  };
  // MQTT 5 tells the broker the largest packet we take: it drops bigger ones instead of sending
  // them. MQTT 3.1.1 cannot say it; the connection drops them as they arrive (packet-limit.ts).
  if (mqtt.protocol_version === 5) options.properties = { maximumPacketSize: MAX_INCOMING_PACKET_BYTES };
  // MQTT.js traces through `debug` dozens of times per packet, and each call allocates its
  // arguments even while tracing is off: a fifth of all the bridge allocates per command.
  // Traces stay available the usual way (DEBUG=mqttjs*).
  if (!process.env.DEBUG) options.log = ignoreTrace;
  if (mqtt.username !== null) options.username = mqtt.username;
  if (mqtt.password !== null) options.password = mqtt.password;
  const { tls } = mqtt;
  if (tls.ca) options.ca = readFileSync(tls.ca);
  if (tls.cert) options.cert = readFileSync(tls.cert);
  if (tls.key) options.key = readFileSync(tls.key);
  options.rejectUnauthorized = tls.reject_unauthorized;
  if (tls.server_name) options.servername = tls.server_name;
  return options;
}
