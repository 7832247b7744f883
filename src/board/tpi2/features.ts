import { TpmError, errorMessage } from '../../util/errors.js';
import type { Logger } from '../../util/logger.js';
import type { BoardInfo, FanReading, UsbReading } from '../types.js';
import { BmcAnswerError, TPI2_NODES, expectOk, parseCoolingAnswer, parseNodeInfo, type NodeInfoEntry } from './api.js';
import { firmwareLine, isMissingCall, lacksNodeInfoAndCooling, parseAboutAnswer } from './firmware.js';
import { parseUsbAnswer, usbModeNumber, usbModesFor } from './usb.js';

/** One authenticated API call of the driver (its queue, token and errors). */
export type BmcCall = (query: string, what: string) => Promise<unknown>;

/** The device bmcd names after the board's pwm-fan and accepts in cooling set (docs/turing-pi-2.md "The fan"). */
const SYSTEM_FAN = 'system fan';

/** Errors that say nothing about whether a call exists: the BMC is unreachable or refuses us. */
function isBoardFailure(error: unknown): boolean {
  return error instanceof TpmError && ['BMC_AUTH', 'TIMEOUT', 'BMC_UNSUPPORTED'].includes(error.code);
}

/**
 * The calls beyond power and reset, which the firmware lines do not all have
 * (docs/turing-pi-2.md "Firmware lines"): about, node_info, cooling, usb. Found out once at
 * open, from the bmcd version and from what answers 400 "Invalid `type` parameter"; a call the
 * firmware lacks is never a board failure and is not asked again.
 */
export class BmcFeatures {
  private readonly lacking = new Set<string>();
  private fanDevice: string | null = null;

  constructor(
    private readonly call: BmcCall,
    private readonly info: BoardInfo,
    private readonly logger: Logger,
  ) {}

  /** Asks the BMC what it is and has. Throws only what makes the board unusable (login, time-out). */
  async discover(): Promise<void> {
    const about = await this.tolerant('about', () => this.call('opt=get&type=about', 'about get'));
    if (about !== undefined) {
      const facts = parseAboutAnswer(about);
      this.info.bmcd = facts.bmcd;
      this.info.firmware = firmwareLine(facts.bmcd);
      this.info.revision = facts.boardRevision;
      if (lacksNodeInfoAndCooling(facts.bmcd)) {
        // bmcd 2.0.x: node_info and cooling answer 400; not even asked once.
        this.lacking.add('node_info');
        this.lacking.add('cooling');
      }
    }
    const nodeInfo = await this.tolerant('node_info', () => this.readNodeInfo());
    this.info.reportsPowerOnTime = !this.lacking.has('node_info');
    this.info.nodeNames = nodeInfo?.map((entry) => entry.name) ?? [];
    const fans = await this.tolerant('cooling', async () =>
      parseCoolingAnswer(await this.call('opt=get&type=cooling', 'cooling get')),
    );
    // A 2.4 board answers []; the 2.5 board's fan is "system fan". Other cooling devices
    // (a CPU's, named cooling_deviceN) are not the board's fan.
    this.fanDevice = fans?.find((fan) => fan.device === SYSTEM_FAN && fan.maxSpeed > 0)?.device ?? null;
    this.info.hasFans = this.fanDevice !== null;
    const usb = await this.tolerant('usb', async () => parseUsbAnswer(await this.call('opt=get&type=usb', 'usb get')));
    this.info.usbModes = usb ? usbModesFor(usb.busType) : [];
    this.logger.info(
      {
        firmware: this.info.firmware ?? null,
        bmcd: this.info.bmcd ?? null,
        revision: this.info.revision ?? null,
        lacks: [...this.lacking],
        fan: this.info.hasFans,
        usb: this.info.usbModes,
      },
      'BMC firmware and calls',
    );
  }

  /** node_info, or null where the firmware lacks it (found out at open or now). */
  async readNodeInfo(): Promise<NodeInfoEntry[] | null> {
    const entries = await this.optional('node_info', async () =>
      parseNodeInfo(await this.call('opt=get&type=node_info', 'node_info get')),
    );
    if (entries === undefined) {
      this.info.reportsPowerOnTime = false;
      return null;
    }
    this.info.nodeNames = entries.map((entry) => entry.name);
    return entries;
  }

