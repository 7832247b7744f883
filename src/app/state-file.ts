import { JsonStateFile } from '../state/store.js';
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
