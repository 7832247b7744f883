import { TpmError } from '../util/errors.js';

/**
 * The longest `--timeout`: a day. Node's timers hold at most 2^31-1 ms (24.8 days) and fire at
 * once, with a warning, beyond it: `--timeout 99999999` gave up in a millisecond while the action
 * went on.
 */
export const MAX_TIMEOUT_SECONDS = 86_400;

/** The shortest `--timeout`: below a second, no answer could come back in time. */
export const MIN_TIMEOUT_SECONDS = 1;

/**
 * `--timeout S` in milliseconds, or undefined where it was not given. A time-out that could not
 * be waited for (under a second, above a day, not a number) is a usage error: refused before
 * anything is asked.
 */
export function parseTimeoutOption(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const seconds = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(seconds >= MIN_TIMEOUT_SECONDS && seconds <= MAX_TIMEOUT_SECONDS)) {
    const range = `from ${MIN_TIMEOUT_SECONDS} to ${MAX_TIMEOUT_SECONDS}`;
    throw new TpmError('USAGE', `--timeout takes seconds ${range}, not "${text}"`);
  }
  return Math.round(seconds * 1000);
}
