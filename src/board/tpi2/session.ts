import type { Clock } from '../../util/clock.js';
import { TpmError, errorMessage } from '../../util/errors.js';
import type { Logger } from '../../util/logger.js';
import { Mutex } from '../../util/mutex.js';
import { BmcAnswerError, errorAnswerMessage } from './api.js';
import { formatWait, parseJson, withAbort } from './http-util.js';
import { NOT_CONNECTED_IN_TIME, type FetchLike, type FetchResponse } from './https-fetch.js';
import type { LoginGuard, LoginStatus } from './login-guard.js';

const AUTH_PATH = '/api/bmc/authenticate';
export const API_PATH = '/api/bmc';

export interface BmcAnswer {
  status: number;
  text: string;
  location: string | null;
}

export interface BmcSessionOptions {
  base: URL;
  username: string;
  /** null: no login is attempted (only a BMC that asks for none works). */
  password: string | null;
  fetch: FetchLike;
  clock: Clock;
  logger: Logger;
  timeoutMs: number;
  /** bmcd forgets a token this long after its last use. */
  tokenLifetimeMs: number;
  guard: LoginGuard;
}

/** A fresh login replaces the token a minute before bmcd would forget it. */
const TOKEN_MARGIN_MS = 60_000;

/**
 * The BMC's session (docs/turing-pi-2.md, "Logins and bans"): one bearer token, renewed before
 * bmcd forgets it, a login only when the LoginGuard allows one, and one request at a time.
 */
export class BmcSession {
  readonly origin: string;
  /** False for a BMC that serves us without credentials (bmcd trusts its own loopback). */
  authRequired = true;
  private token: string | null = null;
  private tokenUsedAt = 0;
  private loginInFlight: Promise<string> | null = null;
  private readonly calls = new Mutex();

  constructor(private readonly options: BmcSessionOptions) {
    this.origin = options.base.origin;
  }

  get guard(): LoginGuard {
    return this.options.guard;
  }

  forget(): void {
    this.token = null;
  }

  /**
   * One API call at a time: after a BMC restart only the first request meets the stale token
   * (bmcd counts an unknown token as a failed login), and the little BMC is never flooded.
   */
  call(query: string, what: string): Promise<unknown> {
    return this.calls.run(() => this.callNow(query, what));
  }

  /** A person asked for a login now (Home Assistant's button, bridge/request/bmc/login). */
  async retryLogin(force: boolean): Promise<LoginStatus | null> {
    await this.guard.ready();
    this.guard.allowOneAttempt(force);
    this.token = null;
    try {
      await this.call('opt=get&type=power', 'power get');
    } catch (error) {
      // A refused login is the answer (in the status); anything else (no password set, BMC unreachable) is the error.
      if (!(error instanceof TpmError) || error.code !== 'BMC_AUTH' || this.guard.status() === null) throw error;
    }
    return this.guard.status();
  }

  /** One API call with the session token: a 401 costs one new login and one retry. */
  private async callNow(query: string, what: string): Promise<unknown> {
    const path = `${API_PATH}?${query}`;
    let token = this.authRequired ? await this.currentToken() : null;
    let answer = await this.send('GET', path, what, token);
    if (answer.status === 401 && token !== null) {
      // bmcd counts an unknown token (a restart of bmcd forgets them all) but not an expired one;
      // the answer's text tells them apart only loosely, so every rejected token is counted.
      await this.guard.tokenRejected(`the BMC rejected the session token (${errorAnswerMessage(answer.text)})`);
      this.forgetToken(token);
      this.options.logger.info({ bmc: this.origin }, 'the BMC no longer accepts the session token: logging in again');
      token = await this.currentToken();
      answer = await this.send('GET', path, what, token);
      if (answer.status === 401) {
        await this.guard.tokenRejected(`the BMC rejected a fresh session token (${errorAnswerMessage(answer.text)})`);
        this.guard.holdOff();
        this.forgetToken(token);
        throw new TpmError(
          'BMC_AUTH',
          `the BMC rejected a fresh session token for ${what}: ${errorAnswerMessage(answer.text)}`,
        );
      }
    } else if (answer.status === 401) {
      this.authRequired = true;
      return this.callNow(query, what);
    }
    if (answer.status < 200 || answer.status >= 300) throw this.answerError(answer, what);
    if (token !== null) {
      await this.guard.succeeded();
      this.tokenUsedAt = this.options.clock.now();
    }
    return parseJson(answer.text, what);
  }

  private forgetToken(token: string | null): void {
    if (this.token === token) this.token = null;
  }

  /** The session token, logging in when there is none or bmcd will have forgotten it. */
  private async currentToken(): Promise<string> {
    const { clock, tokenLifetimeMs } = this.options;
    if (this.token !== null && clock.now() - this.tokenUsedAt < tokenLifetimeMs - TOKEN_MARGIN_MS) return this.token;
    this.token = null;
    // Calls made together share one login.
    this.loginInFlight ??= this.login().finally(() => {
      this.loginInFlight = null;
    });
    return this.loginInFlight;
  }

