import { monotonicNow, wallOfMonotonic, type Clock } from '../../util/clock.js';
import type { BmcLoginStatus } from '../types.js';
import {
  credentialsKey,
  emptyLoginRecord,
  memoryLoginRecord,
  sameCredentials,
  type LoginRecordData,
  type LoginRecordStore,
} from './login-record.js';
import { isoTime } from '../../util/iso-time.js';

/**
 * Keeps the bridge from ever getting this host banned by the BMC (docs/turing-pi-2.md, "Logins
 * and bans"): bmcd counts every refused login and every request with an unknown token per
 * client address, with no time window, until a success or a restart of bmcd, and bans the
 * address from the 5th failure on (1 min, doubling up to 17 h), the user's browser included.
 *
 * - The count lives in state_dir (login-record.ts): restarts of the bridge add up, as they do
 *   for the BMC.
 * - Automatic logins stop after `maxAutomatic` (3) failures in a row: the state is "paused".
 * - A person may ask for one more attempt (Home Assistant's "Retry BMC login" button, the
 *   request `bmc/login`), and a changed board.bmc.password gets one attempt by itself, but only
 *   while the count is below `maxAny` (4): the 5th failure would ban, so it is never risked
 *   unless the request says `force` (after a restart of the BMC, which forgets its count).
 * - Between automatic attempts of one run: 1 min, then 2 min.
 * - A success (a login, or a request whose token is accepted) clears the count, as bmcd does.
 */
export interface LoginGuardPolicy {
  firstDelayMs: number;
  maxAutomatic: number;
  maxAny: number;
}

export const DEFAULT_LOGIN_POLICY: LoginGuardPolicy = { firstDelayMs: 60_000, maxAutomatic: 3, maxAny: 4 };

export type LoginStatus = BmcLoginStatus;

export interface LoginCredentials {
  bmc: string;
  username: string;
  password: string;
}

export class LoginGuard {
  private record: LoginRecordData;
  private loaded: Promise<void> | null = null;
  private passwordChanged = false;
  /** On the monotonic clock (monotonicNow): a step of the system clock neither stretches nor ends the wait. */
  private nextAttemptAt = Number.NEGATIVE_INFINITY;
  private refusedThisRun = 0;
  private manualGrant = false;
  private forced = false;
  /** The grants an attempt under way used, given back if the BMC never judged it. */
  private grantInFlight: { manual: boolean; forced: boolean; passwordChanged: boolean } | null = null;
  private state: LoginStatus | null = null;
  private readonly listeners: ((status: LoginStatus) => void)[] = [];

  constructor(
    private readonly clock: Clock,
    private readonly credentials: LoginCredentials,
    private readonly store: LoginRecordStore = memoryLoginRecord(),
    private readonly policy: LoginGuardPolicy = DEFAULT_LOGIN_POLICY,
  ) {
    this.record = emptyLoginRecord(credentials.bmc);
  }

  /** Reads the persisted count once (scrypt takes some tens of milliseconds). */
  ready(): Promise<void> {
    this.loaded ??= this.load();
    return this.loaded;
  }

  private async load(): Promise<void> {
    const saved = await this.store.load();
    // Kept whatever board.bmc.url says now: turingpi.local and its address are one BMC, which
    // counts this host's failures under either name (one bridge drives one board).
    if (saved === null) return;
    this.record = { ...saved, bmc: this.credentials.bmc };
    if (saved.failures > 0) {
      const { username, password } = this.credentials;
      // No key (failures from tokens only, an unreadable record): nothing to tell a new password by.
      this.passwordChanged = saved.key !== null && !(await sameCredentials(saved, username, password));
      this.publish(this.statusOfRecord());
    }
  }

  get failures(): number {
    return this.record.failures;
  }

  status(): LoginStatus | null {
    return this.state;
  }

