import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { TpmError, errorMessage } from '../../util/errors.js';
import { fingerprintOf } from '../../util/certificate-fingerprint.js';
import { isInlinePem, parseFingerprint } from '../../util/fingerprint.js';

export { fingerprintOf, parseFingerprint };

/**
 * Which certificate the BMC may present (docs/turing-pi-2.md, "Certificate"). Every BMC serves
 * a self-signed certificate that is usually expired (the factory one is valid only in January
 * 1970, a regenerated one for 30 days) and names no host we use: a CA check of its dates and
 * name fails on every real board. So a certificate the user pinned is compared by the SHA-256
 * of its DER, ignoring dates and names, like ssh's known_hosts; only a CA-signed certificate
 * gets the usual chain, date and host name check.
 */
export interface BmcTrust {
  /** SHA-256 fingerprints (`AA:BB:...`, upper case) of certificates trusted as they are. */
  pins: string[];
  /** PEM certificates of CAs whose signature makes a certificate trusted (the usual check). */
  ca: string[];
  /** Accept any certificate (board.bmc.insecure). */
  insecure: boolean;
  /** How to trust a new certificate, for messages: with the bridge's own config file when known. */
  hint: string;
}

/** The PEM blocks of every certificate in a file's text. */
function pemCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** A certificate that signed itself: the BMC's own, pinned as it is. */
function isSelfSigned(certificate: X509Certificate): boolean {
  try {
    return certificate.checkIssued(certificate) && certificate.verify(certificate.publicKey);
  } catch {
    return false;
  }
}

/** `bmc.ca` is a path or the PEM itself; returns the PEM. */
export function loadCaOption(ca: string): string {
  if (isInlinePem(ca)) return ca;
  try {
    return readFileSync(ca, 'utf8');
  } catch (error) {
    throw new TpmError('CONFIG', `cannot read the BMC certificate file board.bmc.ca (${ca}): ${errorMessage(error)}`, {
      cause: error,
    });
  }
}

/**
 * The trust of board.bmc: `fingerprint` pins one certificate; a `ca` file's self-signed
 * certificates (the BMC's own, saved from a browser or the BMC) are pinned by their
 * fingerprints too, and all its certificates also serve as CAs for a CA-signed BMC certificate.
 */
export function bmcTrust(options: {
  fingerprint?: string | null;
  ca?: string | null;
  insecure?: boolean;
  /** The config file the bridge runs with, named in the messages that say how to trust a certificate. */
  configFile?: string;
}): BmcTrust {
  const pins: string[] = [];
  const ca: string[] = [];
  if (options.fingerprint) {
    const pin = parseFingerprint(options.fingerprint);
    if (pin === null) {
      throw new TpmError(
        'CONFIG',
        'board.bmc.fingerprint must be a SHA-256 fingerprint: 32 bytes as AA:BB:... or 64 hex digits',
      );
    }
    pins.push(pin);
  }
  if (options.ca) {
    const blocks = pemCertificates(loadCaOption(options.ca));
    if (blocks.length === 0)
      throw new TpmError('CONFIG', 'board.bmc.ca holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
    for (const block of blocks) {
      let certificate: X509Certificate;
      try {
        certificate = new X509Certificate(block);
      } catch (error) {
        throw new TpmError('CONFIG', `board.bmc.ca holds a certificate that cannot be read: ${errorMessage(error)}`);
      }
      if (isSelfSigned(certificate)) pins.push(fingerprintOf(certificate.raw));
      ca.push(block);
    }
  }
  return { pins, ca, insecure: options.insecure === true, hint: trustHint(options.configFile) };
}

/**
 * The certificate of the BMC firmware's factory image (CN "Turing-Pi self signed", valid
 * 1970-01-01 to 1970-01-31), whose private key is published with the firmware sources
 * (BMC-Firmware, tp2bmc/board/tp2bmc/factory_overlay): `bmc trust` says so when it sees it.
 */
export const FACTORY_IMAGE_FINGERPRINT =
  'CA:34:3B:93:40:3B:A2:85:AA:E9:AA:1B:B8:90:F1:EF:F5:FF:EA:26:6C:F8:AB:A5:E5:5C:8B:5C:C2:57:BE:1F';

/**
 * How to trust a certificate, for messages: the command to run on the bridge's config file. Without
 * the file (the Home Assistant add-on, whose user has no shell; a library), both ways are named.
 */
function trustHint(configFile: string | undefined): string {
  if (configFile === undefined) {
    return (
      'check the certificate with `turingpi-mqtt bmc trust -c <config file>` and put the fingerprint it prints in ' +
      'board.bmc.fingerprint (in the Home Assistant add-on: empty the option "BMC certificate fingerprint" and ' +
      'restart the add-on; its log then shows the fingerprint to paste there)'
    );
  }
  return (
    `check the certificate with \`turingpi-mqtt bmc trust -c ${shellWord(configFile)}\` and put the fingerprint it ` +
    'prints in board.bmc.fingerprint'
  );
}

/** A path as one word of a shell command, to be pasted as it is. */
function shellWord(path: string): string {
  return /^[\w./@%+=:,-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`;
}

/**
 * Whether the TLS peer may be sent a request; null when it may, else the reason. Called after
 * the handshake and before the first byte of any request (the login's password included).
 */
export function refusePeer(trust: BmcTrust, socket: TLSSocket, origin: string): TpmError | null {
  if (trust.insecure) return null;
  const der = socket.getPeerCertificate().raw as Buffer | undefined;
  if (der === undefined) return new TpmError('BMC_TRUST', `the BMC at ${origin} presented no certificate`);
  const fingerprint = fingerprintOf(der);
  if (trust.pins.includes(fingerprint)) return null;
  // A CA-signed certificate (bmc.ca holding its CA): the usual chain, date and host name check.
  if (trust.ca.length > 0 && socket.authorized) return null;
  const renewed =
    `If the BMC's certificate was renewed (a firmware update or a new certificate on the BMC), ` + trust.hint;
  if (trust.ca.length > 0) {
    return new TpmError(
      'BMC_TRUST',
      `the BMC at ${origin} presented a certificate (SHA-256 ${fingerprint}) that is neither one in board.bmc.ca nor ` +
        `signed by one for this address (${String(socket.authorizationError)}): nothing was sent to it. ${renewed}`,
    );
  }
  if (trust.pins.length > 0) {
    return new TpmError(
      'BMC_TRUST',
      `the BMC at ${origin} presented a certificate other than the pinned one (SHA-256 ${fingerprint}, pinned ` +
        `${trust.pins.join(' or ')}): nothing was sent to it. ${renewed}; if it was not, someone else answers ` +
        `at that address`,
    );
  }
  if (trust.ca.length === 0 && socket.authorized) return null;
  return new TpmError(
    'BMC_TRUST',
    `the BMC at ${origin} presented a certificate that is not trusted (${String(socket.authorizationError)}): ` +
      `a BMC's certificate is self-signed and usually expired, so ${trust.hint}`,
  );
}
