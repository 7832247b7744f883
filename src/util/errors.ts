/** Typed errors with stable codes: messages are for people, codes for programs. */
export type ErrorCode =
  | 'CONFIG'
  | 'USAGE'
  | 'BUS'
  | 'BUS_LOCKED'
  | 'VERIFY'
  | 'PROTECTED'
  | 'BAD_COMMAND'
  | 'NODE_OFF'
  | 'BMC'
  | 'BMC_AUTH'
  | 'BMC_TRUST'
  | 'BMC_UNSUPPORTED'
  | 'AGENT'
  | 'TIMEOUT'
  | 'BUSY'
  | 'BROKER'
  | 'UNSUPPORTED'
  /** The process may not use the hardware (a group it is not in yet): a restart may fix it. */
  | 'PERMISSION'
  | 'STATE'
  /** stop() came before start() was done: the start was given up (docs/library.md). */
  | 'STOPPED';

export class TpmError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'TpmError';
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * Calls `run` and returns its outcome as a promise: what it throws comes back rejected, as from an
 * async function, without the extra promise and turn an async wrapper would cost.
 */
export function callAsPromise<T>(run: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(run());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
