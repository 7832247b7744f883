import { randomBytes } from 'node:crypto';
import type { Clock } from '../../util/clock.js';

/**
 * The state behind the simulated BMC (docs/turing-pi-2.md, modelled on bmcd's authentication
 * context and ban patrol, bmcd 2.0.5 to 2.3.7 alike): sessions, penalties, stored and physical
 * power. Pure state on an injected clock; bmc-server.ts puts HTTP in front of it.
 */

export const BMC_NODES = 4;
/** bmcd: a token expires 10800 s after its last use. */
const TOKEN_EXPIRY_MS = 10_800_000;
/** bmcd (authentication_attempts: 5): the 5th failure in a row bans the peer. */
const MAX_AUTH_ATTEMPTS = 5;
/** bmcd's ban_patrol: 1 min, doubling with each further failure, at most 2^10 = 1024 min. */
const BAN_UNIT_MS = 60_000;
const BAN_LEVELS = 10;
/** bmcd's reset is off, 1 s, on (docs/hardware.md "Calls the driver makes"). */
const RESET_OFF_MS = 1_000;
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export interface BmcStats {
  requests: number;
  /** Login attempts (POST /api/bmc/authenticate), good or bad. */
  logins: number;
  successfulLogins: number;
  failedLogins: number;
  /** 401s to requests that carried an unknown or stale bearer token. */
  staleTokens: number;
  /** Requests refused because their peer was banned. */
  bannedRequests: number;
  /** The greatest number of consecutive failures any peer reached. */
  maxPenalty: number;
  /** Failures that left their peer banned. */
  bans: number;
  /** Requests with a token bmcd had forgotten through expiry: 401, not counted. */
  expiredTokens: number;
  powerSets: number;
  resets: number;
  /** Requests that made the simulated bmcd panic (USB mode 3). */
  crashes: number;
}

/** bmcd's BanPatrol entry: failures in a row (no time window) and the end of the ban they earned. */
interface Penalty {
  attempts: number;
  deadline: number;
}

export type AuthOutcome =
  { ok: true } | { ok: false; status: 401 | 403; message: string; scheme: 'Bearer' | 'Basic' | null };

export class BmcModel {
  /** The BMC's stored "activated nodes": what power get answers. */
  readonly stored: boolean[] = Array<boolean>(BMC_NODES).fill(false);
  /** What the slots really get (a reset of an off node switches it on behind `stored`). */
  readonly physical: boolean[] = Array<boolean>(BMC_NODES).fill(false);
  /** Nodes whose power get answers "Unknown" (fault injection). */
  readonly unknown: boolean[] = Array<boolean>(BMC_NODES).fill(false);
  /**
   * The BMC's time (bmcNow) when each slot was switched on through power set, for node_info's
   * power_on_time; bmcd keeps it with the stored power, so a reset does not renew it.
   */
  readonly poweredSince: (number | null)[] = Array<number | null>(BMC_NODES).fill(null);
  /** Clock time each slot last got power physically (a reset's power cycle renews this, not poweredSince). */
  readonly slotOnSince: (number | null)[] = Array<number | null>(BMC_NODES).fill(null);
  /** How far the BMC's clock is from the injected clock (fault: a clock step, e.g. NTP after boot). */
  clockOffsetMs = 0;
  readonly stats: BmcStats = {
    requests: 0,
    logins: 0,
    successfulLogins: 0,
    failedLogins: 0,
    staleTokens: 0,
    bannedRequests: 0,
    maxPenalty: 0,
    bans: 0,
    expiredTokens: 0,
    powerSets: 0,
    resets: 0,
    crashes: 0,
  };
  private tokens = new Map<string, number>();
  private penalties = new Map<string, Penalty>();

  constructor(
    private readonly clock: Clock,
    readonly users: Record<string, string>,
  ) {}

  /**
   * A restart of bmcd (or of the BMC): tokens and penalties live only in its memory; power is kept,
   * and bmcd's start sets the stored power again, which renews power_on_time of nodes 2-4 (setPower).
   */
  restart(): void {
    this.tokens.clear();
    this.penalties.clear();
    for (let index = 1; index < BMC_NODES; index++) if (this.stored[index]) this.poweredSince[index] = this.bmcNow();
  }

  /** Ban deadline of a peer, or null when not banned (bmcd's BanPatrol::patrole_ban). */
  bannedUntil(peer: string): number | null {
    const penalty = this.penalties.get(peer);
    if (!penalty) return null;
    return penalty.deadline > this.clock.now() ? penalty.deadline : null;
  }

  penaltyOf(peer: string): number {
    return this.penalties.get(peer)?.attempts ?? 0;
  }

  get activeTokens(): number {
    return this.tokens.size;
  }

  /**
   * POST /api/bmc/authenticate (bmcd's authenticate_request, then validate_credentials): a body
   * that is not `{username, password}` as strings is a parse error, refused and not counted; a
   * banned peer is refused before its credentials are looked at, not counted either; a wrong user
   * or password is counted; a success clears the peer's count.
   */
  login(peer: string, username: unknown, password: unknown): { token: string } | { status: 403; message: string } {
    this.stats.logins++;
    if (typeof username !== 'string' || typeof password !== 'string') {
      return { status: 403, message: 'error trying to parse credentials: missing field or not a string' };
    }
    const banned = this.banMessage(peer);
    if (banned) {
      this.stats.bannedRequests++;
      return { status: 403, message: banned };
    }
    if (this.users[username] !== password) {
      this.stats.failedLogins++;
      this.penalize(peer);
      return { status: 403, message: this.banMessage(peer) ?? 'credentials incorrect' };
    }
    this.stats.successfulLogins++;
    this.penalties.delete(peer);
    this.dropExpiredTokens();
    // bmcd: 64 alphanumeric characters.
    const token = Array.from(randomBytes(64), (byte) => ALPHANUMERIC[byte % ALPHANUMERIC.length]).join('');
    this.tokens.set(token, this.clock.now());
    return { token };
  }