  onChange(listener: (status: LoginStatus) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Whether a login may be sent now: null when it may, else why not (for the error message).
   * `withLastReason: false` leaves out the last failure's reason, for a message that has just said it.
   */
  refusal(withLastReason = true, retained = false): string | null {
    const last = (prefix: string, suffix: string): string =>
      withLastReason ? `${prefix}${this.record.reason ?? 'unknown'}${suffix}` : '';
    const { failures } = this.record;
    const grant = this.manualGrant || this.passwordChanged;
    if (failures >= this.policy.maxAny && !this.forced) {
      return (
        `${failures} failed logins in a row${last(' (the last: ', ')')}: one more would make the BMC ban this ` +
        'host (browsers included). ' +
        "Check board.bmc.password by logging in on the BMC's web page; after a restart of the BMC, which forgets " +
        'its count, ask for a retry with {"force": true} on bridge/request/bmc/login'
      );
    }
    if (failures >= this.policy.maxAutomatic && !grant && !this.forced) {
      return (
        `automatic logins paused after ${failures} failed logins in a row${last(' (the last: ', ')')}, ` +
        'so that the BMC never bans this host: fix board.bmc.password, or press "Retry BMC login" in Home Assistant ' +
        '(bridge/request/bmc/login)'
      );
    }
    if (!grant && !this.forced) {
      const wait = this.nextAttemptAt - monotonicNow(this.clock);
      if (wait > 0) {
        // A retained status says when, not how long from a moment its reader does not know.
        const next = retained
          ? `next attempt at ${isoTime(wallOfMonotonic(this.clock, this.nextAttemptAt))}`
          : `next attempt in ${Math.ceil(wait / 1000)} s`;
        return withLastReason ? `${last('the last login failed (', ')')}; ${next}` : next;
      }
    }
    return null;
  }

  /** A person asked for one attempt now (`force`: even at the brink of a ban). */
  allowOneAttempt(force: boolean): void {
    this.manualGrant = true;
    this.forced = force;
  }

  /** Before the login request is sent: counted at once, so a crash in flight still counts. */
  async attempting(): Promise<void> {
    this.grantInFlight = { manual: this.manualGrant, forced: this.forced, passwordChanged: this.passwordChanged };
    this.manualGrant = false;
    this.forced = false;
    this.passwordChanged = false;
    this.record.failures++;
    await this.save();
  }

  /**
   * The login never reached the BMC (connection refused, no such host, a certificate it does not
   * trust): bmcd never judged the credentials, so nothing is used up.
   */
  async inconclusive(): Promise<void> {
    if (this.grantInFlight) {
      this.manualGrant = this.grantInFlight.manual;
      this.forced = this.grantInFlight.forced;
      this.passwordChanged = this.grantInFlight.passwordChanged;
      this.grantInFlight = null;
    }
    this.record.failures = Math.max(0, this.record.failures - 1);
    await this.save();
  }

  /**
   * The login was sent, or may have been, and no verdict came back (no answer in time, the
   * connection cut, an error page): bmcd may have counted it, so it stays counted, and the next
   * automatic attempt waits as after a refusal. Given back, a slow BMC was asked again at every
   * poll while it counted each one: five logins in 75 s, a ban.
   */
  async unanswered(reason: string): Promise<void> {
    await this.refused(reason);
  }

  /** The BMC refused the credentials (403): the attempt stays counted. */
  async refused(reason: string): Promise<void> {
    this.refusedThisRun++;
    this.nextAttemptAt = monotonicNow(this.clock) + this.policy.firstDelayMs * 2 ** (this.refusedThisRun - 1);
    this.record.reason = reason;
    this.record.last_failure_at = isoTime(this.clock.now());
    const key = await credentialsKey(this.credentials.username, this.credentials.password);
    this.record.salt = key.salt;
    this.record.key = key.key;
    await this.save();
    this.publish(this.statusOfRecord());
  }

  /** A request with a token was answered 401: bmcd counts an unknown token as a failure. */
  async tokenRejected(reason: string): Promise<void> {
    this.record.failures++;
    this.record.reason = reason;
    this.record.last_failure_at = isoTime(this.clock.now());
    await this.save();
  }

  /** A fresh token was refused at once: no login again for a while (a BMC gone strange). */
  holdOff(): void {
    this.nextAttemptAt = monotonicNow(this.clock) + this.policy.firstDelayMs;
  }

  /** The BMC accepted the credentials or the token: its count for this host is zero again. */
  async succeeded(): Promise<void> {
    this.refusedThisRun = 0;
    this.nextAttemptAt = Number.NEGATIVE_INFINITY;
    if (this.record.failures !== 0 || this.record.key !== null) {
      this.record = emptyLoginRecord(this.credentials.bmc);
      await this.save();
    }
    if (this.state?.login !== 'ok') this.publish({ login: 'ok', reason: null, failures: 0 });
  }

  /** Something before any login went wrong (the certificate, say): shown as a failed login. */
  report(reason: string): void {
    if (this.state?.login === 'paused' || (this.state?.login === 'failed' && this.state.reason === reason)) return;
    this.publish({ login: 'failed', reason, failures: this.record.failures });
  }

  private statusOfRecord(): LoginStatus {
    const reason = this.refusal(true, true) ?? this.record.reason;
    // Paused: nothing is tried by itself. A new password is not tried either at the brink of a ban.
    const { failures } = this.record;
    const paused = failures >= this.policy.maxAny || (failures >= this.policy.maxAutomatic && !this.passwordChanged);
    return { login: paused ? 'paused' : 'failed', reason, failures: this.record.failures };
  }

  private async save(): Promise<void> {
    await this.store.save(this.record);
  }

  private publish(status: LoginStatus): void {
    this.state = status;
    for (const listener of this.listeners) listener(status);
  }
}
