import { basename, join } from 'node:path';
import { removeLeftTemporaries, writeFileDurably } from '../util/durable-file.js';
import { callAsPromise } from '../util/errors.js';
import { readFile, rename } from '../util/files.js';
import type { Logger } from '../util/logger.js';
import { Mutex } from '../util/mutex.js';
import { isoTime } from '../util/iso-time.js';

/**
 * Persistence in `state_dir` (docs/configuration.md `state_dir`): a JSON document per
 * concern (schedules, maintenance, last commanded power), written atomically so that a
 * power cut during a write leaves either the old file or the new one, never half of each.
 * A missing file means defaults; a truncated or corrupt one is reported, kept aside for a
 * person to look at, and replaced by defaults: the bridge always starts.
 */

/** What a consumer of persisted state needs; `JsonStateFile` provides it (tests use a memory store). */
export interface StateStore<T> {
  /** The stored value, or the defaults (never throws for bad content). */
  load(): Promise<T>;
  /** Replaces the stored value. Saves happen one after another, in call order. */
  save(value: T): Promise<void>;
}

export interface JsonStateFileOptions<T> {
  /** The state directory (created with its parents when missing). */
  dir: string;
  /** File name inside `dir`, e.g. `schedules.json`. */
  name: string;
  /** A fresh default value (called each time one is needed, so callers may mutate it). */
  defaults: () => T;
  /**
   * Turns parsed JSON into a value, or throws an Error saying what is wrong. Typically a
   * zod schema's `parse`. Unknown or partly wrong content is the validator's call.
   */
  validate: (raw: unknown) => T;
  logger?: Logger;
  /** Time for the name of a corrupt file kept aside; default Date.now. */
  now?: () => number;
}

export interface LoadResult<T> {
  value: T;
  /** Set when the file was unreadable and defaults were used; says where the bad file went. */
  warning?: string;
}

export class JsonStateFile<T> implements StateStore<T> {
  readonly path: string;
  private readonly options: JsonStateFileOptions<T>;
  /** Each save waits for the one before. */
  private readonly writes = new Mutex();

  constructor(options: JsonStateFileOptions<T>) {
    if (basename(options.name) !== options.name || options.name.length === 0) {
      throw new Error(`state file name "${options.name}" must be a plain file name`);
    }
    this.options = options;
    this.path = join(options.dir, options.name);
  }

  async load(): Promise<T> {
    return (await this.loadWithReport()).value;
  }

  /** Like load, and says whether defaults replaced a bad file (also logged as a warning). */
  async loadWithReport(): Promise<LoadResult<T>> {
    // Done at each load (a start): what a writer killed mid-write left goes.
    await removeLeftTemporaries(this.path);
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { value: this.options.defaults() };
      const warning = `state file ${this.path} cannot be read (${describe(error)}); using defaults`;
      this.options.logger?.warn(warning);
      return { value: this.options.defaults(), warning };
    }
    try {
      return { value: this.options.validate(JSON.parse(text)) };
    } catch (error) {
      const problem = text.trim().length === 0 ? 'is empty' : `is not valid (${describe(error)})`;
      const keptAt = await this.keepAside();
      const where = keptAt ? `kept as ${keptAt}` : 'could not be moved aside';
      const warning = `state file ${this.path} ${problem}; using defaults, the bad file is ${where}`;
      this.options.logger?.warn(warning);
      return { value: this.options.defaults(), warning };
    }
  }

  save(value: T): Promise<void> {
    return callAsPromise(() => {
      // Serialised now: the caller may change the object after save returns.
      const text = `${JSON.stringify(value, null, 2)}\n`;
      // The chain goes on after a failed write; the caller of that save gets the error.
      return this.writes.run(() => writeFileDurably(this.path, text));
    });
  }

  private async keepAside(): Promise<string | null> {
    const stamp = isoTime((this.options.now ?? Date.now)()).replace(/[:.]/g, '-');
    const target = `${this.path}.corrupt-${stamp}`;
    try {
      await rename(this.path, target);
      return target;
    } catch (error) {
      this.options.logger?.warn(`cannot move bad state file ${this.path} aside: ${describe(error)}`);
      return null;
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