  /** The Authorization header of an API request (bmcd's authorize_request). */
  authorize(peer: string, header: string | undefined): AuthOutcome {
    // No header: asked for credentials, never counted.
    if (!header) return { ok: false, status: 401, message: 'no authorization header provided', scheme: 'Basic' };
    const space = header.indexOf(' ');
    if (space < 0)
      return { ok: false, status: 401, message: `cannot parse authorization header: ${header}`, scheme: 'Basic' };
    const scheme = header.slice(0, space);
    const value = header.slice(space + 1);
    if (scheme === 'Bearer') return this.authorizeBearer(peer, value);
    if (scheme === 'Basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      // bmcd parses before it judges: no "user:" is a parse error, answered 401 and not counted.
      if (colon < 0)
        return { ok: false, status: 401, message: 'basic authentication formatted wrong', scheme: 'Basic' };
      const banned = this.banMessage(peer);
      if (banned) {
        this.stats.bannedRequests++;
        return { ok: false, status: 401, message: banned, scheme: 'Basic' };
      }
      if (this.users[decoded.slice(0, colon)] === decoded.slice(colon + 1)) {
        this.penalties.delete(peer);
        return { ok: true };
      }
      this.penalize(peer);
      return { ok: false, status: 401, message: this.banMessage(peer) ?? 'credentials incorrect', scheme: 'Basic' };
    }
    return { ok: false, status: 401, message: `${scheme} authentication not supported`, scheme: null };
  }

  /**
   * bmcd's authorize_bearer: a banned peer is refused; an unknown token is a failure (counted);
   * an expired one is forgotten and refused without being counted; a good one is renewed and
   * clears the peer's count.
   */
  private authorizeBearer(peer: string, token: string): AuthOutcome {
    const banned = this.banMessage(peer);
    if (banned) {
      this.stats.bannedRequests++;
      return { ok: false, status: 401, message: banned, scheme: 'Bearer' };
    }
    const lastUse = this.tokens.get(token);
    if (lastUse === undefined) {
      this.stats.staleTokens++;
      this.penalize(peer);
      return {
        ok: false,
        status: 401,
        message: this.banMessage(peer) ?? `token ${token} is not registered`,
        scheme: 'Bearer',
      };
    }
    const idle = this.clock.now() - lastUse;
    if (idle < TOKEN_EXPIRY_MS) {
      this.tokens.set(token, this.clock.now());
      this.penalties.delete(peer);
      return { ok: true };
    }
    this.tokens.delete(token);
    this.stats.expiredTokens++;
    return { ok: false, status: 401, message: `token expired ${Math.round(idle / 1000)}s ago`, scheme: 'Bearer' };
  }

  /**
   * opt=set&type=power: the stored state and the slot follow. bmcd 2.3's update_power_on_times
   * compares the stored bit (1 << index) with the new state (1): for nodes 2-4 they never match,
   * so switching on a node 2-4 that is on already renews its power_on_time; node 1 keeps it.
   */
  setPower(index: number, on: boolean): void {
    this.stats.powerSets++;
    if (on && (!this.stored[index] || index > 0)) this.poweredSince[index] = this.bmcNow();
    if (!on) this.poweredSince[index] = null;
    this.stored[index] = on;
    this.switchSlot(index, on);
  }

  /** The BMC's own clock (it has no battery-backed clock of its own; NTP steps it). */
  bmcNow(): number {
    return this.clock.now() + this.clockOffsetMs;
  }

  /** opt=set&type=reset: off, 1 s, on, whatever `stored` says (docs/hardware.md). */
  reset(index: number): void {
    this.stats.resets++;
    this.switchSlot(index, false);
    this.clock.setTimeout(() => this.switchSlot(index, true), RESET_OFF_MS);
  }

  private switchSlot(index: number, on: boolean): void {
    if (on && !this.physical[index]) this.slotOnSince[index] = this.clock.now();
    if (!on) this.slotOnSince[index] = null;
    this.physical[index] = on;
  }

  /** bmcd's BanPatrol::penalize: from the 5th failure in a row, a ban of 1 min x 2^min(n-5, 10). */
  private penalize(peer: string): void {
    const penalty = this.penalties.get(peer) ?? { attempts: 0, deadline: this.clock.now() };
    penalty.attempts++;
    if (penalty.attempts >= MAX_AUTH_ATTEMPTS) {
      const severity = 2 ** Math.min(penalty.attempts - MAX_AUTH_ATTEMPTS, BAN_LEVELS);
      penalty.deadline = this.clock.now() + BAN_UNIT_MS * severity;
      this.stats.bans++;
    }
    this.penalties.set(peer, penalty);
    this.stats.maxPenalty = Math.max(this.stats.maxPenalty, penalty.attempts);
  }

  private banMessage(peer: string): string | null {
    const until = this.bannedUntil(peer);
    if (until === null) return null;
    return (
      `Exceeded allowed authentication attempts. Access blocked for ` +
      `${Math.ceil((until - this.clock.now()) / 1000)}s`
    );
  }

  private dropExpiredTokens(): void {
    const now = this.clock.now();
    for (const [token, lastUse] of this.tokens) if (now - lastUse > TOKEN_EXPIRY_MS) this.tokens.delete(token);
  }
}
