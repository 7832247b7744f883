import { basename, dirname, join } from 'node:path';
import { close, fsync, mkdir, open, readdir, rename, rm, writeFile } from './files.js';

let temporaryFiles = 0;

/**
 * Replaces `file` with `text` so that a crash or a power cut leaves either the old file or the
 * new one, never an empty or half-written one: a temporary file in the same directory (mode
 * 0600: state files may hold keys), its data fsync'd, renamed over `file`, then the directory
 * fsync'd so that the rename itself is on the disk. A failed write removes its temporary file
 * and leaves `file` as it was.
 */
export async function writeFileDurably(file: string, text: string): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true });
  // pid and a count: unique among this process's writes and those of any other (no need for
  // node:crypto's random bytes, a module the bridge would keep loaded for this alone).
  const temporary = join(dir, `.${basename(file)}.${process.pid}.${++temporaryFiles}.tmp`);
  try {
    const fd = await open(temporary, 'w', 0o600);
    try {
      await writeFile(fd, text, 'utf8');
      await fsync(fd);
    } finally {
      await close(fd);
    }
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dir);
}

/** Makes a rename durable. Some file systems refuse fsync on a directory: fine. */
async function syncDirectory(dir: string): Promise<void> {
  let fd: number | undefined;
  try {
    fd = await open(dir, 'r');
    await fsync(fd);
  } catch {
    // Not supported here (e.g. some network or Windows file systems); the rename is done.
  } finally {
    if (fd !== undefined) await close(fd).catch(() => undefined);
  }
}

/**
 * Removes the temporary files of `file` that a writer killed between its write and its rename
 * (SIGKILL, a power cut) left behind: without this each such crash adds one to the directory for
 * good. A file whose writer still runs (this process, or another live one) is left alone.
 */
export async function removeLeftTemporaries(file: string): Promise<void> {
  const prefix = `.${basename(file)}.`;
  let names: string[];
  try {
    names = await readdir(dirname(file));
  } catch {
    return; // no directory yet: nothing was left
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = /^(\d+)\.\d+\.tmp$/.exec(name.slice(prefix.length))?.[1];
    if (pid === undefined || isRunning(Number(pid))) continue;
    await rm(join(dirname(file), name), { force: true }).catch(() => undefined);
  }
}

function isRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