  async readFan(): Promise<FanReading> {
    const device = this.requireFan();
    const fans = parseCoolingAnswer(await this.call('opt=get&type=cooling', 'cooling get'));
    const fan = fans.find((f) => f.device === device);
    if (!fan) throw new TpmError('BMC', `the BMC no longer lists its fan "${device}" in cooling`);
    return fan;
  }

  /** Sets the cooling level and verifies it by reading it back. */
  async setFanLevel(level: number): Promise<FanReading> {
    const device = this.requireFan();
    const before = await this.readFan();
    if (!Number.isInteger(level) || level < 0 || level > before.maxSpeed) {
      throw new TpmError('BAD_COMMAND', `fan level must be 0-${before.maxSpeed} (got ${level})`);
    }
    const what = `cooling set of "${device}" to ${level}`;
    expectOk(await this.call(`opt=set&type=cooling&device=${encodeURIComponent(device)}&speed=${level}`, what), what);
    const after = await this.readFan();
    if (after.speed !== level) {
      const reported = `the BMC reports ${after.speed} after the change`;
      throw new TpmError('VERIFY', `the fan did not change to level ${level}: ${reported}`);
    }
    return after;
  }

  async readUsb(): Promise<UsbReading> {
    this.requireUsb();
    return parseUsbAnswer(await this.call('opt=get&type=usb', 'usb get')).reading;
  }

  /** Routes the board's USB port to `node` as host or device (never flash), verified by reading back. */
  async setUsb(node: number, mode: 'host' | 'device'): Promise<UsbReading> {
    const modes = this.requireUsb();
    if (!Number.isInteger(node) || node < 1 || node > TPI2_NODES) {
      throw new TpmError('BAD_COMMAND', `node must be 1-${TPI2_NODES} on a Turing Pi 2 (got ${node})`);
    }
    if (!modes.includes(mode)) {
      throw new TpmError('BAD_COMMAND', `USB mode must be ${modes.join(' or ')} on this board (got ${mode})`);
    }
    const what = `usb set of node ${node} to ${mode}`;
    // The BMC numbers nodes from 0 here, as in reset.
    expectOk(await this.call(`opt=set&type=usb&node=${node - 1}&mode=${usbModeNumber(mode)}`, what), what);
    const after = await this.readUsb();
    if (after.node !== node || after.mode !== mode || after.route !== 'port') {
      const reported = `the BMC reports node ${after.node} (${after.mode}, ${after.route})`;
      throw new TpmError('VERIFY', `the USB did not switch to node ${node} (${mode}): ${reported}`);
    }
    return after;
  }

  private requireFan(): string {
    if (this.fanDevice === null) {
      throw new TpmError('UNSUPPORTED', 'this board has no fan the BMC can set (a 2.5 board with firmware 2.1 has)');
    }
    return this.fanDevice;
  }

  private requireUsb(): ('host' | 'device')[] {
    const modes = (this.info.usbModes ?? []).filter((m): m is 'host' | 'device' => m !== 'flash');
    if (modes.length === 0) throw new TpmError('UNSUPPORTED', 'the BMC offers no USB switch on this board');
    return modes;
  }

  /**
   * Runs an optional call. A 400 "Invalid `type` parameter" means the firmware lacks it: it is
   * remembered and never asked again (undefined). Any other error propagates.
   */
  private async optional<T>(type: string, ask: () => Promise<T>): Promise<T | undefined> {
    if (this.lacking.has(type)) return undefined;
    try {
      return await ask();
    } catch (error) {
      if (error instanceof BmcAnswerError && isMissingCall(error.status, error.bmcMessage)) {
        this.lacking.add(type);
        const facts = { call: type, bmcd: this.info.bmcd ?? null };
        this.logger.info(facts, `this BMC firmware has no ${type} call: not asked again`);
        return undefined;
      }
      throw error;
    }
  }

  /** At open: an optional call that fails otherwise (a 500) is left out for this run, with a warning. */
  private async tolerant<T>(type: string, ask: () => Promise<T>): Promise<T | undefined> {
    try {
      return await this.optional(type, ask);
    } catch (error) {
      if (isBoardFailure(error)) throw error;
      this.logger.warn({ call: type }, `the BMC could not answer ${type}, left out: ${errorMessage(error)}`);
      return undefined;
    }
  }
}
