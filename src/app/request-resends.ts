import { monotonicMs } from '../util/clock.js';

/**
 * How long a request with a transaction is remembered. A client whose QoS 1 request was not
 * acknowledged (its connection dropped) sends it again once it is back: within seconds, or the
 * minutes a broker takes to restart.
 */
export const RESEND_WINDOW_MS = 10 * 60_000;

/** The most requests remembered at once: requests come at a person's pace, not thousands. */
const MOST_REMEMBERED = 200;

interface Taken {
  text: string;
  at: number;
  answer: Promise<object>;
}

/**
 * The requests taken lately, by action and transaction (docs/topics.md, "that request sent
 * again"). QoS 1 delivers at least once: the broker hands a resent request to the bridge as a
 * new message, and without this a reboot or a toggle was done twice. The same action, transaction
 * and payload within RESEND_WINDOW_MS is that request again: it gets the first one's answer.
 */
export class TakenRequests {
  private readonly taken = new Map<string, Taken>();

  /**
   * `now`: milliseconds on a clock that never steps. Not Date.now: a system clock stepped forward
   * (NTP setting a Pi that booted in the past) forgot every request at once, and a resend ran its
   * reboot again; stepped back, the window lasted as long as the step.
   */
  constructor(private readonly now: () => number = monotonicMs) {}

  /** The answer of the same request taken earlier, or undefined: a request not seen lately. */
  earlier(action: string, transaction: string | number | undefined, text: string): Promise<object> | undefined {
    if (transaction === undefined) return undefined;
    this.forgetOld();
    const taken = this.taken.get(key(action, transaction));
    return taken?.text === text ? taken.answer : undefined;
  }

  /** Remembers a request now taken; the function returned gives its answer (the first one counts). */
  take(action: string, transaction: string | number | undefined, text: string): (answer: object) => void {
    if (transaction === undefined) return () => undefined;
    let settle: (answer: object) => void = () => undefined;
    const answer = new Promise<object>((resolve) => (settle = resolve));
    const k = key(action, transaction);
    // Deleted first: a Map keeps insertion order, which forgetOld() relies on.
    this.taken.delete(k);
    this.taken.set(k, { text, at: this.now(), answer });
    while (this.taken.size > MOST_REMEMBERED) this.taken.delete(this.taken.keys().next().value as string);
    return settle;
  }

  /** Forgets a request refused for its input: nothing was done, so one sent again is refused again. */
  forget(action: string, transaction: string | number | undefined): void {
    if (transaction !== undefined) this.taken.delete(key(action, transaction));
  }

  private forgetOld(): void {
    const oldest = this.now() - RESEND_WINDOW_MS;
    for (const [k, taken] of this.taken) {
      if (taken.at >= oldest) break;
      this.taken.delete(k);
    }
  }
}

/** A number and its text are different transactions: `7` and `"7"`. */
function key(action: string, transaction: string | number): string {
  return `${action}\u0000${typeof transaction}\u0000${transaction}`;
}
