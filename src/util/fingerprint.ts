const FINGERPRINT_BYTES = 32;

/**
 * A SHA-256 certificate fingerprint as people copy it: `AA:BB:...` (browsers, `openssl x509
 * -fingerprint -sha256`, with or without its "sha256 Fingerprint=" label) or 64 hex digits.
 * Returns the canonical `AA:BB:...` form, or null when the text is neither. No `node:crypto`
 * here: the config loader checks fingerprints, and loading crypto costs it some 6 ms of every
 * start (fingerprintOf, in certificate-fingerprint.ts, hashes).
 */
export function parseFingerprint(text: string): string | null {
  const trimmed = text.trim().replace(/^sha-?256\s*(fingerprint)?\s*[=:]?\s*/i, '');
  let hex: string;
  if (/^[0-9a-f]{2}(:[0-9a-f]{2})+$/i.test(trimmed)) hex = trimmed.replace(/:/g, '');
  else if (/^[0-9a-f]+$/i.test(trimmed)) hex = trimmed;
  else return null;
  if (hex.length !== FINGERPRINT_BYTES * 2) return null;
  return colonHex(hex);
}

/** Hex digits as `AA:BB:...`. */
export function colonHex(hex: string): string {
  return hex.toUpperCase().replace(/(..)(?!$)/g, '$1:');
}

/** Whether a certificate option (board.bmc.ca) holds the PEM itself rather than a file's path. */
export function isInlinePem(value: string): boolean {
  return value.includes('-----BEGIN');
}
