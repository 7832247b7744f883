import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs, constants as fsConstants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TpmError, errorMessage } from '../util/errors.js';
import { isoTime } from '../util/iso-time.js';

/**
 * One bridge per I2C bus: two read-modify-writes of 0xF2 from two processes could undo each
 * other's bits. The lock is a kernel lock (flock) on a file, so:
 * - it dies with its holder, whatever kills it (SIGKILL, OOM, a stopped container): nothing is
 *   ever stale, in any PID namespace, and no PID is ever read back;
 * - it is one lock wherever the file is seen: a bridge on the host and one in a container that
 *   mounts the host's /run/lock/turingpi-mqtt take the same lock (flock is on the file, not a pid);
 * - only members of the lock directory's group can reach the file: the directory is
 *   /run/lock/turingpi-mqtt, root:i2c (the group of /dev/i2c-*, which may drive the bus anyway),
 *   mode 2770, created at start by the systemd unit; a directory others may enter is refused.
 * Node has no flock: the lock is held by flock(1) of util-linux (essential on Debian and Raspberry
 * Pi OS, present in the image), a child whose input is our pipe: when this process dies, the pipe
 * closes and the child ends, releasing the lock. The file is never deleted (deleting a flock'd file
 * lets a second process lock a new file of the same name).
 */

export interface BusLockOptions {
  /** Names the bus in the error message, e.g. 1 -> "I2C bus 1". */
  bus?: number;
  /** The flock program (default: flock from PATH). */
  flock?: string;
  /**
   * How long a start waits for a holder that is letting go before it refuses (default
   * RELEASE_WAIT_SECONDS; 0: not at all). A holder killed a moment ago still holds the lock
   * until its flock child has seen the pipe close and ended: a few milliseconds, more on a busy
   * machine.
   */
  waitSeconds?: number;
}

export type ReleaseLock = () => Promise<void>;

const LOCK_DIRECTORY = '/run/lock/turingpi-mqtt';
const LOCKED = 'locked';
/** Long enough for a killed holder's flock child to end under load; short for a refused start. */
export const RELEASE_WAIT_SECONDS = 2;

/** Takes the lock file at `lockPath` or throws TpmError('BUS_LOCKED'). Returns an idempotent release. */
export async function acquireBusLock(lockPath: string, options: BusLockOptions = {}): Promise<ReleaseLock> {
  const what = options.bus === undefined ? 'this I2C bus' : `I2C bus ${options.bus}`;
  await checkLockDirectory(path.dirname(lockPath));
  const holder = await holdFlock(options.flock ?? 'flock', lockPath, options.waitSeconds ?? RELEASE_WAIT_SECONDS);
  if (holder === 'busy') {
    const owner = await readOwner(lockPath);
    throw new TpmError(
      'BUS_LOCKED',
      `another turingpi-mqtt (${owner ?? 'owner unknown'}) drives ${what}; lock file ${lockPath}`,
    );
  }
  // Who holds it, for the message of the next one refused (information only: the lock is the flock).
  const owner = `pid ${process.pid} on ${os.hostname()} since ${isoTime(Date.now())}`;
  await fs.writeFile(lockPath, `${owner}\n`).catch(() => undefined);
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    const exited = new Promise<void>((resolve) => {
      if (holder.exitCode !== null || holder.signalCode !== null) resolve();
      else holder.once('exit', () => resolve());
    });
    await fs.writeFile(lockPath, '').catch(() => undefined);
    holder.stdin?.end();
    const timer = setTimeout(() => holder.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  };
}

/**
 * The lock path of a bus: in /run/lock/turingpi-mqtt (tmpfs, cleared at boot) when that
 * directory exists or can be made; else in a private directory of this user under the temp
 * directory (a development machine, where no one else drives the bus).
 */
export async function defaultBusLockPath(bus: number, directory = LOCK_DIRECTORY): Promise<string> {
  const name = `i2c-${bus}.lock`;
  if (await ensureDirectory(directory, await deviceGroup(bus))) return path.join(directory, name);
  const own = path.join(os.tmpdir(), `turingpi-mqtt-${process.getuid?.() ?? 'user'}`);
  await fs.mkdir(own, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw lockError(own, error);
  });
  return path.join(own, name);
}

/** The group of /dev/i2c-<bus>: those who may drive the bus may hold its lock. */
async function deviceGroup(bus: number): Promise<number | undefined> {
  try {
    return (await fs.stat(`/dev/i2c-${bus}`)).gid;
  } catch {
    return undefined;
  }
}

