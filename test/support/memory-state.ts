import type { StateStore } from '../../src/state/store.js';

/** A StateStore in memory, for tests. */
export class MemoryState<T> implements StateStore<T> {
  private value: T;
  /** How many times save was called. */
  saves = 0;

  constructor(initial: T) {
    this.value = structuredClone(initial);
  }

  async load(): Promise<T> {
    return structuredClone(this.value);
  }

  async save(value: T): Promise<void> {
    this.saves++;
    this.value = structuredClone(value);
  }

  /** The stored value, for assertions. */
  peek(): T {
    return structuredClone(this.value);
  }
}
