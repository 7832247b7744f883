import type { BmcLoginControl, BmcLoginStatus, BoardDriver } from '../board/types.js';
import type { MqttConnection } from '../mqtt/connection.js';
import type { Topics } from '../mqtt/topics.js';
import type { EventInput, Origin } from '../power/types.js';
import { InputError, knownKeys } from './input.js';
import type { RequestTable } from './request-table.js';

export interface BmcLoginDeps {
  driver: BoardDriver;
  connection: MqttConnection;
  topics: Topics;
  event(input: EventInput): void;
}

/** What `<b>/board/bmc` carries (retained JSON; docs/topics.md). */
export interface BmcStatePayload {
  login: BmcLoginStatus['login'];
  reason: string | null;
  failures: number;
  /** The firmware line and bmcd version the board reported (null until known). */
  firmware: string | null;
  bmcd: string | null;
}

/**
 * The BMC login of a Turing Pi 2 in MQTT (docs/turing-pi-2.md, "Logins and bans"): its state
 * as `<b>/board/bmc` for Home Assistant's "BMC login" problem sensor, one event per change,
 * and the retry a person asks for (`bridge/request/bmc/login`, the "Retry BMC login" button).
 */
export class BmcLoginReporter {
  private last: BmcLoginStatus | null = null;
  private started = false;

  constructor(
    private readonly deps: BmcLoginDeps,
    private readonly control: BmcLoginControl,
  ) {
    // The driver may have said something while it opened, before MQTT was up.
    this.last = control.status();
    control.onChange((status) => this.changed(status));
  }

  async start(): Promise<void> {
    this.started = true;
    if (this.last) await this.publish(this.last);
  }

  requests(): RequestTable {
    return { 'bmc/login': (request, origin) => this.request(request, origin) };
  }

  /** `bmc/login` of bridge/request: `{}` (or `{"force": true}`, even at the brink of a ban). */
  async request(request: Record<string, unknown>, origin: Origin): Promise<BmcStatePayload | null> {
    knownKeys(request, ['force']);
    if (request.force !== undefined && typeof request.force !== 'boolean')
      throw new InputError('"force" must be true or false');
    const force = request.force === true;
    this.deps.event({
      type: 'bmc',
      action: 'login',
      ...origin,
      result: 'progress',
      message: `login retry asked for${force ? ' (forced)' : ''}`,
    });
    const status = await this.control.retry(force);
    if (status && status.login !== 'ok') throw new InputError(`the BMC login failed: ${status.reason ?? status.login}`);
    return status ? this.payload(status) : null;
  }

  /** After each poll (the firmware is known only once the BMC opened, after the login). Never throws. */
  async poll(): Promise<void> {
    if (this.started && this.last) await this.publish(this.last).catch(() => undefined);
  }

  private changed(status: BmcLoginStatus): void {
    const before = this.last;
    this.last = status;
    if (!this.started) return;
    if (status.login === 'ok' && before !== null && before.login !== 'ok') {
      this.deps.event({
        type: 'bmc',
        action: 'login',
        source: 'startup',
        result: 'ok',
        message: 'logged in to the BMC again',
      });
    } else if (status.login !== 'ok') {
      this.deps.event({
        type: 'bmc',
        action: 'login',
        source: 'startup',
        result: 'error',
        error: status.reason ?? `login ${status.login}`,
      });
    }
    void this.publish(status).catch(() => undefined);
  }

  private payload(status: BmcLoginStatus): BmcStatePayload {
    // firmware and bmcd: what the BMC's `about` said at the last open (null until then).
    const { info } = this.deps.driver;
    return {
      login: status.login,
      reason: status.reason,
      failures: status.failures,
      firmware: info.firmware ?? null,
      bmcd: info.bmcd ?? null,
    };
  }

  private async publish(status: BmcLoginStatus): Promise<void> {
    await this.deps.connection.publishState(this.deps.topics.boardBmc, JSON.stringify(this.payload(status)));
  }
}
