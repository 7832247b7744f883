import { readFileSync } from 'node:fs';

/**
 * The package's version, read once from the package.json above this file: dist/src/app (the
 * compiled modules), dist/src or dist/src/chunks (the bundle), src/app (run through tsx).
 */
function readPackage(): { version: string } {
  for (let dir = new URL('.', import.meta.url); ; dir = new URL('..', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version: string };
      if (pkg.name === 'turingpi-mqtt') return pkg;
    } catch {
      // none here: one folder up
    }
    if (dir.pathname === '/') return { version: '0.0.0' };
  }
}

export const VERSION = readPackage().version;

/**
 * A clock earlier than this is not plausible (a board without network or RTC battery boots in
 * 1970): schedules are armed only after it (docs/schedules.md). Raised at each release.
 */
export const BUILD_DATE = Date.UTC(2026, 10, 23);
