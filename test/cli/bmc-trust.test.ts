import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import path from 'node:path';
import { startBmcSimulator, type BmcSimulator } from '../../src/board/simulator/bmc-server.js';
import { SIMULATOR_FACTORY_FINGERPRINT } from '../../src/board/simulator/factory-certificate.js';
import { STACK_LINE, runCli, tempDir, writeConfig } from '../support/cli.js';
import { repoRoot } from '../support/paths.js';

/**
 * `turingpi-mqtt bmc trust -c FILE`, run as a user runs it, against the simulated BMC (its
 * certificate self-signed and dated 1970, like a real BMC's factory certificate).
 */
describe('cli: bmc trust', function () {
  this.timeout(30_000);
  let bmc: BmcSimulator;
  let dir: string;

  const tpi2Config = (bmcSection: Record<string, unknown>): string =>
    writeConfig(
      dir,
      { board: { type: 'tpi2', bmc: { password: 'x', ...bmcSection } }, state_dir: path.join(dir, 'state') },
      `c${Math.random()}.yaml`,
    );

  before(async () => {
    bmc = await startBmcSimulator({ password: 'right' });
    dir = tempDir('tpm-trust-');
  });

  after(async () => {
    await bmc.close();
  });

  it(
    'connects once without logging in and prints subject, dates, fingerprint and the line to add (exit ' + '0)',
    async () => {
      const file = tpi2Config({ url: bmc.url });
      const { code, stdout, stderr } = await runCli(['bmc', 'trust', '-c', file]);
      assert.equal(code, 0, stderr);
      assert.match(stdout, /subject: +CN=Turing-Pi self signed/);
      assert.match(stdout, /issuer: +CN=Turing-Pi self signed \(self-signed\)/);
      assert.match(stdout, /valid from: +1970-01-01T00:01:14\.000Z/);
      assert.match(
        stdout,
        /valid until: +1970-01-31T00:01:14\.000Z \(expired: usual for a BMC; a pin ignores the dates\)/,
      );
      assert.match(stdout, new RegExp(`SHA-256: +${SIMULATOR_FACTORY_FINGERPRINT}`));
      assert.match(stdout, /does not trust this certificate yet/);
      assert.ok(stdout.includes(`    fingerprint: "${SIMULATOR_FACTORY_FINGERPRINT}"`), stdout);
      assert.equal(bmc.stats.requests, 0, 'a TLS handshake only: no request, no login');
    },
  );

  it('says when the config already pins it, and when it pins another certificate', async () => {
    const pinned = await runCli([
      'bmc',
      'trust',
      '-c',
      tpi2Config({ url: bmc.url, fingerprint: bmc.fingerprint.replace(/:/g, '') }),
    ]);
    assert.equal(pinned.code, 0, pinned.stderr);
    assert.match(pinned.stdout, /already trusts this certificate \(pinned\)/);
    const other = await runCli(['bmc', 'trust', '-c', tpi2Config({ url: bmc.url, fingerprint: 'AB'.repeat(32) })]);
    assert.equal(other.code, 0, other.stderr);
    assert.match(other.stdout, /This is NOT the certificate .* pins \(AB:AB:/);
    assert.ok(other.stdout.includes(`fingerprint: "${SIMULATOR_FACTORY_FINGERPRINT}"`));
    assert.equal(bmc.stats.requests, 0);
  });

  it('exits 1 when the BMC cannot be reached, with the reason and no stack trace', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const { port: free } = server.address() as { port: number };
        server.close(() => resolve(free));
      });
    });
    const { code, stderr, stdout } = await runCli([
      'bmc',
      'trust',
      '-c',
      tpi2Config({ url: `https://127.0.0.1:${port}` }),
    ]);
    assert.equal(code, 1);
    assert.match(stderr, /cannot reach the BMC at https:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    assert.equal(stdout, '');
    assert.doesNotMatch(stderr, STACK_LINE);
  });

  it('exits 2 on a usage or config error', async () => {
    assert.equal((await runCli(['bmc', 'trust'])).code, 2);
    assert.equal((await runCli(['bmc'])).code, 2);
    assert.equal((await runCli(['bmc', 'distrust', '-c', 'x.yaml'])).code, 2);
    const tpi1 = writeConfig(dir, { board: { type: 'tpi1' } }, 'tpi1.yaml');
    const notTpi2 = await runCli(['bmc', 'trust', '-c', tpi1]);
    assert.equal(notTpi2.code, 2);
    assert.match(notTpi2.stderr, /bmc trust is for a Turing Pi 2/);
    const http = await runCli(['bmc', 'trust', '-c', tpi2Config({ url: bmc.url.replace('https:', 'http:') })]);
    assert.equal(http.code, 2);
    assert.match(http.stderr, /board\.bmc\.url: must be an https:\/\/ URL/);
  });

  it('validate refuses an http:// BMC with the firmware 1.x message (exit 2)', async () => {
    const file = tpi2Config({ url: 'http://turingpi.local' });
    const { code, stdout, stderr } = await runCli(['validate', '-c', file]);
    assert.equal(code, 2);
    assert.match(
      `${stdout}${stderr}`,
      new RegExp(
        String.raw`board\.bmc\.url: must be an https:\/\/ URL, e\.g\. https:\/\/turingpi\.local ` +
          String.raw`\(BMC firmware 2\.x serves https; firmware 1\.x.*not supported.*never sent in clear`,
      ),
    );
  });

  it('shows the demo config pinned to the simulated BMC of config/demo-tpi2.yaml', async () => {
    const { code, stdout, stderr } = await runCli([
      'bmc',
      'trust',
      '-c',
      path.join(repoRoot(), 'config', 'demo-tpi2.yaml'),
    ]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /already trusts this certificate \(pinned\)/);
  });
});
