import fs from 'node:fs';

/**
 * Runs `action` with node's `fs.fsync` watched: `look()` is called just before each fsync and
 * what it returns is kept, in order (e.g. whether the file is already in place: data must be
 * synced before the rename). fsync itself still runs; the original is put back afterwards.
 */
export async function watchFsync<T>(look: () => T, action: () => Promise<unknown>): Promise<T[]> {
  const original = fs.fsync;
  const seen: T[] = [];
  fs.fsync = ((fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
    seen.push(look());
    original(fd, callback);
  }) as typeof fs.fsync;
  try {
    await action();
  } finally {
    fs.fsync = original;
  }
  return seen;
}