  private async login(): Promise<string> {
    const { username, password, logger } = this.options;
    if (password === null) {
      // Shown where the other login problems are (board/bmc, Home Assistant's "BMC login"): no
      // retry can mend a config that has no password.
      const message =
        'the BMC asks for a login: set board.bmc.password (for example to ${TPI_BMC_PASSWORD}) and restart the bridge';
      this.guard.report(message);
      throw new TpmError('BMC_AUTH', message);
    }
    await this.guard.ready();
    const refusal = this.guard.refusal();
    if (refusal !== null) throw new TpmError('BMC_AUTH', `not logging in to the BMC: ${refusal}`);
    const body = JSON.stringify({ username, password });
    await this.guard.attempting();
    let answer: BmcAnswer;
    try {
      answer = await this.send('POST', AUTH_PATH, 'login', null, body);
    } catch (error) {
      if (neverSent(error)) await this.guard.inconclusive();
      else await this.guard.unanswered(mayHaveCounted(errorMessage(error)));
      throw error;
    }
    if (answer.status === 200) {
      await this.guard.succeeded();
      const session = parseJson(answer.text, 'login') as { id?: unknown };
      if (typeof session?.id !== 'string' || session.id.length === 0) {
        throw new TpmError('BMC', 'the BMC answered the login without a session id');
      }
      this.token = session.id;
      this.tokenUsedAt = this.options.clock.now();
      logger.debug({ bmc: this.origin, user: username }, 'logged in to the BMC');
      return session.id;
    }
    if (answer.status === 403 || answer.status === 401) {
      const reason = `the BMC refused the login of user "${username}": ${errorAnswerMessage(answer.text)}`;
      await this.guard.refused(reason);
      const next = this.guard.refusal(false) ?? 'next attempt at the next poll';
      const error = new TpmError('BMC_AUTH', `${reason}; ${next}`);
      logger.warn({ bmc: this.origin, user: username, failures: this.guard.failures }, error.message);
      throw error;
    }
    // An error page or a redirect: whether bmcd counted the attempt is not known, so it counts.
    const error = this.answerError(answer, 'login');
    await this.guard.unanswered(mayHaveCounted(error.message));
    throw error;
  }

  /** One HTTP exchange bounded by the request timeout. Never puts the password in an error. */
  async send(
    method: 'GET' | 'POST',
    path: string,
    what: string,
    token: string | null,
    body?: string,
  ): Promise<BmcAnswer> {
    const { clock, timeoutMs, base } = this.options;
    const controller = new AbortController();
    const timeout = new TpmError(
      'TIMEOUT',
      `the BMC at ${this.origin} did not answer ${what} within ${formatWait(timeoutMs)}`,
    );
    const timer = clock.setTimeout(() => controller.abort(timeout), timeoutMs);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      const response: FetchResponse = await this.options.fetch(new URL(path, base).toString(), {
        method,
        headers,
        signal: controller.signal,
        redirect: 'manual',
        ...(body !== undefined ? { body } : {}),
      });
      const text = await withAbort(response.text(), controller.signal);
      return { status: response.status, text, location: response.headers.get('location') };
    } catch (error) {
      if (controller.signal.aborted) {
        if ((error as { code?: unknown } | null)?.code !== NOT_CONNECTED_IN_TIME) throw timeout;
        throw new TpmError(
          'BMC',
          `cannot reach the BMC at ${this.origin} (${what}): no connection within ` + formatWait(timeoutMs),
          { cause: error },
        );
      }
      if (error instanceof TpmError && error.code === 'BMC_TRUST') this.guard.report(error.message);
      if (error instanceof TpmError) throw error;
      throw new TpmError('BMC', `cannot reach the BMC at ${this.origin} (${what}): ${errorMessage(error)}`, {
        cause: error,
      });
    } finally {
      clock.clearTimeout(timer);
    }
  }

  answerError(answer: BmcAnswer, what: string): TpmError {
    if (answer.status >= 300 && answer.status < 400) {
      return new TpmError(
        'CONFIG',
        `the BMC redirects ${what} to ${answer.location ?? 'another address'}: set board.bmc.url to the https:// address`,
      );
    }
    return new BmcAnswerError(answer.status, errorAnswerMessage(answer.text), what);
  }
}

/**
 * Errors that come before a byte of a request is written: the BMC saw no login. ETIMEDOUT is the
 * kernel giving up on a connection; NOT_CONNECTED_IN_TIME this transport's timeout before one.
 */
const NOT_CONNECTED = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ETIMEDOUT',
  NOT_CONNECTED_IN_TIME,
]);

/**
 * Whether a failed login request provably never reached bmcd: not connected (node's own error, or
 * the one a WHATWG fetch wraps), or a BMC that is not the trusted one.
 */
function neverSent(error: unknown): boolean {
  if (!(error instanceof TpmError)) return false;
  if (error.code === 'BMC_TRUST' || error.code === 'CONFIG') return true;
  const cause = error.cause as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = cause?.code ?? cause?.cause?.code;
  return error.code === 'BMC' && typeof code === 'string' && NOT_CONNECTED.has(code);
}

/** The reason kept for a login without a verdict. */
function mayHaveCounted(what: string): string {
  return `${what} (counted as a failed login: the BMC may have counted it)`;
}
