import { constants as fsConstants, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TpmError, errorMessage } from '../util/errors.js';

/**
 * One bridge per I2C bus (only one bridge may drive a board): two read-modify-writes of 0xF2 from two processes
 * could undo each other's bits. A lock file holds the owner's pid; a lock whose pid no
 * longer runs (a crash, a power cut of a node with a persistent /run) is taken over.
 */

export interface BusLockOptions {
  /** Names the bus in the error message, e.g. 1 -> "I2C bus 1". */
  bus?: number;
  /** The pid written into the lock (default: this process). */
  pid?: number;
  /** Whether a pid runs (default: signal 0). */
  isAlive?: (pid: number) => boolean;
}

export type ReleaseLock = () => Promise<void>;

const MAX_TAKEOVER_ATTEMPTS = 3;

/** Takes the lock file at `lockPath` or throws TpmError('BUS_LOCKED'). Returns an idempotent release. */
export async function acquireBusLock(lockPath: string, options: BusLockOptions = {}): Promise<ReleaseLock> {
  const pid = options.pid ?? process.pid;
  const isAlive = options.isAlive ?? processIsAlive;
  const what = options.bus === undefined ? 'this I2C bus' : `I2C bus ${options.bus}`;
  const content = `${pid}\n`;

  for (let attempt = 1; attempt <= MAX_TAKEOVER_ATTEMPTS; attempt++) {
    if (await createWithContent(lockPath, content)) {
      return releaseFor(lockPath, content);
    }
    const owner = await readOwner(lockPath);
    if (owner === 'gone') continue; // released between our try and our read: try again
    if (owner !== null && isAlive(owner)) {
      throw new TpmError('BUS_LOCKED', `another turingpi-mqtt (pid ${owner}) drives ${what}; lock file ${lockPath}`);
    }
    // Stale: its owner is not running (or the file names none). Take it over.
    try {
      await fs.unlink(lockPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw lockError(lockPath, error);
    }
  }
  throw new TpmError('BUS_LOCKED', `could not take the lock file ${lockPath} for ${what}: others keep taking it`);
}

/**
 * The default lock path of a bus: /run/lock (tmpfs, cleared at boot, so a lock never
 * outlives a reboot), or the temp directory where /run/lock is not writable.
 */
export async function defaultBusLockPath(bus: number): Promise<string> {
  const name = `turingpi-mqtt-i2c-${bus}.lock`;
  try {
    await fs.access('/run/lock', fsConstants.W_OK);
    return path.join('/run/lock', name);
  } catch {
    return path.join(os.tmpdir(), name);
  }
}

/**
 * Creates the file with its content in one step: write a private temp file, then hard-link
 * it to the lock path (link fails if the path exists). Nobody ever sees an empty lock.
 */
async function createWithContent(lockPath: string, content: string): Promise<boolean> {
  const temporary = `${lockPath}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await fs.writeFile(temporary, content, { flag: 'wx', mode: 0o644 });
  } catch (error) {
    throw lockError(lockPath, error);
  }
  try {
    await fs.link(temporary, lockPath);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    if ((error as NodeJS.ErrnoException).code === 'EPERM' || (error as NodeJS.ErrnoException).code === 'ENOTSUP') {
      // File systems without hard links: fall back to an exclusive create.
      return createExclusive(lockPath, content);
    }
    throw lockError(lockPath, error);
  } finally {
    await fs.unlink(temporary).catch(() => undefined);
  }
}

async function createExclusive(lockPath: string, content: string): Promise<boolean> {
  try {
    await fs.writeFile(lockPath, content, { flag: 'wx', mode: 0o644 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw lockError(lockPath, error);
  }
}

/** The pid in the lock file; null when it names none; 'gone' when the file disappeared. */
async function readOwner(lockPath: string): Promise<number | null | 'gone'> {
  let text: string;
  try {
    text = await fs.readFile(lockPath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw lockError(lockPath, error);
  }
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 && String(pid) === text.trim() ? pid : null;
}

function releaseFor(lockPath: string, content: string): ReleaseLock {
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    // Remove only our own lock: if it was taken over meanwhile, it is no longer ours.
    const current = await fs.readFile(lockPath, 'utf8').catch(() => null);
    if (current === content) await fs.unlink(lockPath).catch(() => undefined);
  };
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function lockError(lockPath: string, error: unknown): TpmError {
  return new TpmError('BUS', `cannot use the lock file ${lockPath}: ${errorMessage(error)}`, { cause: error });
}
