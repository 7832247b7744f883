import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { startBmcSimulator, type BmcSimulator } from '../../src/board/simulator/bmc-server.js';
import { runCli, startBridge, tempDir, type CliProcess } from '../support/cli.js';
import { repoPath } from '../support/paths.js';
import { requireMosquitto, startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { Recorder } from '../support/recorder.js';
import { stopBridgeAndBroker } from './harness.js';

/**
 * docs/turing-pi-2.md's walkthrough, its config as printed there: only the addresses (broker, BMC,
 * state_dir) are pointed at this machine and the fingerprint of step 5 filled in; the passwords come from the
 * environment as the unit's EnvironmentFile gives them. The node the bridge runs on is protected.
 */
function walkthroughConfig(): Record<string, Record<string, unknown>> {
  const doc = readFileSync(repoPath('docs/turing-pi-2.md'), 'utf8');
  const step = doc.slice(doc.indexOf('**3. The config**'));
  const block = /```yaml\n([\s\S]*?)```/.exec(step)?.[1];
  assert.ok(block, 'docs/turing-pi-2.md has no yaml block in step 3');
  return parse(block) as Record<string, Record<string, unknown>>;
}

describe('e2e: the Turing Pi 2 walkthrough of docs/turing-pi-2.md (simulated BMC, real mosquitto)', function () {
  this.timeout(30_000);
  const bmcPassword = `bmc-${randomBytes(8).toString('hex')}`;
  let broker: Mosquitto;
  let recorder: Recorder;
  let bmc: BmcSimulator;
  let bridge: CliProcess | undefined;
  let dir: string;
  let base: string;

  before(async function () {
    const binary = requireMosquitto(this);
    const config = walkthroughConfig();
    broker = await startMosquitto({ binary });
    bmc = await startBmcSimulator({ password: bmcPassword, power: [true, true, false, false] });
    dir = tempDir('tpm-walkthrough-');
    assert.equal(config['mqtt']?.['password'], '${MQTT_PASSWORD}');
    assert.equal((config['board']?.['bmc'] as Record<string, unknown>)['password'], '${TPI_BMC_PASSWORD}');
    config['mqtt'] = { ...config['mqtt'], url: broker.url };
    const bmcSection: Record<string, unknown> = {
      ...(config['board']?.['bmc'] as Record<string, unknown>),
      url: bmc.url,
    };
    assert.equal(bmcSection['fingerprint'], null, 'step 3 leaves the fingerprint to step 5');
    config['board'] = { ...config['board'], poll_interval: '1s', bmc: bmcSection };
    config['state_dir'] = path.join(dir, 'state') as never;
    config['log'] = { level: 'info', format: 'json' };
    base = String(config['mqtt']['base_topic'] ?? 'turingpi');
    const file = path.join(dir, 'turingpi-mqtt.yaml');
    writeFileSync(file, stringify(config), { mode: 0o640 });
    // Step 5: bmc trust prints the line to put in the config.
    const trust = await runCli(['bmc', 'trust', '-c', file]);
    assert.equal(trust.code, 0, trust.stderr);
    const line = /^ +(fingerprint: "[0-9A-F:]{95}")$/m.exec(trust.stdout)?.[1];
    assert.ok(line, trust.stdout);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/fingerprint: null/, line), { mode: 0o640 });
    recorder = await Recorder.connect(broker.url, base);
    // `-c` relative to the bridge's directory, as a unit's WorkingDirectory= allows.
    bridge = await startBridge(path.basename(file), {
      cwd: dir,
      env: { MQTT_PASSWORD: 'broker-password', TPI_BMC_PASSWORD: bmcPassword },
    });
  });

  after(async () => {
    await stopBridgeAndBroker({ bridge, recorder, broker, dir });
    await bmc?.close();
  });

  it('logs in to the BMC with the password from the environment and publishes the four nodes', async () => {
    for (const [index, power] of ['ON', 'ON', 'OFF', 'OFF'].entries()) {
      await recorder.waitForPayload(`${base}/node/${index + 1}/power`, power, 5000);
    }
    assert.equal(bmc.stats.failedLogins, 0);
    assert.ok(bmc.stats.successfulLogins >= 1);
  });

  it('refuses to switch off the node the bridge runs on (protected), and changes nothing', async () => {
    const from = recorder.mark();
    await recorder.command(1, 'OFF');
    const refused = await recorder.waitForEvent((e) => e.node === 1 && e.result === 'error', 5000, from);
    assert.match(refused.error ?? '', /protected/);
    assert.equal(bmc.stats.powerSets, 0);
    assert.equal(bmc.state.physical[0], true);
  });

  // Last: the BMC's certificate changes under the running bridge.
  it('after a firmware update renews the certificate, says to run bmc trust on this very config file', async () => {
    const from = recorder.mark();
    await bmc.renewCertificate();
    const refused = await recorder.waitForEvent((e) => e.type === 'board' && e.result === 'error', 10_000, from);
    // The full path: the event is read far from the bridge's directory (quoted if TMPDIR needs it).
    const file = path.join(dir, 'turingpi-mqtt.yaml');
    assert.match(refused.error ?? '', /`turingpi-mqtt bmc trust -c '?\//);
    assert.ok((refused.error ?? '').includes(file), `the error names ${file}: ${refused.error}`);
    assert.match(refused.error ?? '', /other than the pinned one/);
  });
});
