import { TpmError } from '../../util/errors.js';
import { TPI2_NODES } from './api.js';

/** Small helpers of the BMC client (driver.ts). */

export function checkNode(node: number): void {
  if (!Number.isInteger(node) || node < 1 || node > TPI2_NODES) {
    throw new TpmError('BAD_COMMAND', `node must be 1-${TPI2_NODES} on a Turing Pi 2 (got ${node})`);
  }
}

export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    const excerpt = text.length > 100 ? `${text.slice(0, 100)}...` : text;
    throw new TpmError('BMC', `the BMC's answer to ${what} is not JSON: ${JSON.stringify(excerpt)}`);
  }
}

export function withAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

export function formatWait(ms: number): string {
  if (ms < 60_000) return `${Math.ceil(ms / 1000)} s`;
  return `${Math.ceil(ms / 60_000)} min`;
}
