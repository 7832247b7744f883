import { displayUrl } from '../../util/redact.js';
import { systemClock, type Clock } from '../../util/clock.js';
import { TpmError, errorMessage } from '../../util/errors.js';
import { silentLogger, type Logger } from '../../util/logger.js';
import { Mutex } from '../../util/mutex.js';
import type { BoardDriver, BoardInfo, BoardType, FanReading, NodeTimes, PowerReading, UsbReading } from '../types.js';
import {
  BmcAnswerError,
  FIRMWARE_1_MESSAGE,
  TPI2_NODES,
  errorAnswerMessage,
  expectOk,
  isFirmware1PowerAnswer,
  parsePowerAnswer,
} from './api.js';
import { BmcFeatures } from './features.js';
import { checkNode, formatWait, parseJson, withAbort } from './http-util.js';
import { createHttpsFetch, loadCaOption, type FetchLike, type FetchResponse } from './https-fetch.js';
import { DEFAULT_LOGIN_POLICY, LoginGuard, type LoginGuardPolicy } from './login-guard.js';

export interface Tpi2DriverOptions {
  /** Base URL of the BMC, e.g. https://turingpi.local (config board.bmc.url). */
  url: string;
  username: string;
  /** null: no login is attempted (only a BMC that asks for none works). */
  password: string | null;
  /** The BMC's certificate or CA: a PEM path or the PEM itself (board.bmc.ca). */
  ca?: string | null;
  /** Accept any certificate (board.bmc.insecure). */
  insecure?: boolean;
  /**
   * WHATWG-style fetch. Default: a node:https transport honouring `ca` / `insecure`. An
   * injected fetch is used as is: trusting the certificate is then its business.
   */
  fetch?: FetchLike;
  clock?: Clock;
  logger?: Logger;
  /** Each request (and its answer) must complete within this; default 10 s. */
  requestTimeoutMs?: number;
  loginPolicy?: Partial<LoginGuardPolicy>;
  /** bmcd forgets a token 10800 s after its last use; a fresh login replaces it a minute earlier. */
  tokenLifetimeMs?: number;
  /** For the simulator: board type and model shown in discovery. */
  type?: BoardType;
  model?: string;
}

const AUTH_PATH = '/api/bmc/authenticate';
const API_PATH = '/api/bmc';
const TOKEN_LIFETIME_MS = 10_800_000;
const TOKEN_MARGIN_MS = 60_000;

/**
 * Turing Pi 2 / 2.5 through the BMC's HTTPS API, firmware 2.x (docs/hardware.md "Turing Pi 2 /
 * 2.5: the BMC API"). Node numbers are 1-based here and in `nodeN=`; reset takes the zero-based index.
 */
export class Tpi2Driver implements BoardDriver {
  readonly info: BoardInfo;
  private readonly base: URL;
  private readonly origin: string;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly tokenLifetimeMs: number;
  private readonly guard: LoginGuard;
  private readonly fetch: FetchLike;
  private readonly closeTransport: () => void;
  private token: string | null = null;
  private tokenUsedAt = 0;
  private authRequired = true;
  private loginInFlight: Promise<string> | null = null;
  private lastRefusal = '';
  private readonly calls = new Mutex();
  private readonly features: BmcFeatures;

  constructor(private readonly options: Tpi2DriverOptions) {
    try {
      this.base = new URL(options.url);
    } catch {
      throw new TpmError('CONFIG', `board.bmc.url is not a URL: ${displayUrl(options.url)}`);
    }
    if (this.base.protocol !== 'https:' && this.base.protocol !== 'http:') {
      throw new TpmError('CONFIG', `board.bmc.url must start with https:// (got ${this.base.protocol})`);
    }
    this.origin = this.base.origin;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger();
    this.timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.tokenLifetimeMs = options.tokenLifetimeMs ?? TOKEN_LIFETIME_MS;
    this.guard = new LoginGuard(this.clock, { ...DEFAULT_LOGIN_POLICY, ...options.loginPolicy });
    if (options.fetch) {
      this.fetch = options.fetch;
      this.closeTransport = () => {};
    } else {
      const transport = createHttpsFetch({
        ...(options.ca ? { ca: loadCaOption(options.ca) } : {}),
        insecure: options.insecure === true,
      });
      this.fetch = transport.fetch;
      this.closeTransport = transport.close;
    }
    this.info = {
      type: options.type ?? 'tpi2',
      model: options.model ?? 'Turing Pi 2',
      nodes: TPI2_NODES,
      hasRtc: false,
      canTellPresence: false,
      nativeReset: true,
      // Until the BMC said which calls it has (features.ts, at open).
      reportsPowerOnTime: false,
      hasFans: false,
      firmware: null,
      bmcd: null,
      revision: null,
      nodeNames: [],
      usbModes: [],
    };
    this.features = new BmcFeatures((query, what) => this.call(query, what), this.info, this.logger);
  }

