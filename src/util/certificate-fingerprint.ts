import { createHash } from 'node:crypto';
import { colonHex } from './fingerprint.js';

/** SHA-256 of a certificate's DER, as `AA:BB:...` (the form parseFingerprint returns). */
export function fingerprintOf(der: Buffer): string {
  return colonHex(createHash('sha256').update(der).digest('hex'));
}
