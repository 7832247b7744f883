import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import tls from 'node:tls';
import type { Config } from '../config/schema.js';
import { FACTORY_IMAGE_FINGERPRINT, bmcTrust } from '../board/tpi2/pinning.js';
import { TpmError, errorMessage } from '../util/errors.js';
import { fingerprintOf } from '../util/certificate-fingerprint.js';
import { isoTime } from '../util/iso-time.js';

/**
 * `turingpi-mqtt bmc trust -c FILE`: like ssh's first connection, shows the certificate the
 * BMC presents and the line that pins it (docs/turing-pi-2.md, "Certificate"). One TLS
 * handshake, then the connection is closed: no request, no login, no password sent.
 */

export interface PresentedCertificate {
  subject: string;
  issuer: string;
  selfSigned: boolean;
  validFrom: Date;
  validTo: Date;
  fingerprint: string;
  /** The connection passed the usual check against board.bmc.ca (a CA-signed certificate). */
  authorizedByCa: boolean;
}

/** One TLS handshake with the BMC; the certificate it presented. */
export async function fetchBmcCertificate(url: string, ca: string[], timeoutMs: number): Promise<PresentedCertificate> {
  const target = new URL(url);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const port = Number(target.port || 443);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host,
      port,
      ...(isIP(host) ? {} : { servername: host }),
      rejectUnauthorized: false,
      ...(ca.length > 0 ? { ca } : {}),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new TpmError('TIMEOUT', `no TLS handshake with ${target.origin} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(new TpmError('BMC', `cannot reach the BMC at ${target.origin}: ${errorMessage(error)}`));
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const raw = socket.getPeerCertificate().raw as Buffer | undefined;
      const authorizedByCa = ca.length > 0 && socket.authorized;
      socket.end();
      if (raw === undefined) {
        reject(new TpmError('BMC', `the BMC at ${target.origin} presented no certificate`));
        return;
      }
      const certificate = new X509Certificate(raw);
      resolve({
        subject: certificate.subject.replace(/\n/g, ', '),
        issuer: certificate.issuer.replace(/\n/g, ', '),
        selfSigned: certificate.checkIssued(certificate),
        validFrom: new Date(certificate.validFrom),
        validTo: new Date(certificate.validTo),
        fingerprint: fingerprintOf(raw),
        authorizedByCa,
      });
    });
  });
}

/** What `bmc trust` prints: the certificate, how this config trusts it, and the line to add. */
function formatTrustReport(
  origin: string,
  file: string,
  config: Config,
  cert: PresentedCertificate,
  now: Date,
): string {
  const { bmc } = config.board;
  const trust = bmcTrust({ fingerprint: bmc.fingerprint, ca: bmc.ca, insecure: false });
  const expired = cert.validTo < now;
  const lines = [
    `The BMC at ${origin} presents this certificate (nothing was sent to it: no request, no login):`,
    `  subject:     ${cert.subject}`,
    `  issuer:      ${cert.selfSigned ? `${cert.issuer} (self-signed)` : cert.issuer}`,
    `  valid from:  ${isoTime(cert.validFrom)}`,
    `  valid until: ` +
      `${isoTime(cert.validTo)}${expired ? ' (expired: usual for a BMC; a pin ignores the dates)' : ''}`,
    `  SHA-256:     ${cert.fingerprint}`,
    '',
  ];
  if (cert.fingerprint === FACTORY_IMAGE_FINGERPRINT) {
    lines.push(
      "This is the certificate of the firmware's factory image, and its private key is published with the firmware",
      'sources: anyone can present it. Pinning it still keeps other certificates out; for a certificate of this BMC',
      'alone, make a new one on the BMC (docs/turing-pi-2.md, "Certificate") and run this command again.',
      '',
    );
  }
  if (trust.pins.includes(cert.fingerprint)) {
    lines.push(`${file} already trusts this certificate (pinned).`);
    return `${lines.join('\n')}\n`;
  }
  if (cert.authorizedByCa) {
    lines.push(`${file} already trusts this certificate (signed by a CA in board.bmc.ca, for this address).`);
    return `${lines.join('\n')}\n`;
  }
  if (trust.pins.length > 0) {
    lines.push(`This is NOT the certificate ${file} pins (${trust.pins.join(' or ')}).`);
  } else if (bmc.insecure) {
    lines.push(`${file} accepts any certificate (board.bmc.insecure: true); pinning this one is safer.`);
  } else {
    lines.push(`${file} does not trust this certificate yet.`);
  }
  lines.push(
    "Check that the fingerprint is your BMC's own: on the BMC (ssh root@<bmc>) run",
    '  openssl x509 -in /etc/ssl/certs/bmcd_cert.pem -noout -fingerprint -sha256',
    `then, under board.bmc in ${file}, set${bmc.insecure ? ' (and remove insecure: true)' : ''}:`,
    `    fingerprint: "${cert.fingerprint}"`,
  );
  return `${lines.join('\n')}\n`;
}

export interface TrustCommandIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** Exit codes: 0 the certificate was shown, 1 the BMC could not be reached, 2 usage or config error. */
export async function runBmcTrust(file: string, timeoutMs: number, io: TrustCommandIo): Promise<number> {
  const [{ loadConfigFile }, { ConfigError, formatProblems }] = await Promise.all([
    import('../config/load.js'),
    import('../config/problems.js'),
  ]);
  let config: Config;
  try {
    // Like validate: an unset ${VAR} (the passwords, which bmc trust never sends) is no reason to refuse.
    config = (await loadConfigFile(file, { role: 'bridge', unsetVariables: 'warn' })).config;
  } catch (error) {
    if (error instanceof ConfigError) for (const line of formatProblems(error.problems)) io.err(`${line}\n`);
    else io.err(`turingpi-mqtt: ${errorMessage(error)}\n`);
    return 2;
  }
  const { board } = config;
  const simulated = board.type === 'simulator' && board.simulate.model === 'tpi2';
  if (board.type !== 'tpi2' && !simulated) {
    io.err(`turingpi-mqtt: bmc trust is for a Turing Pi 2 (board.type: tpi2); ${file} has board.type ${board.type}\n`);
    return 2;
  }
  let ca: string[];
  try {
    ca = bmcTrust({ ca: board.bmc.ca }).ca;
  } catch (error) {
    io.err(`turingpi-mqtt: ${errorMessage(error)}\n`);
    return 2;
  }
  // The simulated board's BMC exists only while the bridge runs: start one to show its certificate.
  let url = board.bmc.url;
  let stop = async (): Promise<void> => undefined;
  if (simulated) {
    const { startBmcSimulator } = await import('../board/simulator/bmc-server.js');
    const simulator = await startBmcSimulator({ password: 'unused' });
    url = simulator.url;
    stop = () => simulator.close();
  }
  try {
    const certificate = await fetchBmcCertificate(url, ca, timeoutMs);
    io.out(formatTrustReport(new URL(url).origin, file, config, certificate, new Date()));
    return 0;
  } catch (error) {
    io.err(`turingpi-mqtt: ${errorMessage(error)}\n`);
    return 1;
  } finally {
    await stop();
  }
}