/**
 * Makes the directory (2770, the bus device's group) if it is missing; false where it cannot be
 * made (no /run/lock to write: a development machine). One that exists but is closed to us is an error.
 */
async function ensureDirectory(directory: string, gid: number | undefined): Promise<boolean> {
  try {
    await fs.access(directory, fsConstants.W_OK | fsConstants.X_OK);
    return true;
  } catch (error) {
    // It exists and is not ours to use: never fall back to a private lock (another bridge holds
    // the real one), say who may use it.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new TpmError(
        'BUS',
        `cannot use the bus lock directory ${directory} (${errorMessage(error)}): ` +
          "the bridge's user must be in its group, the group of /dev/i2c-* (i2c); see docs/security.md",
        { cause: error },
      );
    }
  }
  try {
    await fs.mkdir(directory, { mode: 0o770 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return ensureDirectory(directory, gid);
    return false;
  }
  if (gid !== undefined) await fs.chown(directory, -1, gid).catch(() => undefined);
  await fs.chmod(directory, 0o2770);
  return true;
}

/**
 * The lock directory must be reachable only by the bridge's own: owned by root or by us, not a
 * symbolic link, and nothing for others. Otherwise another local user could hold the lock (or
 * swap the file) and keep every bridge from starting.
 */
async function checkLockDirectory(directory: string): Promise<void> {
  let stat;
  try {
    stat = await fs.lstat(directory);
  } catch (error) {
    throw lockError(directory, error);
  }
  const uid = process.getuid?.();
  const problem = !stat.isDirectory()
    ? 'it is not a directory'
    : stat.uid !== 0 && stat.uid !== uid
      ? `it belongs to uid ${stat.uid}, neither root nor this process's user`
      : (stat.mode & 0o007) !== 0
        ? `others may use it (mode ${(stat.mode & 0o7777).toString(8)})`
        : undefined;
  if (problem === undefined) return;
  throw new TpmError(
    'BUS',
    `the lock directory ${directory} is not safe: ${problem}, so another user could hold the bus lock. ` +
      `Recreate it as root: rm -rf ${directory} && install -d -o root -g i2c -m 2770 ${directory} ` +
      '(the systemd unit does this at each start; see docs/security.md)',
  );
}

/**
 * Starts flock(1) on the file; resolves with the holding child once locked, or 'busy' when it
 * is still held after `waitSeconds` (flock waits in the kernel: the lock is taken the moment
 * it is released).
 */
function holdFlock(program: string, lockPath: string, waitSeconds: number): Promise<ChildProcess | 'busy'> {
  return new Promise((resolve, reject) => {
    const wait = waitSeconds > 0 ? ['-w', String(waitSeconds)] : ['-n'];
    // The shell says when the lock is ours, then `cat` holds it until our pipe closes.
    const child = spawn(program, [...wait, lockPath, '-c', `echo ${LOCKED}; exec cat`], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      outcome();
    };
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (!stdout.startsWith(LOCKED)) return;
      // Held for the life of this process, without keeping it alive.
      child.unref();
      for (const stream of [child.stdin, child.stdout, child.stderr])
        (stream as unknown as { unref?: () => void }).unref?.();
      settle(() => resolve(child));
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      const reason = error.code === 'ENOENT' ? `${program} (util-linux) is not installed` : errorMessage(error);
      settle(() => reject(new TpmError('BUS', `cannot take the bus lock ${lockPath}: ${reason}`, { cause: error })));
    });
    child.on('exit', (code) => {
      if (code === 1 && stderr.trim() === '') settle(() => resolve('busy'));
      else
        settle(() =>
          reject(
            new TpmError(
              'BUS',
              `cannot take the bus lock ${lockPath}: ${stderr.trim() || `flock exited with ${code}`}`,
            ),
          ),
        );
    });
  });
}

async function readOwner(lockPath: string): Promise<string | undefined> {
  const text = await fs.readFile(lockPath, 'utf8').catch(() => '');
  const line = text.split('\n')[0]?.trim() ?? '';
  return /^pid \d+ on [\w.-]+ since [\dT:.Z-]+$/.test(line) ? line : undefined;
}

function lockError(file: string, error: unknown): TpmError {
  return new TpmError('BUS', `cannot use the lock directory ${file}: ${errorMessage(error)}`, { cause: error });
}
