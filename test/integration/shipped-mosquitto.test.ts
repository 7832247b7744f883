import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { tempDir } from '../support/cli.js';
import { requireMosquitto } from '../support/mosquitto.js';
import { repoPath } from '../support/paths.js';
import { freePort, waitUntilAccepting } from '../support/ports.js';

/**
 * Issue 13, points 6 and 8: docker/mosquitto/mosquitto.conf as shipped, run by a real mosquitto
 * (only the port, the data folder and the log are moved to this machine's): no anonymous client,
 * a user of the password file gets in, and a packet over max_packet_size disconnects its sender.
 */
describe('docker/mosquitto/mosquitto.conf, run by mosquitto', function () {
  this.timeout(30_000);
  let child: ChildProcess | undefined;
  const clients: MqttClient[] = [];
  let url = '';

  before(async function () {
    const binary = requireMosquitto(this);
    const passwd = path.join(path.dirname(binary), 'mosquitto_passwd');
    const passwdTool = existsSync(passwd) ? passwd : '/usr/bin/mosquitto_passwd';
    if (!existsSync(passwdTool)) this.skip();
    const dir = tempDir('tpm-shipped-mosquitto-');
    const port = await freePort();
    const shipped = readFileSync(repoPath('docker/mosquitto/mosquitto.conf'), 'utf8');
    const conf = shipped
      .replace(/^listener 1883$/m, `listener ${port} 127.0.0.1`)
      .replaceAll('/mosquitto/data/', `${dir}/`)
      .replace(/^password_file \/mosquitto\/data\/passwd$/m, `password_file ${dir}/passwd`)
      .replace(/^log_dest stdout$/m, 'log_dest stderr');
    assert.notEqual(conf, shipped);
    assert.match(conf, new RegExp(`^password_file ${dir}/passwd$`, 'm'));
    const lines = [conf];
    if (process.getuid?.() === 0) lines.push('user root');
    writeFileSync(path.join(dir, 'mosquitto.conf'), lines.join('\n'));
    execFileSync(passwdTool, ['-c', '-b', path.join(dir, 'passwd'), 'turingpi', 'Br1dge-Pass']);
    child = spawn(binary, ['-c', path.join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
    await waitUntilAccepting(port, 10_000);
    url = `mqtt://127.0.0.1:${port}`;
  });

  after(async () => {
    for (const client of clients) await client.endAsync(true).catch(() => undefined);
    child?.kill('SIGKILL');
  });

  async function connect(options: { username?: string; password?: string } = {}): Promise<MqttClient> {
    const client = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
    clients.push(client);
    return client;
  }

  it('refuses anonymous clients and wrong passwords; takes a user of the password file', async () => {
    await assert.rejects(connect(), /Not authorized/i);
    await assert.rejects(connect({ username: 'turingpi', password: 'wrong' }), /Not authorized|Bad username/i);
    const client = await connect({ username: 'turingpi', password: 'Br1dge-Pass' });
    assert.equal(client.connected, true);
  });

  it('disconnects a client that sends a packet over max_packet_size', async () => {
    const client = await connect({ username: 'turingpi', password: 'Br1dge-Pass' });
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish('turingpi/big', Buffer.alloc(2 * 1024 * 1024, 'x'), { qos: 0 });
    await closed;
  });
});
