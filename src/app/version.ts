import { readFileSync } from 'node:fs';

/** The package's version and build date, read once from package.json beside dist/. */
function readPackage(): { version: string } {
  for (const relative of ['../../../package.json', '../../package.json']) {
    try {
      return JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { version: string };
    } catch {
      // try the next layout (compiled dist/src/app vs. src/app run through tsx)
    }
  }
  return { version: '0.0.0' };
}

export const VERSION = readPackage().version;

/**
 * A clock earlier than this is not plausible (a board without network or RTC battery boots in
 * 1970): schedules are armed only after it (docs/schedules.md). Raised at each release.
 */
export const BUILD_DATE = Date.UTC(2026, 10, 23);
