/**
 * Runs async tasks one after another, in the order they were asked for; a task that fails
 * does not stop the ones after it (its caller gets the error). The one lock of the project:
 * the power service's board-wide write lock, each driver's queue of bus or API operations,
 * the chain of a state file's writes, the scheduler's wakes, the saves of the agents seen and
 * Home Assistant discovery's refreshes are all one of these.
 */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves when every task asked for so far has finished, however it ended. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
