import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { startBridge, startCli, tempDir, testBridgeConfig, writeConfig, type CliProcess } from '../support/cli.js';
import { requireMosquitto, startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { delay } from './helpers.js';

/**
 * Issue 13, point 6: a 200 MB publish on a topic the bridge or the agent subscribes to. The
 * test's mosquitto accepts it (no max_packet_size); the processes must not: their resident
 * memory comes back to within 50 MB of what it was before, and they keep working.
 */

const HUGE = 200 * 1024 * 1024;
const MB = 1024 * 1024;

function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** The highest RSS the process ever had (VmHWM). */
function peakResident(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) * 1024;
}

/** Publishes `bytes` bytes QoS 1 and waits for the broker's PUBACK; the buffer is freed afterwards. */
async function publishHuge(client: MqttClient, topic: string, bytes: number): Promise<void> {
  await client.publishAsync(topic, Buffer.alloc(bytes, '{'), { qos: 1 });
}

/** RSS once it settled: the lowest of a few readings a little apart (a GC may still be under way). */
async function settledResident(pid: number): Promise<number> {
  let lowest = Infinity;
  for (let i = 0; i < 5; i++) {
    lowest = Math.min(lowest, residentBytes(pid));
    await delay(400);
  }
  return lowest;
}

describe('faults: a 200 MB message on a subscribed topic', function () {
  this.timeout(120_000);
  let binary: string;
  let mosquitto: Mosquitto | undefined;
  let client: MqttClient | undefined;
  const processes: CliProcess[] = [];

  before(function () {
    if (process.platform !== 'linux') this.skip();
    binary = requireMosquitto(this);
  });

  afterEach(async () => {
    for (const proc of processes.splice(0)) if (proc.running) await proc.stop('SIGKILL');
    await client?.endAsync(true).catch(() => undefined);
    client = undefined;
    await mosquitto?.stop();
    mosquitto = undefined;
  });

  it('the bridge drops it, answers it with an error, keeps answering; its RSS returns to within 50 MB', async () => {
    mosquitto = await startMosquitto({ binary });
    const dir = tempDir('tpm-huge-');
    const bridge = await startBridge(writeConfig(dir, testBridgeConfig({ dir, url: mosquitto.url })));
    processes.push(bridge);
    const pid = bridge.child.pid as number;
    client = await connectAsync(mosquitto.url, { clientId: 'huge-publisher' });
    const responses: string[] = [];
    await client.subscribeAsync('tp/bridge/response/status', { qos: 1 });
    client.on('message', (_topic, payload) => responses.push(payload.toString()));

    await delay(2000);
    const before = await settledResident(pid);
    await publishHuge(client, 'tp/bridge/request/status', HUGE);
    // A request after it: once answered, the bridge has dealt with the huge one (same session, in order).
    await client.publishAsync('tp/bridge/request/status', JSON.stringify({ transaction: 'after' }), { qos: 1 });
    const deadline = Date.now() + 60_000;
    while (!responses.some((r) => r.includes('"after"')) && Date.now() < deadline) await delay(50);
    const after = await settledResident(pid);
    assert.ok(
      after - before < 50 * MB,
      `bridge RSS ${Math.round(before / MB)} MB before, ${Math.round(after / MB)} MB after the 200 MB message`,
    );
    console.log(
      `      200 MB on bridge/request/status: bridge RSS ${Math.round(before / MB)} MB before, ` +
        `${Math.round(after / MB)} MB after (peak ${Math.round(peakResident(pid) / MB)} MB)`,
    );
    // Still connected and answering (the connection was kept; the broker got its PUBACK).
    assert.ok(
      responses.some((r) => r.includes('"after"')),
      'no status response after the huge message',
    );
    // The huge one is answered as any payload over 1 KiB is, without a transaction: that was in
    // the payload, which was not read.
    assert.deepEqual(
      responses.filter((r) => !r.includes('"after"')).map((r) => JSON.parse(r) as unknown),
      [{ status: 'error', error: `payload of ${HUGE} bytes refused: at most 1024 bytes` }],
    );
    assert.ok(
      bridge.logLines().some((l) => /dropped a message of 200\.0 MiB on tp\/bridge\/request\/status/.test(l.msg)),
    );
    assert.ok(bridge.running);
  });

  it('the agent drops it on its command topic, stays online, and its RSS returns to within 50 MB', async () => {
    mosquitto = await startMosquitto({ binary });
    const dir = tempDir('tpm-huge-agent-');
    const config = {
      mqtt: { url: mosquitto.url, base_topic: 'tp', keepalive: 5 },
      agent: { node: 3, interval: '1s', shutdown_command: ['/bin/true'], reboot_command: ['/bin/true'] },
      log: { level: 'info', format: 'json' },
    };
    const file = writeConfig(dir, config, 'agent.yaml');
    const agent = startCli(['agent', '-c', file], { cwd: path.dirname(file) });
    processes.push(agent);
    client = await connectAsync(mosquitto.url, { clientId: 'huge-publisher' });
    const states: string[] = [];
    const events: string[] = [];
    await client.subscribeAsync(['tp/node/3/agent/state', 'tp/node/3/agent/event'], { qos: 1 });
    client.on('message', (topic, payload) => (topic.endsWith('state') ? states : events).push(payload.toString()));
    const started = Date.now();
    while (states.at(-1) !== 'online' && Date.now() - started < 15_000) await delay(50);
    assert.equal(states.at(-1), 'online', agent.describe());
    const pid = agent.child.pid as number;

    await delay(2000);
    const before = await settledResident(pid);
    await publishHuge(client, 'tp/node/3/agent/command', HUGE);
    await agent.waitForLog(/dropped a message|ignored unknown command/, 60_000);
    const after = await settledResident(pid);
    assert.ok(
      after - before < 50 * MB,
      `agent RSS ${Math.round(before / MB)} MB before, ${Math.round(after / MB)} MB after the 200 MB message`,
    );
    console.log(
      `      200 MB on agent/command: agent RSS ${Math.round(before / MB)} MB before, ` +
        `${Math.round(after / MB)} MB after (peak ${Math.round(peakResident(pid) / MB)} MB)`,
    );
    assert.ok(
      agent.logLines().some((l) => /dropped a message of 200\.0 MiB on tp\/node\/3\/agent\/command/.test(l.msg)),
    );
    assert.equal(states.at(-1), 'online', 'the agent must stay online');
    assert.deepEqual(events, [], 'a dropped message is no command: no event');
    assert.ok(agent.running);
  });

  it('with MQTT 5, the broker is told the limit in CONNECT and never sends the bridge a bigger message', async () => {
    mosquitto = await startMosquitto({ binary });
    const dir = tempDir('tpm-huge-v5-');
    const config = testBridgeConfig({ dir, url: mosquitto.url, overrides: { mqtt: { protocol_version: 5 } } });
    const bridge = await startBridge(writeConfig(dir, config));
    processes.push(bridge);
    client = await connectAsync(mosquitto.url, { clientId: 'huge-publisher-v5', protocolVersion: 5 });
    const responses: string[] = [];
    await client.subscribeAsync('tp/bridge/response/status', { qos: 1 });
    client.on('message', (_topic, payload) => responses.push(payload.toString()));
    await publishHuge(client, 'tp/bridge/request/status', 2 * MB);
    await client.publishAsync('tp/bridge/request/status', JSON.stringify({ transaction: 'after' }), { qos: 1 });
    const deadline = Date.now() + 10_000;
    while (!responses.some((r) => r.includes('"after"')) && Date.now() < deadline) await delay(50);
    assert.deepEqual(
      responses.map((r) => (JSON.parse(r) as { transaction?: string }).transaction),
      ['after'],
    );
    // The broker dropped it for us: nothing reached the bridge to drop.
    assert.ok(!bridge.logLines().some((l) => /dropped a message/.test(l.msg)), bridge.describe());
  });
});
