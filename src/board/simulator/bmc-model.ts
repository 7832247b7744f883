import { randomBytes } from 'node:crypto';
import type { Clock } from '../../util/clock.js';

/**
 * The state behind the simulated BMC (docs/hardware.md "Login and bans", modelled on bmcd's
 * authentication context and ban patrol): sessions, penalties, stored and physical power.
 * Pure state on an injected clock; bmc-server.ts puts HTTP in front of it.
 */

export const BMC_NODES = 4;
/** bmcd: a token expires 10800 s after its last use. */
export const TOKEN_EXPIRY_MS = 10_800_000;
/** bmcd: 5 failed attempts ban the peer. */
export const MAX_AUTH_ATTEMPTS = 5;
/** bmcd: ban of 1 min doubling per further failure, at most 2^10 = 1024 min. */
const BAN_UNIT_MS = 60_000;
const BAN_LEVELS = 10;
/** bmcd's reset is off, 1 s, on (docs/hardware.md "Calls the driver makes"). */
export const RESET_OFF_MS = 1_000;

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
  powerSets: number;
  resets: number;
  /** Requests that made the simulated bmcd panic (USB mode 3). */
  crashes: number;
}

interface Penalty {
  attempts: number;
  start: number;
}

export type AuthOutcome =
  | { ok: true }
  | { ok: false; status: 401 | 403; message: string; scheme: 'Bearer' | 'Basic' | null };

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

  /** A BMC restart: tokens and penalties live only in memory; power is kept by the board. */
  restart(): void {
    this.tokens.clear();
    this.penalties.clear();
  }

  /** Ban deadline of a peer, or null when not banned (bmcd's BanPatrol). */
  bannedUntil(peer: string): number | null {
    const penalty = this.penalties.get(peer);
    if (!penalty || penalty.attempts < MAX_AUTH_ATTEMPTS) return null;
    const severity = 2 ** Math.min(penalty.attempts - MAX_AUTH_ATTEMPTS, BAN_LEVELS);
    const deadline = penalty.start + BAN_UNIT_MS * severity;
    return deadline > this.clock.now() ? deadline : null;
  }

  penaltyOf(peer: string): number {
    return this.penalties.get(peer)?.attempts ?? 0;
  }

  get activeTokens(): number {
    return this.tokens.size;
  }

  /** POST /api/bmc/authenticate with the body's credentials. */
  login(peer: string, username: unknown, password: unknown): { token: string } | { status: 403; message: string } {
    this.stats.logins++;
    const banned = this.banMessage(peer);
    if (banned) {
      this.stats.bannedRequests++;
      return { status: 403, message: banned };
    }
    if (typeof username !== 'string' || typeof password !== 'string' || this.users[username] !== password) {
      this.stats.failedLogins++;
      this.penalize(peer);
      return { status: 403, message: this.banMessage(peer) ?? 'credentials incorrect' };
    }
    this.stats.successfulLogins++;
    this.penalties.delete(peer);
    this.dropExpiredTokens();
    const token = randomBytes(48).toString('base64url').slice(0, 64);
    this.tokens.set(token, this.clock.now());
    return { token };
  }

  /** The Authorization header of an API request (Bearer or Basic). */
  authorize(peer: string, header: string | undefined): AuthOutcome {
    const banned = this.banMessage(peer);
    if (banned) {
      this.stats.bannedRequests++;
      return { ok: false, status: 401, message: banned, scheme: null };
    }
    if (!header) return { ok: false, status: 401, message: 'no authorization header provided', scheme: 'Basic' };
    const space = header.indexOf(' ');
    const scheme = space < 0 ? header : header.slice(0, space);
    const value = space < 0 ? '' : header.slice(space + 1);
    if (scheme === 'Bearer') {
      const lastUse = this.tokens.get(value);
      if (lastUse !== undefined && this.clock.now() - lastUse < TOKEN_EXPIRY_MS) {
        this.tokens.set(value, this.clock.now());
        return { ok: true };
      }
      this.tokens.delete(value);
      this.stats.staleTokens++;
      // docs/hardware.md "Login and bans": requests with an unknown or stale bearer token count as failures too.
      this.penalize(peer);
      const message = lastUse === undefined ? 'token is not registered' : 'token expired';
      return { ok: false, status: 401, message, scheme: 'Bearer' };
    }
    if (scheme === 'Basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon >= 0 && this.users[decoded.slice(0, colon)] === decoded.slice(colon + 1)) return { ok: true };
      this.penalize(peer);
      return { ok: false, status: 401, message: 'credentials incorrect', scheme: 'Basic' };
    }
    return { ok: false, status: 401, message: `${scheme} authentication not supported`, scheme: null };
  }

  /** opt=set&type=power: the stored state and the slot follow. */
  setPower(index: number, on: boolean): void {
    this.stats.powerSets++;
    if (on && !this.stored[index]) this.poweredSince[index] = this.bmcNow();
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

  private penalize(peer: string): void {
    const penalty = this.penalties.get(peer) ?? { attempts: 0, start: this.clock.now() };
    penalty.attempts++;
    this.penalties.set(peer, penalty);
    this.stats.maxPenalty = Math.max(this.stats.maxPenalty, penalty.attempts);
    if (this.bannedUntil(peer) !== null) this.stats.bans++;
  }

  private banMessage(peer: string): string | null {
    const until = this.bannedUntil(peer);
    if (until === null) return null;
    return `Exceeded allowed authentication attempts. Access blocked for ${Math.ceil((until - this.clock.now()) / 1000)}s`;
  }

  private dropExpiredTokens(): void {
    const now = this.clock.now();
    for (const [token, lastUse] of this.tokens) if (now - lastUse > TOKEN_EXPIRY_MS) this.tokens.delete(token);
  }
}
