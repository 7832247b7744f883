import fs from 'node:fs';
import { promisify } from 'node:util';

/**
 * node's file functions as promises, made by `promisify` from its callback API (`node:fs`, which
 * node has loaded before any of our code runs) instead of imported from `node:fs/promises`. That
 * module's FileHandle brings node's streams, readline and file watchers with it: 0.25 MiB more
 * in the bridge, 0.5-0.8 MiB in the agent, kept for as long as they run (docs/performance-log.md,
 * "Where the memory went"). The functions take the same arguments and fail with the same
 * errors; a file is opened as a descriptor (`open`, then `writeFile(fd)`, `fsync`, `close`).
 */
export const access = promisify(fs.access);
export const chmod = promisify(fs.chmod);
export const close = promisify(fs.close);
export const mkdir = promisify(fs.mkdir);
export const open = promisify(fs.open);
export const readFile = promisify(fs.readFile);
export const readdir = promisify(fs.readdir);
export const rename = promisify(fs.rename);
export const rm = promisify(fs.rm);
export const writeFile = promisify(fs.writeFile);

/**
 * Looked up in node's `fs` when called, not bound once: tests replace `fs.fsync` to see that a
 * state file's data is synced before the rename puts it in place (test/support/fsync-watch.ts).
 */
export function fsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (error) => (error ? reject(error) : resolve())));
}

/** `access` modes (F_OK, R_OK, W_OK, X_OK). */
export const { constants } = fs;
