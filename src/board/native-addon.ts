import { errorMessage } from '../util/errors.js';

/**
 * `bindings` (which i2c-bus and onoff's epoll load their compiled addon with) begins its message
 * this way when the package is installed but its addon was never compiled.
 */
const NEVER_COMPILED = 'Could not locate the bindings file';

/**
 * Why a native addon could not be loaded, in words a user can act on. An addon installed without
 * being compiled (no compiler on the host, or an npm that skips dependencies' install scripts, as
 * npm 12 does unless told otherwise: docs/installing.md) fails with a list of every path
 * `bindings` tried, a dozen lines that name neither cause.
 */
export function addonLoadProblem(error: unknown): string {
  const message = errorMessage(error);
  if (!message.startsWith(NEVER_COMPILED)) return message;
  return 'it is installed but was never compiled: npm skipped its install script, or the build failed';
}

/** What to tell npm so that it compiles the addons, for the messages that name them. */
export const ALLOW_ADDON_SCRIPTS = '--allow-scripts=i2c-bus,epoll';
