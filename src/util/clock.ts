/**
 * Injected time (docs/ARCHITECTURE.md "The parts"): everything that waits, polls or schedules takes a
 * Clock, so tests of back-off, schedules and daylight-saving need no real waiting.
 */
export type TimerHandle = { readonly __timer: true } | ReturnType<typeof setTimeout>;

export interface Clock {
  /** Milliseconds since the epoch, like Date.now(). */
  now(): number;
  /**
   * Milliseconds on a clock that never steps, for waits measured between two moments: NTP or a
   * person setting the date moves now(), not this. Optional for clocks written before it;
   * monotonicNow() falls back to now().
   */
  monotonic?(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

/**
 * Milliseconds on the system's monotonic clock. process.hrtime, not performance.now(): the global
 * `performance` loads node's perf_hooks modules, some 320 KiB kept for as long as the service runs
 * (docs/performance-log.md).
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: monotonicMs,
  setTimeout: (callback, ms) => {
    const handle = setTimeout(callback, ms);
    return handle;
  },
  clearTimeout: (handle) => {
    if (handle !== undefined) clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

/**
 * The clock's monotonic reading (its now() when it has none). Intervals (min_off_time, on_stagger,
 * time-outs, back-offs) are measured with it: a wall clock stepped by NTP (a Raspberry Pi without a
 * real-time clock boots in the past) or by hand must not make a wait last years or end at once.
 */
export function monotonicNow(clock: Clock): number {
  return clock.monotonic ? clock.monotonic() : clock.now();
}

/** A wall-clock time (ms since the epoch) on the clock's monotonic scale, as the two read now. */
export function monotonicOfWall(clock: Clock, wallMs: number): number {
  return monotonicNow(clock) - (clock.now() - wallMs);
}

/** A monotonic reading as a wall-clock time (to save, or to show), as the two read now. */
export function wallOfMonotonic(clock: Clock, monotonicMs: number): number {
  return clock.now() - (monotonicNow(clock) - monotonicMs);
}

/** Resolves after `ms` on the given clock; rejects with the signal's reason when aborted. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(signal?.reason);
    };
    const handle = clock.setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * `promise`'s outcome, or `timeUp()`'s once `ms` have passed, whichever comes first (`timeUp` may
 * throw, to reject). The timer is cleared when the promise settles first: left running, it holds
 * the process up to `ms` after everything else is done. A settling after the time is up is dropped.
 */
export function raceTimer<T, U>(clock: Clock, ms: number, promise: Promise<T>, timeUp: () => U): Promise<T | U> {
  return new Promise((resolve, reject) => {
    const timer = clock.setTimeout(() => {
      try {
        resolve(timeUp());
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    }, ms);
    promise.then(
      (value) => {
        clock.clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clock.clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** `promise`'s value, or undefined once `ms` have passed (raceTimer); a rejection first rejects. */
export function settledWithin<T>(clock: Clock, ms: number, promise: Promise<T>): Promise<T | undefined> {
  return raceTimer(clock, ms, promise, () => undefined);
}
