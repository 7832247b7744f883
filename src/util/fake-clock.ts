import type { Clock, TimerHandle } from './clock.js';

interface PendingTimer {
  id: number;
  due: number;
  callback: () => void;
}

/**
 * A clock for tests: time moves only when the test says so. Exported by the library so
 * that programs embedding the bridge can test their own schedules the same way.
 */
export class FakeClock implements Clock {
  private current: number;
  /** The monotonic reading: moved only by advance(), never by a step of the wall clock. */
  private elapsed = 0;
  private timers: PendingTimer[] = [];
  private nextId = 1;

  constructor(start: number | Date = Date.UTC(2026, 0, 1)) {
    this.current = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.current;
  }

  monotonic(): number {
    return this.elapsed;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const timer = { id: this.nextId++, due: this.current + Math.max(0, ms), callback };
    this.timers.push(timer);
    return { __timer: true, id: timer.id } as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle === undefined) return;
    const id = (handle as unknown as { id: number }).id;
    this.timers = this.timers.filter((t) => t.id !== id);
  }

  /** Number of timers waiting to fire. */
  get pending(): number {
    return this.timers.length;
  }

  /**
   * Sets the wall clock without firing timers. Timers stay due at the wall-clock time they had:
   * an advance after a jump forward fires them at once. For a step as a real system makes one,
   * where timers keep running on the monotonic clock, use step().
   */
  jump(toMs: number | Date): void {
    this.current = typeof toMs === 'number' ? toMs : toMs.getTime();
  }

  /**
   * Steps the wall clock as NTP or a person setting the date does: now() moves, monotonic() does
   * not, and every pending timer still fires after the time it had left (Node's timers run on the
   * monotonic clock).
   */
  step(toMs: number | Date): void {
    const to = typeof toMs === 'number' ? toMs : toMs.getTime();
    const delta = to - this.current;
    for (const timer of this.timers) timer.due += delta;
    this.current = to;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way, in order, and
   * letting promise callbacks run between timers (so async code reacting to a timer can
   * arm the next one before time moves on).
   */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    await flushMicrotasks();
    for (;;) {
      const next = this.timers.filter((t) => t.due <= target).sort((a, b) => a.due - b.due || a.id - b.id)[0];
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      const at = Math.max(this.current, next.due);
      this.elapsed += at - this.current;
      this.current = at;
      next.callback();
      await flushMicrotasks();
    }
    this.elapsed += Math.max(0, target - this.current);
    this.current = target;
    await flushMicrotasks();
  }
}

async function flushMicrotasks(): Promise<void> {
  // A few macrotask turns let chains of awaits settle (each setImmediate drains microtasks).
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
