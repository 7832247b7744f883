/**
 * Real-time waiting for tests whose subject does real I/O (a broker, a process, files): what
 * fake time cannot move along.
 */

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `test` every `everyMs` until it holds; fails after `timeoutMs` saying what was awaited. */
export async function until(test: () => boolean, what: string, timeoutMs = 5000, everyMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(everyMs);
  }
}
