/**
 * Keeps `promise` in `set` until it settles, and returns it: what a stop waits for (the power
 * service's operations, the scheduler's runs). Not `finally`: were the promise to reject, the
 * copy `finally` makes would be a rejection nobody handles, and node ends the process on one.
 */
export function keepUntilSettled<T>(set: Set<Promise<unknown>>, promise: Promise<T>): Promise<T> {
  set.add(promise);
  const forget = (): void => {
    set.delete(promise);
  };
  promise.then(forget, forget);
  return promise;
}