  /**
   * Recognises firmware 1.x with one unauthenticated power get (an absent Authorization
   * header is not a failed login for bmcd), logs in when asked to, then asks the BMC which
   * firmware it runs and which of the optional calls it has (features.ts).
   */
  async open(): Promise<void> {
    const probe = await this.send('GET', `${API_PATH}?opt=get&type=power`, 'power get', null);
    if (probe.status === 401) {
      this.authRequired = true;
      await this.readPower();
    } else if (probe.status === 200) {
      const body = parseJson(probe.text, 'power get');
      if (isFirmware1PowerAnswer(body)) throw new TpmError('BMC_UNSUPPORTED', FIRMWARE_1_MESSAGE);
      parsePowerAnswer(body);
      // A BMC that serves us without credentials (bmcd trusts its own loopback).
      this.authRequired = false;
    } else {
      throw this.answerError(probe, 'power get');
    }
    await this.features.discover();
    const { firmware, bmcd } = this.info;
    this.logger.info({ bmc: this.origin, firmware, bmcd }, 'connected to the Turing Pi 2 BMC');
  }

  async close(): Promise<void> {
    this.token = null;
    this.closeTransport();
  }

  async readPower(): Promise<PowerReading> {
    return { power: parsePowerAnswer(await this.call('opt=get&type=power', 'power get')) };
  }

  async setPower(node: number, on: boolean): Promise<boolean> {
    checkNode(node);
    const before = (await this.readPower()).power[node - 1];
    if (before === on) return on;
    const body = await this.call(`opt=set&type=power&node${node}=${on ? 1 : 0}`, `power set of node ${node}`);
    expectOk(body, `power set of node ${node}`);
    const after = (await this.readPower()).power[node - 1];
    if (after !== on) {
      throw new TpmError(
        'VERIFY',
        `node ${node} did not switch ${on ? 'on' : 'off'}: the BMC reports ${after === null ? 'Unknown' : after ? 'on' : 'off'} after the change`,
      );
    }
    return after;
  }

  async reset(node: number): Promise<void> {
    checkNode(node);
    const power = (await this.readPower()).power[node - 1];
    if (power !== true) {
      // docs/hardware.md: reset bypasses the stored state; on an off node it would switch the
      // node on while the BMC still reports it off.
      throw new TpmError(
        'NODE_OFF',
        `node ${node} is ${power === null ? 'in an unknown state' : 'off'}: only a node that is on can be reset`,
      );
    }
    // The BMC numbers nodes from 0 in reset (docs/hardware.md; tpi's `-n N` becomes node=N-1).
    expectOk(await this.call(`opt=set&type=reset&node=${node - 1}`, `reset of node ${node}`), `reset of node ${node}`);
  }

  async readNodeTimes(): Promise<NodeTimes> {
    const entries = await this.features.readNodeInfo();
    return { powerOnSeconds: entries?.map((entry) => entry.powerOnSeconds) ?? Array<null>(TPI2_NODES).fill(null) };
  }

  readFan(): Promise<FanReading> {
    return this.features.readFan();
  }

  setFanLevel(level: number): Promise<FanReading> {
    return this.features.setFanLevel(level);
  }

  readUsb(): Promise<UsbReading> {
    return this.features.readUsb();
  }

  setUsb(node: number, mode: 'host' | 'device'): Promise<UsbReading> {
    return this.features.setUsb(node, mode);
  }

  /**
   * One API call at a time: after a BMC restart only the first request meets the stale
   * token (each 401 with a token is a failure for bmcd's ban count), and the little BMC is
   * never flooded.
   */
  private call(query: string, what: string): Promise<unknown> {
    return this.calls.run(() => this.callNow(query, what));
  }

  /** One API call with the session token: a 401 costs one new login and one retry. */
  private async callNow(query: string, what: string): Promise<unknown> {
    const path = `${API_PATH}?${query}`;
    let token = this.authRequired ? await this.currentToken() : null;
    let answer = await this.send('GET', path, what, token);
    if (answer.status === 401) {
      if (token !== null) this.guard.tokenRejected();
      this.forgetToken(token);
      this.authRequired = true;
      this.logger.info({ bmc: this.origin }, 'the BMC no longer accepts the session token: logging in again');
      token = await this.currentToken();
      answer = await this.send('GET', path, what, token);
      if (answer.status === 401) {
        this.guard.tokenRejected();
        this.forgetToken(token);
        throw new TpmError('BMC_AUTH', `the BMC rejected a fresh session token for ${what}: ${errorAnswerMessage(answer.text)}`);
      }
    }
    if (answer.status < 200 || answer.status >= 300) throw this.answerError(answer, what);
    if (token !== null) {
      this.guard.succeeded();
      this.tokenUsedAt = this.clock.now();
    }
    return parseJson(answer.text, what);
  }

