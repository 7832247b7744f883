import { displayUrl } from '../../util/redact.js';
import { systemClock, type Clock } from '../../util/clock.js';
import { TpmError } from '../../util/errors.js';
import { silentLogger, type Logger } from '../../util/logger.js';
import type {
  BoardDriver,
  BoardInfo,
  BoardType,
  BmcLoginControl,
  FanReading,
  NodeTimes,
  PowerReading,
  UsbReading,
} from '../types.js';
import { FIRMWARE_1_MESSAGE, TPI2_NODES, expectOk, isFirmware1PowerAnswer, parsePowerAnswer } from './api.js';
import { BmcFeatures } from './features.js';
import { checkNode, parseJson } from './http-util.js';
import { createHttpsFetch, type FetchLike } from './https-fetch.js';
import { DEFAULT_LOGIN_POLICY, LoginGuard, type LoginGuardPolicy } from './login-guard.js';
import { fileLoginRecord, memoryLoginRecord } from './login-record.js';
import { bmcTrust } from './pinning.js';
import { API_PATH, BmcSession } from './session.js';

export interface Tpi2DriverOptions {
  /** Base URL of the BMC, https only, e.g. https://turingpi.local (config board.bmc.url). */
  url: string;
  username: string;
  /** null: no login is attempted (only a BMC that asks for none works). */
  password: string | null;
  /** SHA-256 fingerprint of the BMC's certificate (board.bmc.fingerprint). */
  fingerprint?: string | null;
  /** The BMC's own certificate (pinned) or its CA: a PEM path or the PEM itself (board.bmc.ca). */
  ca?: string | null;
  /** Accept any certificate (board.bmc.insecure). */
  insecure?: boolean;
  /** The bridge's config file, named in the messages that say how to trust a new certificate. */
  configFile?: string;
  /**
   * WHATWG-style fetch. Default: a node:https transport honouring the trust options. An
   * injected fetch is used as is: trusting the certificate is then its business.
   */
  fetch?: FetchLike;
  /** Where the count of failed logins survives restarts (state_dir); default: memory only. */
  stateDir?: string | null;
  clock?: Clock;
  logger?: Logger;
  /** Each request (and its answer) must complete within this; default 10 s. */
  requestTimeoutMs?: number;
  loginPolicy?: Partial<LoginGuardPolicy>;
  /** bmcd forgets a token 10800 s after its last use. */
  tokenLifetimeMs?: number;
  /** For the simulator: board type and model shown in discovery. */
  type?: BoardType;
  model?: string;
}

/** bmcd forgets a token this long after its last use (its default `token_expires`: 10800 s). */
export const TOKEN_LIFETIME_MS = 10_800_000;
/** Each request to the BMC and its answer; a reset is answered after its power cycle, about 1.2 s. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/**
 * Turing Pi 2 / 2.5 through the BMC's HTTPS API, firmware 2.x (docs/hardware.md "Turing Pi 2 /
 * 2.5: the BMC API"). Node numbers are 1-based here and in `nodeN=`; reset takes the zero-based index.
 */
export class Tpi2Driver implements BoardDriver {
  readonly info: BoardInfo;
  readonly login: BmcLoginControl;
  private readonly session: BmcSession;
  private readonly logger: Logger;
  private readonly closeTransport: () => void;
  private readonly features: BmcFeatures;

  constructor(options: Tpi2DriverOptions) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw new TpmError('CONFIG', `board.bmc.url is not a URL: ${displayUrl(options.url)}`);
    }
    if (base.protocol === 'http:') {
      // An http:// address tells nothing of the firmware: bmcd 2.x answers port 80 with a redirect.
      throw new TpmError(
        'CONFIG',
        'board.bmc.url must be https:// (got http://): firmware 2.x serves its API over HTTPS (plain HTTP only ' +
          'redirects there), and the password is never sent in clear. A BMC with firmware 1.x (plain HTTP only, ' +
          'no login) is not supported: upgrade it to firmware 2.x (https://docs.turingpi.com)',
      );
    }
    if (base.protocol !== 'https:') {
      throw new TpmError('CONFIG', `board.bmc.url must start with https:// (got ${base.protocol})`);
    }
    const clock = options.clock ?? systemClock;
    let fetch: FetchLike;
    if (options.fetch) {
      fetch = options.fetch;
      this.closeTransport = () => {};
    } else {
      const trust = bmcTrust({
        fingerprint: options.fingerprint ?? null,
        ca: options.ca ?? null,
        insecure: options.insecure === true,
        configFile: options.configFile,
      });
      const transport = createHttpsFetch({ trust });
      fetch = transport.fetch;
      this.closeTransport = transport.close;
    }
    const guard = new LoginGuard(
      clock,
      { bmc: base.origin, username: options.username, password: options.password ?? '' },
      options.stateDir ? fileLoginRecord(options.stateDir) : memoryLoginRecord(),
      { ...DEFAULT_LOGIN_POLICY, ...options.loginPolicy },
    );
    this.session = new BmcSession({
      base,
      username: options.username,
      password: options.password,
      fetch,
      clock,
      logger: options.logger ?? silentLogger(),
      timeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      tokenLifetimeMs: options.tokenLifetimeMs ?? TOKEN_LIFETIME_MS,
      guard,
    });
    this.login = {
      status: () => guard.status(),
      onChange: (listener) => guard.onChange(listener),
      retry: (force) => this.session.retryLogin(force),
    };
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
    this.logger = options.logger ?? silentLogger();
    this.features = new BmcFeatures((query, what) => this.call(query, what), this.info, this.logger);
  }

  /**
   * Recognises firmware 1.x with one unauthenticated power get (an absent Authorization
   * header is not a failed login for bmcd), logs in when asked to, then asks the BMC which
   * firmware it runs and which of the optional calls it has (features.ts).
   */
  async open(): Promise<void> {
    const probe = await this.session.send('GET', `${API_PATH}?opt=get&type=power`, 'power get', null);
    if (probe.status === 401) {
      this.session.authRequired = true;
      await this.readPower();
    } else if (probe.status === 200) {
      const body = parseJson(probe.text, 'power get');
      if (isFirmware1PowerAnswer(body)) throw new TpmError('BMC_UNSUPPORTED', FIRMWARE_1_MESSAGE);
      parsePowerAnswer(body);
      // A BMC that serves us without credentials (bmcd trusts its own loopback).
      this.session.authRequired = false;
    } else {
      throw this.session.answerError(probe, 'power get');
    }
    await this.features.discover();
    const { firmware, bmcd } = this.info;
    this.logger.info({ bmc: this.session.origin, firmware, bmcd }, 'connected to the Turing Pi 2 BMC');
  }

  async close(): Promise<void> {
    this.session.forget();
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
        `node ${node} did not switch ${on ? 'on' : 'off'}: the BMC reports ` +
          `${after === null ? 'Unknown' : after ? 'on' : 'off'} after the change`,
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

  private call(query: string, what: string): Promise<unknown> {
    return this.session.call(query, what);
  }
}
