import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import path from 'node:path';
import { runCli, startCli, tempDir, testBridgeConfig, writeConfig, type CliProcess } from '../support/cli.js';
import { requireMosquitto } from '../support/mosquitto.js';
import { makeTestPki, startSecureMosquitto, type SecureMosquitto, type TestPki } from '../support/mosquitto-secure.js';
import { Recorder } from '../support/recorder.js';
import { connectAsync } from 'mqtt';
import { topics } from '../../src/mqtt/topics.js';
import { mosquittoAcl } from './acl.js';
import { delay, startLibraryBridge, until } from './helpers.js';

/**
 * Issue 6, item 5: TLS with a CA file, username/password, refused connections retried with
 * back-off (never a tight loop), secrets absent from every log line (debug included), from
 * bridge/info, events and answers, and the warning for a config file others may read.
 * One mosquitto serves it all: a TLS listener that also requires a password.
 */
describe('faults: security of the broker connection and of secrets', function () {
  this.timeout(60_000);
  const PASSWORD = 'pw-7Hq2xZ-bridge-secret';
  const WRONG = 'pw-wrong-9Kd3-not-it';
  const WATCHER_PASSWORD = 'pw-watcher-4Lm8';
  const WATCH_SECONDS = 4.5;
  let binary: string;
  let pki: TestPki;
  let broker: SecureMosquitto | undefined;
  const bridges: CliProcess[] = [];

  before(async function () {
    binary = requireMosquitto(this);
    pki = makeTestPki();
    broker = await startSecureMosquitto(binary, {
      listenerLines: [`cafile ${pki.ca}`, `certfile ${pki.serverCert}`, `keyfile ${pki.serverKey}`],
      users: { bridge: PASSWORD, watcher: WATCHER_PASSWORD },
    });
  });

  after(async () => {
    for (const bridge of bridges) if (bridge.running) await bridge.stop('SIGTERM');
    await broker?.stop();
  });

  function bridgeConfig(id: string, mqtt: Record<string, unknown>): string {
    const dir = tempDir(`tpm-sec-${id}-`);
    const config = testBridgeConfig({
      dir,
      id,
      base: `sec-${id}`,
      url: `mqtts://127.0.0.1:${broker!.port}`,
      overrides: {
        mqtt: { username: 'bridge', ...mqtt },
        homeassistant: { enabled: false },
        log: { level: 'debug', format: 'json' },
      },
    });
    const file = writeConfig(dir, config);
    chmodSync(file, 0o600);
    return file;
  }

  it(
    'connects over TLS with the CA and the password, refuses a wrong CA and a wrong password with back-off, ' +
      'and never shows a secret',
    async () => {
      const good = startCli(['bridge', '-c', bridgeConfig('good', { password: PASSWORD, tls: { ca: pki.ca } })]);
      const wrongCa = startCli([
        'bridge',
        '-c',
        bridgeConfig('badca', { password: PASSWORD, tls: { ca: pki.otherCa } }),
      ]);
      const wrongPassword = startCli(['bridge', '-c', bridgeConfig('badpw', { password: WRONG, tls: { ca: pki.ca } })]);
      bridges.push(good, wrongCa, wrongPassword);
      const started = Date.now();

      await good.waitForLog(/^bridge online/, 15_000);
      const watcher = await Recorder.connect(`mqtts://127.0.0.1:${broker!.port}`, 'sec-good', {
        filters: ['#'],
        client: {
          username: 'watcher',
          password: WATCHER_PASSWORD,
          ca: await import('node:fs').then((fs) => fs.readFileSync(pki.ca)),
        },
      });
      // Things that make the bridge talk: a status, a refused request, an unknown command.
      const status = await watcher.request('status', {});
      assert.equal(status.status, 'ok');
      const refused = await watcher.request('power', { node: 1, action: 'off', password: PASSWORD });
      assert.equal(refused.status, 'error');
      await watcher.command(9, 'ON');
      await watcher.waitForEvent((e) => /unknown node/.test(e.error ?? ''), 3000);

      const remaining = WATCH_SECONDS * 1000 - (Date.now() - started);
      if (remaining > 0) await delay(remaining);
      const attempts = (p: CliProcess): number => p.logLines().filter((l) => /retrying in/.test(l.msg)).length;
      const errors = (p: CliProcess): string[] =>
        p
          .logLines()
          .filter((l) => l.level >= 50)
          .map((l) => l.msg);

      assert.ok(wrongCa.running && wrongPassword.running, 'refused bridges keep trying, they do not exit');
      assert.ok(!wrongCa.logLines().some((l) => /^bridge online/.test(l.msg)));
      assert.ok(
        errors(wrongCa).some((m) => /TLS to MQTT broker .* failed: .*(certificate|self.signed|verify)/i.test(m)),
        errors(wrongCa).join('\n'),
      );
      assert.ok(
        errors(wrongPassword).some((m) =>
          /refused the credentials \(not authorized\): check mqtt.username and mqtt.password/.test(m),
        ),
        errors(wrongPassword).join('\n'),
      );
      // Back-off 1 s, 2 s, 4 s...: at most 4 attempts in 4.5 s; a tight loop would make hundreds.
      for (const [name, proc] of [
        ['wrong CA', wrongCa],
        ['wrong password', wrongPassword],
      ] as const) {
        const count = attempts(proc);
        assert.ok(count >= 2 && count <= 4, `${name}: ${count} reconnection attempts in ${WATCH_SECONDS} s`);
        assert.equal(
          new Set(errors(proc)).size,
          errors(proc).length,
          `${name}: the same error is logged once, not per attempt`,
        );
      }

      // Everything but the one request this test sent with a password in it (to see it is not echoed).
      const sources = [
        ...bridges.map((p, i) => [`bridge ${i} output`, p.stdout + p.stderr]),
        ...watcher.messages
          .filter((m) => !m.topic.includes('/bridge/request/'))
          .map((m) => [`MQTT ${m.topic}`, m.payload]),
        ['mosquitto log', broker!.output()],
      ];
      for (const secret of [PASSWORD, WRONG]) {
        const leaks = sources.filter(([, text]) => text!.includes(secret)).map(([where]) => where);
        assert.deepEqual(leaks, [], `a password appears in: ${leaks.join(', ')}`);
      }
      const info = watcher.last('sec-good/bridge/info');
      assert.ok(info && !/password|secret/i.test(info.payload), 'bridge/info carries no secret');
      const lines = bridges.reduce((sum, p) => sum + p.logLines().length, 0);
      await watcher.close();
      console.log(
        `      security: TLS+password connected; wrong CA -> "${errors(wrongCa)[0]?.slice(0, 60)}…" ` +
          `${attempts(wrongCa)} attempts in ${WATCH_SECONDS} s; ` +
          `wrong password -> ${attempts(wrongPassword)} attempts in ${WATCH_SECONDS} s; secrets found in ` +
          `${lines} debug log lines + ${watcher.messages.length} MQTT messages: 0`,
      );
    },
  );

  it('says what is wrong with a TLS connection: the host, the client certificate', async () => {
    const certBroker = await startSecureMosquitto(binary, {
      listenerLines: [
        `cafile ${pki.ca}`,
        `certfile ${pki.serverCert}`,
        `keyfile ${pki.serverKey}`,
        'require_certificate true',
      ],
      users: { bridge: PASSWORD },
    });
    const ask = async (port: number, tls: Record<string, unknown>): Promise<string> => {
      const dir = tempDir('tpm-sec-tls-');
      const file = writeConfig(dir, {
        mqtt: { url: `mqtts://127.0.0.1:${port}`, username: 'bridge', password: '${TPM_TLS_PASSWORD}', tls },
      });
      const env = { TPM_TLS_PASSWORD: PASSWORD };
      const run = await runCli(['power', '1', 'status', '-c', file, '--timeout', '5'], { env });
      assert.equal(run.code, 1);
      const said = run.stdout + run.stderr;
      assert.ok(!said.includes(PASSWORD));
      assert.doesNotMatch(said, /SSL routines|openssl|\\n/, 'no raw OpenSSL text');
      return said;
    };
    try {
      const notFor = await ask(broker!.port, { ca: pki.ca, server_name: 'broker.lan' });
      assert.match(notFor, /certificate .*broker\.lan.*mqtt\.tls\.server_name/s);
      assert.doesNotMatch(notFor, /check mqtt\.tls\.ca/, 'the CA is right: the name is not');
      const noCert = await ask(certBroker.port, { ca: pki.ca });
      assert.match(noCert, /asks for a client certificate: set mqtt\.tls\.cert and mqtt\.tls\.key/);
      const stranger = await ask(certBroker.port, { ca: pki.ca, cert: pki.strangerCert, key: pki.strangerKey });
      assert.match(stranger, /refused this client's certificate .*check mqtt\.tls\.cert and mqtt\.tls\.key/);
      // What works gets as far as asking: no bridge on that base topic.
      const good = await ask(certBroker.port, { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey });
      assert.match(good, /no bridge has announced itself/);
      const insecure = await ask(broker!.port, { ca: pki.otherCa, reject_unauthorized: false });
      assert.match(insecure, /no bridge has announced itself/);
      console.log(`      security, TLS: ${[notFor, noCert, stranger].map((m) => m.trim()).join(' | ')}`);
    } finally {
      await certBroker.stop();
    }
  });

  it('says which scheme to write when the URL and the port disagree on TLS (mosquitto only resets)', async () => {
    const plain = await startSecureMosquitto(binary, { listenerLines: ['allow_anonymous true'] });
    const ask = async (url: string): Promise<string> => {
      const dir = tempDir('tpm-sec-scheme-');
      const file = writeConfig(dir, { mqtt: { url, tls: { ca: pki.ca } } });
      const run = await runCli(['power', '1', 'status', '-c', file, '--timeout', '5']);
      assert.equal(run.code, 1);
      return run.stdout + run.stderr;
    };
    try {
      // It said "MQTT broker mqtts://127.0.0.1:PORT: read ECONNRESET".
      const tlsToPlain = await ask(`mqtts://127.0.0.1:${plain.port}`);
      assert.match(tlsToPlain, /closed the connection at once: is this port plain .*else write mqtt:\/\//);
      const plainToTls = await ask(`mqtt://127.0.0.1:${broker!.port}`);
      assert.match(plainToTls, /closed the connection at once: is this port TLS .*else write mqtts:\/\//);
    } finally {
      await plain.stop();
    }
  });

  it('warns about a config file with a password that others may read', async () => {
    const dir = tempDir('tpm-sec-mode-');
    const file = writeConfig(dir, { mqtt: { url: 'mqtt://127.0.0.1:1883', username: 'bridge', password: PASSWORD } });
    chmodSync(file, 0o644);
    const open = await runCli(['validate', '-c', file]);
    assert.equal(open.code, 0);
    assert.match(open.stdout, /warning: .* is readable by other users and holds a password: chmod 600/);
    assert.ok(!(open.stdout + open.stderr).includes(PASSWORD));
    chmodSync(file, 0o600);
    const closed = await runCli(['validate', '-c', file]);
    assert.doesNotMatch(closed.stdout, /readable by other users/);
    // A ${VAR} reference keeps the secret out of the file: no warning even when readable.
    const byEnvConfig = { mqtt: { username: 'bridge', password: '${TPM_FAULTS_MQTT_PASSWORD}' } };
    const byEnv = writeConfig(dir, byEnvConfig, 'env.yaml');
    chmodSync(byEnv, 0o644);
    const env = await runCli(['validate', '-c', path.basename(byEnv)], {
      cwd: dir,
      env: { TPM_FAULTS_MQTT_PASSWORD: PASSWORD },
    });
    assert.equal(env.code, 0);
    assert.doesNotMatch(env.stdout, /readable by other users/);
    console.log(
      '      security: config with a password and mode 644 -> warning (chmod 600); mode 600 or ${VAR} -> none',
    );
  });

  it('with the documented ACL, Home Assistant sends every command the bridge takes, and no agent command', async () => {
    const users = { 'turingpi-bridge': PASSWORD, homeassistant: 'pw-ha-8Qw3' };
    const aclBroker = await startSecureMosquitto(binary, { listenerLines: [], users, acl: mosquittoAcl('tp', [3]) });
    const url = `mqtt://127.0.0.1:${aclBroker.port}`;
    const client = (user: keyof typeof users) =>
      connectAsync(url, { username: user, password: users[user], clean: true, reconnectPeriod: 0 });
    const [bridge, ha] = await Promise.all([client('turingpi-bridge'), client('homeassistant')]);
    try {
      const arrived: string[] = [];
      bridge.on('message', (topic) => arrived.push(topic));
      await bridge.subscribeAsync('tp/#', { qos: 1 });
      // Every topic the bridge takes commands on (docs/topics.md): its entities publish there.
      const t = topics('tp');
      const commands = [
        t.nodeSet(2),
        t.request('power'),
        t.request('bmc/login'),
        t.maintenanceSet,
        t.rtcSet,
        t.scheduleSet('nightly'),
        t.fanSet,
        t.usbSet,
      ];
      for (const topic of [...commands, t.agentCommand(3)]) await ha.publishAsync(topic, 'x', { qos: 1 });
      await bridge.publishAsync(t.bridgeState, 'online', { qos: 1 }); // the last to arrive, if all went through
      await until(() => arrived.includes(t.bridgeState), 'the round trip', 3000);
      assert.deepEqual(
        commands.filter((topic) => !arrived.includes(topic)),
        [],
        'command topics Home Assistant may not publish on',
      );
      assert.ok(!arrived.includes(t.agentCommand(3)), 'Home Assistant commanded an agent');
    } finally {
      await Promise.all([bridge, ha].map((c) => c.endAsync(true).catch(() => undefined)));
      await aclBroker.stop();
    }
  });

  it('with the documented ACL, only the bridge and Home Assistant command nodes, the CLI user only asks', async () => {
    const users = {
      'turingpi-bridge': PASSWORD,
      homeassistant: 'pw-ha-2Xy7',
      'turingpi-agent-3': 'pw-agent-3',
      'turingpi-cli': 'pw-cli-5Tr1',
      guest: 'pw-guest',
    };
    const aclBroker = await startSecureMosquitto(binary, { listenerLines: [], users, acl: mosquittoAcl('tp', [3]) });
    const url = `mqtt://127.0.0.1:${aclBroker.port}`;
    const lab = await startLibraryBridge(url, {
      sections: { mqtt: { username: 'turingpi-bridge', password: PASSWORD }, board: { poll_interval: '1h' } },
    });
    const client = (user: keyof typeof users) =>
      connectAsync(url, { username: user, password: users[user], clean: true, reconnectPeriod: 0 });
    const [ha, agent, guest] = await Promise.all([
      client('homeassistant'),
      client('turingpi-agent-3'),
      client('guest'),
    ]);
    try {
      const changes: number[] = [];
      lab.sim.ds4520.onPowerChange((control) => changes.push(control));
      const wasOn = lab.sim.ds4520.nodePowered(2);
      // Refused publishes are dropped by mosquitto: the bridge never sees them.
      await guest.publishAsync('tp/node/2/set', wasOn ? 'OFF' : 'ON', { qos: 1 });
      await agent.publishAsync('tp/node/2/set', wasOn ? 'OFF' : 'ON', { qos: 1 });
      await agent.publishAsync('tp/bridge/request/power', JSON.stringify({ node: 2, action: 'toggle' }), { qos: 1 });
      await delay(500);
      assert.deepEqual(changes, [], 'a guest or an agent cannot switch a node');
      await ha.publishAsync('tp/node/2/set', wasOn ? 'OFF' : 'ON', { qos: 1 });
      await until(() => lab.sim.ds4520.nodePowered(2) === !wasOn, 'Home Assistant switching node 2', 3000);
      assert.equal(changes.length, 1);

      // turingpi-mqtt power as the CLI's own user: asked, answered, with its steps.
      const cliDir = tempDir('tpm-acl-cli-');
      const cliConfig = writeConfig(cliDir, {
        mqtt: { url, username: 'turingpi-cli', password: '${TPM_CLI_PASSWORD}', base_topic: 'tp' },
      });
      const env = { TPM_CLI_PASSWORD: users['turingpi-cli'] };
      const asked = await runCli(['power', '2', 'toggle', '-c', cliConfig, '--timeout', '10'], { env });
      assert.equal(asked.code, 0, asked.stdout + asked.stderr);
      assert.equal(changes.length, 2, 'the CLI user toggled node 2');
      // ... and it asks; it does not command.
      const cliClient = await client('turingpi-cli');
      await cliClient.publishAsync('tp/node/2/set', 'TOGGLE', { qos: 1 });
      await cliClient.endAsync();
      await delay(300);
      assert.equal(changes.length, 2, 'a set from the CLI user was dropped');
      // The bridge gone: it reads the retained offline and says so at once (it used to wait 10 s).
      await lab.bridge.stop();
      const started = Date.now();
      const offline = await runCli(['power', '2', 'on', '-c', cliConfig, '--timeout', '10'], { env });
      assert.equal(offline.code, 1);
      assert.match(offline.stderr + offline.stdout, /the bridge is offline: nothing was asked/);
      assert.ok(Date.now() - started < 8000, 'it did not wait out its time-out');
      console.log(
        '      security, ACL: guest and agent command publishes dropped by mosquitto (0 power changes); Home ' +
          'Assistant command acted (1); turingpi-mqtt power as turingpi-cli acted (1) and saw the bridge offline',
      );
    } finally {
      await Promise.all([ha, agent, guest].map((c) => c.endAsync(true).catch(() => undefined)));
      await lab.bridge.stop();
      await aclBroker.stop();
    }
  });
});
