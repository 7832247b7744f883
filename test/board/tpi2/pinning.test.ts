import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { generate } from 'selfsigned';
import {
  startBmcSimulator,
  type BmcSimulator,
  type BmcSimulatorOptions,
} from '../../../src/board/simulator/bmc-server.js';
import { SIMULATOR_FACTORY_FINGERPRINT } from '../../../src/board/simulator/factory-certificate.js';
import { Tpi2Driver, type Tpi2DriverOptions } from '../../../src/board/tpi2/driver.js';
import { parseFingerprint } from '../../../src/util/fingerprint.js';
import { TpmError } from '../../../src/util/errors.js';
import { FakeClock } from '../../../src/util/fake-clock.js';
import { tempDir } from '../../support/cli.js';

const PASSWORD = 'pinning-Secret-1';

/**
 * Trust of the BMC's certificate (docs/turing-pi-2.md, "Certificate"): a real BMC serves a
 * self-signed certificate dated 1970 (the simulator's "factory" one is the same shape), so
 * only a pin by fingerprint can trust it, and the pin is checked before any request is sent.
 */
describe('Tpi2Driver: trusting the BMC certificate', () => {
  let clock: FakeClock;
  let bmc: BmcSimulator;
  const drivers: Tpi2Driver[] = [];

  async function startBmc(options: Partial<BmcSimulatorOptions> = {}): Promise<BmcSimulator> {
    bmc = await startBmcSimulator({ clock, password: PASSWORD, power: [true, false, false, false], ...options });
    return bmc;
  }

  function driverFor(options: Partial<Tpi2DriverOptions>): Tpi2Driver {
    const driver = new Tpi2Driver({ url: bmc.url, username: 'root', password: PASSWORD, clock, ...options });
    drivers.push(driver);
    return driver;
  }

  function refusedForTrust(pattern: RegExp) {
    return (error: TpmError): boolean => {
      assert.equal(error.code, 'BMC_TRUST');
      assert.match(error.message, pattern);
      assert.match(error.message, /turingpi-mqtt bmc trust -c/);
      return true;
    };
  }

  beforeEach(() => {
    clock = new FakeClock(Date.UTC(2026, 2, 1, 12));
  });

  afterEach(async () => {
    for (const driver of drivers.splice(0)) await driver.close();
    await bmc?.close();
  });

  it(
    'serves an expired self-signed certificate like the factory one (CN "Turing-Pi self signed", January ' + '1970)',
    async () => {
      await startBmc();
      const certificate = new X509Certificate(bmc.ca);
      assert.equal(certificate.subject, 'CN=Turing-Pi self signed');
      assert.equal(certificate.issuer, certificate.subject);
      assert.equal(new Date(certificate.validFrom).getUTCFullYear(), 1970);
      assert.ok(new Date(certificate.validTo) < new Date('1970-02-01T00:00:00Z'));
      assert.equal(bmc.fingerprint, SIMULATOR_FACTORY_FINGERPRINT);
    },
  );

  it('refuses it without a pin (the dates fail the usual check) and sends nothing', async () => {
    await startBmc();
    await assert.rejects(driverFor({}).open(), refusedForTrust(/not trusted \(CERT_HAS_EXPIRED\)/));
    assert.equal(bmc.stats.requests, 0, 'not one request reached the BMC');
  });

  it(
    'trusts it pinned by fingerprint, in the AA:BB:... and the plain hex form, whatever its dates and host ' + 'name',
    async () => {
      await startBmc();
      await driverFor({ fingerprint: bmc.fingerprint }).open();
      const plainHex = bmc.fingerprint.replace(/:/g, '').toLowerCase();
      // By IP the name would not match either: the certificate names no host at all.
      await driverFor({ fingerprint: plainHex, url: bmc.url.replace('127.0.0.1', 'localhost') }).open();
      assert.equal(bmc.stats.successfulLogins, 2);
    },
  );

  it('trusts it through bmc.ca holding the self-signed certificate itself (pinned by its fingerprint)', async () => {
    await startBmc();
    const file = path.join(tempDir('tpm-pin-'), 'bmc.pem');
    writeFileSync(file, bmc.ca);
    await driverFor({ ca: file }).open();
    assert.equal(bmc.stats.successfulLogins, 1);
  });

  it('refuses another certificate, before the login too, with how to trust the new one', async () => {
    await startBmc();
    const pinned = bmc.fingerprint;
    const driver = driverFor({ fingerprint: pinned, tokenLifetimeMs: 60_000 });
    await driver.open();
    const before = { requests: bmc.stats.requests, logins: bmc.stats.logins };

    // The BMC now serves another certificate (or another machine answers at its address).
    await bmc.renewCertificate();
    // The token is due for renewal: the next call starts with a login, which must not be sent.
    await clock.advance(120_000);
    await assert.rejects(driver.readPower(), refusedForTrust(/other than the pinned one/));
    assert.deepEqual({ requests: bmc.stats.requests, logins: bmc.stats.logins }, before, 'the password was not sent');
    assert.equal(driver.login.status()?.login, 'failed');
    assert.match(driver.login.status()?.reason ?? '', /other than the pinned one/);

    // A fresh driver pinned to the old certificate is refused at its first request.
    await assert.rejects(driverFor({ fingerprint: pinned }).open(), refusedForTrust(/SHA-256 [0-9A-F:]{95}, pinned/));
    assert.equal(bmc.stats.requests, before.requests);
    // The bridge's config file is named, quoted for a shell where it has to be.
    await assert.rejects(
      driverFor({ fingerprint: pinned, configFile: "/etc/tpm/rack 1's.yaml" }).open(),
      refusedForTrust(/`turingpi-mqtt bmc trust -c '\/etc\/tpm\/rack 1'\\''s\.yaml'`/),
    );
    // Without the file (the add-on, whose user has no shell): the add-on's way too.
    await assert.rejects(
      driverFor({ fingerprint: pinned }).open(),
      refusedForTrust(/in the Home Assistant add-on: empty the option "BMC certificate fingerprint" and restart/),
    );
    // Pinned to the new one, it works.
    await driverFor({ fingerprint: bmc.fingerprint }).open();
  });

  it('still accepts any certificate with insecure: true', async () => {
    await startBmc({ certificate: 'fresh' });
    await driverFor({ insecure: true }).open();
    assert.equal(bmc.stats.successfulLogins, 1);
  });

  it('verifies a CA-signed certificate with bmc.ca holding the CA: chain, dates and host name as usual', async () => {
    const ca = await generate([{ name: 'commonName', value: 'Home Lab CA' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true },
      ],
    });
    const leaf = (altName: string) =>
      generate([{ name: 'commonName', value: 'bmc.lab' }], {
        keyType: 'ec',
        algorithm: 'sha256',
        ca: { key: ca.private, cert: ca.cert },
        extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: altName }] }],
      });
    const good = await leaf('127.0.0.1');
    await startBmc({ certificate: { cert: good.cert, key: good.private } });
    await driverFor({ ca: ca.cert }).open();
    assert.equal(bmc.stats.successfulLogins, 1);
    await bmc.close();

    const otherName = await leaf('10.9.9.9');
    await startBmc({ certificate: { cert: otherName.cert, key: otherName.private } });
    await assert.rejects(
      driverFor({ ca: ca.cert }).open(),
      refusedForTrust(/ERR_TLS_CERT_ALTNAME_INVALID|altnames|IP: 127\.0\.0\.1/i),
    );
    assert.equal(bmc.stats.requests, 0);
  });

  it('reads fingerprints as people copy them, and nothing else', () => {
    const colon = SIMULATOR_FACTORY_FINGERPRINT;
    assert.equal(parseFingerprint(colon.toLowerCase()), colon);
    assert.equal(parseFingerprint(colon.replace(/:/g, '')), colon);
    assert.equal(parseFingerprint(`sha256 Fingerprint=${colon}`), colon);
    assert.equal(parseFingerprint(colon.slice(3)), null, '31 bytes');
    assert.equal(parseFingerprint('not a fingerprint'), null);
    assert.throws(
      () => driverFor({ fingerprint: 'AA:BB', url: 'https://127.0.0.1:1' }),
      /board\.bmc\.fingerprint must be/,
    );
  });
});
