import { basename, join } from 'node:path';
import { removeLeftTemporaries, writeFileDurably } from '../util/durable-file.js';
import { TpmError, callAsPromise } from '../util/errors.js';
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
  /**
   * The `version` this release writes: a file of a higher one (a newer release's, found after a
   * downgrade) is refused with a TpmError STATE and left as it is (defaults would throw away what
   * the newer release kept, maintenance among it). Unset: no version check.
   */
  version?: number;
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
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { value: this.options.defaults() };
      // Another user's file (a run with sudo, then the service's user): defaults would be saved
      // over it at the first write, and what it keeps (maintenance, saved power) lost.
      if (code === 'EACCES' || code === 'EPERM') throw unreadable(this.path, error);
      const warning = `state file ${this.path} cannot be read (${describe(error)}); using defaults`;
      this.options.logger?.warn(warning);
      return { value: this.options.defaults(), warning };
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      return this.replaceBad(text, error);
    }
    this.refuseNewer(raw);
    try {
      return { value: this.options.validate(raw) };
    } catch (error) {
      return this.replaceBad(text, error);
    }
  }

  /** A file that is no JSON, or not what validate takes: kept aside, defaults used, a warning. */
  private async replaceBad(text: string, error: unknown): Promise<LoadResult<T>> {
    const problem = text.trim().length === 0 ? 'is empty' : `is not valid (${describe(error)})`;
    const keptAt = await this.keepAside();
    const where = keptAt ? `kept as ${keptAt}` : 'could not be moved aside';
    const warning = `state file ${this.path} ${problem}; using defaults, the bad file is ${where}`;
    this.options.logger?.warn(warning);
    return { value: this.options.defaults(), warning };
  }

  save(value: T): Promise<void> {
    return callAsPromise(() => {
      // Serialised now: the caller may change the object after save returns.
      const text = `${JSON.stringify(value, null, 2)}\n`;
      // The chain goes on after a failed write; the caller of that save gets the error.
      return this.writes.run(() => writeFileDurably(this.path, text));
    });
  }

  private refuseNewer(raw: unknown): void {
    if (this.options.version !== undefined) refuseNewer(this.path, raw, this.options.version);
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

/** Throws TpmError STATE when `raw` (a state file's JSON) has a `version` above `ours`: a newer release wrote it. */
function refuseNewer(path: string, raw: unknown, ours: number): void {
  const theirs = (raw as { version?: unknown } | null | undefined)?.version;
  if (typeof theirs !== 'number' || !(theirs > ours)) return;
  throw new TpmError(
    'STATE',
    `state file ${path} was written by a newer release of turingpi-mqtt (version ${theirs}; this one ` +
      `reads version ${ours}); nothing was changed. Run the newer release again, or move the file away ` +
      'to start this one from defaults',
  );
}

/**
 * Refuses a newer release's state file before anything starts (one loaded later, such as
 * schedules.json, would fail a start that had already switched power). Any other content passes:
 * its own load judges it.
 */
export async function refuseNewerStateFile(dir: string, name: string, ours: number): Promise<void> {
  const path = join(dir, name);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return;
  }
  refuseNewer(path, raw, ours);
}

/** "this user (uid 1000)", for messages that say who must be able to read or write a file. */
export function thisUser(): string {
  const uid = process.getuid?.();
  return uid === undefined ? 'this user' : `this user (uid ${uid})`;
}

function unreadable(path: string, error: unknown): TpmError {
  return new TpmError(
    'STATE',
    `state file ${path} cannot be read by ${thisUser()} (${describe(error)}): another user wrote it (a run with ` +
      'sudo?). Give it to the user the bridge runs as (chown), or run the bridge as its owner. Nothing was changed',
    { cause: error },
  );
}
