import { callAsPromise } from './errors.js';

/**
 * Runs async tasks one after another, in the order they were asked for; a task that fails
 * does not stop the ones after it (its caller gets the error). The one lock of the project:
 * the power service's board-wide write lock, each driver's queue of bus or API operations,
 * the chain of a state file's writes, the scheduler's wakes, the saves of the agents seen and
 * Home Assistant discovery's refreshes are all one of these.
 */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  /** Tasks asked for and not yet finished (their end noted on the tail). */
  private pending = 0;

  run<T>(task: () => Promise<T>): Promise<T> {
    let result: Promise<T>;
    if (this.pending === 0) {
      // Nothing queued: the task starts now, not a microtask later, and its own promise is the
      // caller's (no promise wrapped around it). Two of these are on every power command's path.
      result = callAsPromise(task);
    } else {
      result = this.tail.then(task, task);
    }
    this.pending++;
    const done = (): void => {
      this.pending--;
    };
    this.tail = result.then(done, done);
    return result;
  }

  /** Resolves when every task asked for so far has finished, however it ended. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
