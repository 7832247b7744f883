import type { Clock, TimerHandle } from '../../src/util/clock.js';
import { FakeClock } from '../../src/util/fake-clock.js';

/**
 * A test clock whose timers run on elapsed (monotonic) time while `now()` is the wall
 * clock, as with Node's real timers: stepping the wall clock (NTP, a person) neither fires
 * nor delays a pending timer. FakeClock alone keeps timers at absolute wall-clock times,
 * so after a step backwards they would wait for the wall clock to catch up.
 */
export class SteppingClock implements Clock {
  private readonly elapsed: FakeClock;
  private wallOffset: number;

  constructor(startWallMs: number) {
    this.elapsed = new FakeClock(0);
    this.wallOffset = startWallMs;
  }

  now(): number {
    return this.elapsed.now() + this.wallOffset;
  }

  /** Elapsed time: a jump of the wall clock does not move it. */
  monotonic(): number {
    return this.elapsed.now();
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    return this.elapsed.setTimeout(callback, ms);
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    this.elapsed.clearTimeout(handle);
  }

  /** Steps the wall clock to `wallMs`; timers keep their remaining time. */
  jump(wallMs: number): void {
    this.wallOffset = wallMs - this.elapsed.now();
  }

  /** Lets `ms` pass, firing timers that fall due, in order. */
  advance(ms: number): Promise<void> {
    return this.elapsed.advance(ms);
  }

  get pending(): number {
    return this.elapsed.pending;
  }
}
