import type { Clock } from '../../util/clock.js';

/**
 * Spaces authentication failures so the BMC never bans this host (docs/hardware.md "Login and bans": 5 failed
 * logins ban the client address, locking the user's browser out too; requests with a stale
 * bearer token count as failures as well).
 *
 * - Every failure (a refused login, or a 401 to a request that carried a token) counts.
 * - A refused login waits 1 min, then 2, then 4 before the next attempt.
 * - After 4 consecutive failures, at most one attempt per `longDelayMs` (1 h): never a 5th
 *   failure in quick succession, so bmcd's ban (5 failures within a minute of the first,
 *   doubling) can never trigger, and a wrong password costs at most a few logins an hour.
 * - A stale token by itself imposes no wait: a BMC restart costs one 401 and one login.
 * - Only an authenticated request that succeeds clears the count, so a BMC that accepts
 *   logins but rejects every token still ends in the long wait instead of a login loop.
 */
export interface LoginGuardPolicy {
  firstDelayMs: number;
  maxConsecutiveFailures: number;
  longDelayMs: number;
}

export const DEFAULT_LOGIN_POLICY: LoginGuardPolicy = {
  firstDelayMs: 60_000,
  maxConsecutiveFailures: 4,
  longDelayMs: 3_600_000,
};

export class LoginGuard {
  private failures = 0;
  private refusedLogins = 0;
  private nextAttemptAt = 0;

  constructor(
    private readonly clock: Clock,
    private readonly policy: LoginGuardPolicy = DEFAULT_LOGIN_POLICY,
  ) {}

  /** Milliseconds until a login may be tried; 0 when one may be tried now. */
  waitMs(): number {
    return Math.max(0, this.nextAttemptAt - this.clock.now());
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  /** The BMC refused the credentials (403). */
  loginRefused(): void {
    this.failures++;
    this.refusedLogins++;
    const delay =
      this.failures >= this.policy.maxConsecutiveFailures
        ? this.policy.longDelayMs
        : this.policy.firstDelayMs * 2 ** (this.refusedLogins - 1);
    this.nextAttemptAt = this.clock.now() + Math.min(delay, this.policy.longDelayMs);
  }

  /** A request carrying a token was answered 401 (the token was stale or unknown). */
  tokenRejected(): void {
    this.failures++;
    if (this.failures >= this.policy.maxConsecutiveFailures) {
      this.nextAttemptAt = Math.max(this.nextAttemptAt, this.clock.now() + this.policy.longDelayMs);
    }
  }

  /** An authenticated request succeeded: the credentials and the token work. */
  succeeded(): void {
    this.failures = 0;
    this.refusedLogins = 0;
    this.nextAttemptAt = 0;
  }
}