  private forgetToken(token: string | null): void {
    if (this.token === token) this.token = null;
  }

  /** The session token, logging in when there is none or bmcd will have forgotten it. */
  private async currentToken(): Promise<string> {
    if (this.token !== null && this.clock.now() - this.tokenUsedAt < this.tokenLifetimeMs - TOKEN_MARGIN_MS) {
      return this.token;
    }
    this.token = null;
    // Calls made together share one login.
    this.loginInFlight ??= this.login().finally(() => {
      this.loginInFlight = null;
    });
    return this.loginInFlight;
  }

  private async login(): Promise<string> {
    if (this.options.password === null || this.options.password === undefined) {
      throw new TpmError('BMC_AUTH', 'the BMC asks for a login: set board.bmc.password (for example to ${BMC_PASSWORD})');
    }
    const wait = this.guard.waitMs();
    if (wait > 0) {
      throw new TpmError(
        'BMC_AUTH',
        `not logging in to the BMC for another ${formatWait(wait)}: the last login failed (${this.lastRefusal || 'token rejected'}); ` +
          'logins are spaced so the BMC does not ban this host',
      );
    }
    const body = JSON.stringify({ username: this.options.username, password: this.options.password });
    const answer = await this.send('POST', AUTH_PATH, 'login', null, body);
    if (answer.status === 200) {
      const session = parseJson(answer.text, 'login') as { id?: unknown };
      if (typeof session?.id !== 'string' || session.id.length === 0) {
        throw new TpmError('BMC', 'the BMC answered the login without a session id');
      }
      this.token = session.id;
      this.tokenUsedAt = this.clock.now();
      this.logger.debug({ bmc: this.origin, user: this.options.username }, 'logged in to the BMC');
      return session.id;
    }
    if (answer.status === 403 || answer.status === 401) {
      this.guard.loginRefused();
      this.lastRefusal = errorAnswerMessage(answer.text);
      const error = new TpmError(
        'BMC_AUTH',
        `the BMC refused the login of user "${this.options.username}" (${this.lastRefusal}); ` +
          `next attempt in ${formatWait(this.guard.waitMs())} at the earliest, so that the BMC does not ban this host`,
      );
      this.logger.warn({ bmc: this.origin, user: this.options.username }, error.message);
      throw error;
    }
    throw this.answerError(answer, 'login');
  }

  /** One HTTP exchange bounded by the request timeout. Never puts the password in an error. */
  private async send(
    method: 'GET' | 'POST',
    path: string,
    what: string,
    token: string | null,
    body?: string,
  ): Promise<{ status: number; text: string; location: string | null }> {
    const controller = new AbortController();
    const timeout = new TpmError(
      'TIMEOUT',
      `the BMC at ${this.origin} did not answer ${what} within ${formatWait(this.timeoutMs)}`,
    );
    const timer = this.clock.setTimeout(() => controller.abort(timeout), this.timeoutMs);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      const response: FetchResponse = await this.fetch(new URL(path, this.base).toString(), {
        method,
        headers,
        signal: controller.signal,
        redirect: 'manual',
        ...(body !== undefined ? { body } : {}),
      });
      const text = await withAbort(response.text(), controller.signal);
      return { status: response.status, text, location: response.headers.get('location') };
    } catch (error) {
      if (controller.signal.aborted) throw timeout;
      if (error instanceof TpmError) throw error;
      throw new TpmError('BMC', `cannot reach the BMC at ${this.origin} (${what}): ${errorMessage(error)}`, { cause: error });
    } finally {
      this.clock.clearTimeout(timer);
    }
  }

  private answerError(answer: { status: number; text: string; location: string | null }, what: string): TpmError {
    if (answer.status >= 300 && answer.status < 400) {
      return new TpmError(
        'CONFIG',
        `the BMC redirects ${what} to ${answer.location ?? 'another address'}: set board.bmc.url to the https:// address`,
      );
    }
    if (answer.status === 404 && this.base.protocol === 'http:') {
      return new TpmError('BMC_UNSUPPORTED', `the BMC does not know ${what} (HTTP 404): ${FIRMWARE_1_MESSAGE}`);
    }
    return new BmcAnswerError(answer.status, errorAnswerMessage(answer.text), what);
  }
}
