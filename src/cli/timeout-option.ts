import { TpmError } from '../util/errors.js';

/**
 * The longest `--timeout`: a day. Node's timers hold at most 2^31-1 ms (24.8 days) and fire at
 * once, with a warning, beyond it: `--timeout 99999999` gave up in a millisecond while the action
 * went on.
 */
export const MAX_TIMEOUT_SECONDS = 86_400;

/**
 * `--timeout S` in milliseconds, or undefined where it was not given. A time-out that could not
 * be waited for (0, above a day, not a number) is a usage error: refused before anything is asked.
 */
export function parseTimeoutOption(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const seconds = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(seconds > 0 && seconds <= MAX_TIMEOUT_SECONDS)) {
    throw new TpmError('USAGE', `--timeout takes seconds above 0 and at most ${MAX_TIMEOUT_SECONDS}, not "${text}"`);
  }
  return Math.max(1, Math.round(seconds * 1000));
}
