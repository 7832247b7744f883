import { JsonStateFile, thisUser } from '../state/store.js';
import { TpmError, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { StateFile } from './bridge-state.js';

/** Opens one JSON document in state_dir and loads it (defaults for a missing or bad file). */
export async function openStateFile<T>(
  dir: string,
  name: string,
  defaults: () => T,
  parse: (raw: unknown) => T | undefined,
  logger: Logger,
  /** The version this release writes: a newer release's file is refused, left as it is. */
  version?: number,
): Promise<{ store: StateFile<T>; value: T }> {
  const store = new JsonStateFile<T>({
    dir,
    name,
    defaults,
    logger,
    ...(version === undefined ? {} : { version }),
    validate: (raw) => {
      const value = parse(raw);
      if (value === undefined) throw new Error('unexpected content');
      return value;
    },
  });
  return { store, value: await store.load() };
}

/**
 * Writes the state just loaded back, before anything else starts: a state_dir this user cannot
 * write fails the start here, with a TpmError STATE that says what to do, instead of a bare
 * EACCES on a temporary file once the board had been opened and the broker told our state.
 */
export async function proveWritable(dir: string, save: () => Promise<void>): Promise<void> {
  try {
    await save();
  } catch (error) {
    throw new TpmError(
      'STATE',
      `state_dir ${dir} cannot be written (${errorMessage(error)}); the bridge keeps there what must survive ` +
        `a restart (docs/configuration.md, state_dir): make it writable by ${thisUser()}, or set state_dir to a ` +
        'directory that is. Nothing was changed',
      { cause: error },
    );
  }
}
