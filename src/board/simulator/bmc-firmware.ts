import type { BmcModel } from './bmc-model.js';

/**
 * What the simulated BMC's firmware has beyond power and reset, per firmware release and board
 * (docs/turing-pi-2.md "Firmware lines", from bmcd's legacy API handlers at v2.0.5 and v2.3.4):
 *
 * | call            | firmware 2.0.5 (bmcd 2.0.5)       | firmware 2.1.0 (bmcd 2.3.4)                         |
 * |-----------------|-----------------------------------|-----------------------------------------------------|
 * | about           | api, version, buildtime,          | the same plus board_model, board_revision, hostname |
 * |                 | buildroot, build_version          |                                                     |
 * | node_info       | 400 Invalid `type` parameter      | [{name, module_name, power_on_time, uart_baud}] x 4 |
 * | cooling get/set | 400 Invalid `type` parameter      | [{device, speed, max_speed}]; [] on a 2.4 board     |
 * | usb get         | [{mode, node, route: UsbA|Bmc}]   | [{mode, node, route: AlternativePort|Bmc, bus_type}] |
 * | usb set mode 3  | panics: bmcd is gone              | panics: bmcd is gone                                |
 * | usb_node1       | 400                               | get: bool; set: 2.5 board only                      |
 */

export type SimulatedFirmware = '2.0.5' | '2.1.0';
export type SimulatedBoardRevision = '2.4' | '2.5';

const BMCD_OF: Record<SimulatedFirmware, string> = { '2.0.5': '2.0.5', '2.1.0': '2.3.4' };
/** The OS release (os-release VERSION) of each image: not the firmware number. */
const OS_OF: Record<SimulatedFirmware, string> = { '2.0.5': '2023.02.4', '2.1.0': '2024.05.1' };
/** The 2.5 board's pwm-fan cooling levels 0..6. */
const FAN_MAX_LEVEL = 6;

/** bmcd's error when node 1's own USB switch is asked of a 2.4 board (an anyhow error without context). */
const V25_ONLY = 'This command is only available on v2.5+ boards';
/** bmcd's error when a node is asked to be USB host on the 2.5 board's hub. */
const HOST_REFUSED = 'Selecting one of the nodes as USB Host role is not supported by the current hardware';

type UsbModeName = 'Host' | 'Device' | 'Flash';
type UsbRouteName = 'Port' | 'Bmc';

/** An answer: the HTTP status and the whole JSON body as text (u64 values are written exactly). */
export type FirmwareAnswer = HttpAnswer | 'crash';
export interface HttpAnswer {
  status: number;
  body: string;
}

/** The firmware's state beyond power: USB switch, fan level, names set on the BMC. */
export class BmcFirmware {
  usb: { node: number; mode: UsbModeName; route: UsbRouteName } = { node: 0, mode: 'Device', route: 'Port' };
  fanLevel = 3;
  /** node_info `name`, set on the BMC by a user; null where unset (the factory state). */
  readonly names: (string | null)[] = [null, null, null, null];
  node1AlternativePort = false;
  /** API calls received, by `type:opt` (power and reset included), for tests. */
  readonly calls = new Map<string, number>();
  /** Calls this build answers 400 although its release has them (fault: a build without them). */
  readonly withheld = new Set<string>();

  constructor(
    readonly release: SimulatedFirmware,
    readonly board: SimulatedBoardRevision,
    private readonly model: BmcModel,
  ) {}

  count(type: string, opt: string): void {
    const key = `${type}:${opt}`;
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
  }

  callsOf(type: string): number {
    return (this.calls.get(`${type}:get`) ?? 0) + (this.calls.get(`${type}:set`) ?? 0);
  }

  get bmcd(): string {
    return BMCD_OF[this.release];
  }

  private get is23(): boolean {
    return this.release === '2.1.0';
  }

  /** A call of `opt`/`type` beyond power and reset, or null when it is not one of these. */
  answer(opt: 'get' | 'set', type: string, query: URLSearchParams): FirmwareAnswer | null {
    const key = `${type}:${opt}`;
    if (this.withheld.has(type)) return null;
    switch (key) {
      case 'about:get':
        return ok(this.about());
      case 'nodeinfo:get':
        // The old call without the underscore: zeros, in every release.
        return ok([{ node1: 0, node2: 0, node3: 0, node4: 0 }]);
      case 'node_info:get':
        return this.is23 ? this.nodeInfo() : null;
      case 'cooling:get':
        return this.is23 ? ok(this.cooling()) : null;
      case 'cooling:set':
        return this.is23 ? this.setCooling(query) : null;
      case 'usb:get':
        return ok([this.usbState()]);
      case 'usb:set':
        return this.setUsb(query);
      case 'usb_node1:get':
        return this.is23 ? ok(this.node1AlternativePort) : null;
      case 'usb_node1:set':
        if (!this.is23) return null;
        if (this.board !== '2.5') return error(500, `Failed to ${V25_ONLY}: ${V25_ONLY}`);
        this.node1AlternativePort = query.has('alternative_port');
        return ok(null);
      default:
        return this.otherCall(key, query);
    }
  }

  /**
   * The calls both releases have that the bridge never makes, answered in their shapes so that
   * the simulated BMC lacks only what bmcd lacks (legacy.rs `api_entry`). reboot and reload
   * restart the simulated bmcd (tokens forgotten); the bridge offers neither (bmcd issue 90).
   */
  private otherCall(key: string, query: URLSearchParams): FirmwareAnswer | null {
    const node = query.get('node');
    const badNode = node === null || !/^[0-3]$/.test(node);
    switch (key) {
      case 'reboot:set':
      case 'reload:set':
        this.model.restart();
        return ok(null);
      case 'network:set':
      case 'clear_usb_boot:set':
        return ok(null);
      case 'usb_boot:set':
      case 'node_to_msd:set':
      case 'uart:set':
        return badNode ? error(400, 'Missing `node` parameter') : ok(null);
      case 'uart:get':
        return badNode ? error(400, 'Missing `node` parameter') : { status: 200, body: '{"response":[{"uart":""}]}' };
      case 'nodeinfo:set':
        return error(501, 'Method type `set` on parameter `nodeinfo` is deprecated');
      case 'sdcard:set':
        return error(501, 'microSD card formatting is not implemented');
      case 'sdcard:get':
        return ok([{ total: 0, use: 0, free: 0 }]);
      case 'info:get':
        return ok({ ip: [], storage: [] });
      case 'other:get': {
        const { api, version, buildtime, buildroot, build_version } = this.about();
        return ok([{ api, version, buildtime, ip: '127.0.0.1', mac: '02:00:00:00:00:01', buildroot, build_version }]);
      }
      default:
        return null;
    }
  }

  private about(): Record<string, string> {
    const common = {
      api: '1.1',
      version: this.bmcd,
      buildtime: '2024-09-03 10:00:00-00:00',
      buildroot: `Buildroot ${OS_OF[this.release]}`,
      build_version: OS_OF[this.release],
    };
    if (!this.is23) return common;
    return {
      board_model: 'Turing Pi 2',
      board_revision: this.board === '2.5' ? '2.5.1' : '2.4',
      hostname: 'turingpi',
      ...common,
    };
  }

  /**
   * bmcd 2.3: power_on_time is the BMC's now minus the time of switch-on, in unsigned 64-bit
   * seconds: a clock stepped back makes it wrap to about 1.8e19, written exactly as serde does.
   */
  private nodeInfo(): FirmwareAnswer {
    const now = BigInt(Math.floor(this.model.bmcNow() / 1000));
    const u64 = (1n << 64n) - 1n;
    const nodes = this.names.map((name, i) => {
      const since = this.model.poweredSince[i];
      const seconds = since === null || since === undefined ? null : (now - BigInt(Math.floor(since / 1000))) & u64;
      const time = seconds === null ? 'null' : seconds.toString();
      return `{"name":${JSON.stringify(name)},"module_name":null,"power_on_time":${time},"uart_baud":null}`;
    });
    return { status: 200, body: `{"response":[{"result":[${nodes.join(',')}]}]}` };
  }

  private cooling(): { device: string; speed: number; max_speed: number }[] {
    // A 2.4 board has no pwm-fan: bmcd lists no cooling device.
    return this.board === '2.5' ? [{ device: 'system fan', speed: this.fanLevel, max_speed: FAN_MAX_LEVEL }] : [];
  }

  private setCooling(query: URLSearchParams): FirmwareAnswer {
    const device = query.get('device');
    if (device === null) return error(400, 'Missing `device` parameter');
    const speed = query.get('speed');
    if (speed === null) return error(400, 'Missing `speed` parameter');
    if (!/^[0-9]+$/.test(speed)) return error(400, '`speed` parameter is not a number');
    if (!this.cooling().some((fan) => fan.device === device)) {
      return error(500, `Failed to set Cooling state: cooling device: \`${device}\` does not exist`);
    }
    if (Number(speed) > FAN_MAX_LEVEL) {
      const reason = `given speed '${speed}' exceeds maximum speed of '${FAN_MAX_LEVEL}'`;
      return error(500, `Failed to set Cooling state: ${reason}`);
    }
    this.fanLevel = Number(speed);
    return ok(null);
  }

  private usbState(): Record<string, string> {
    const route = this.usb.route === 'Bmc' ? 'Bmc' : this.is23 ? 'AlternativePort' : 'UsbA';
    const state: Record<string, string> = { mode: this.usb.mode, node: `Node ${this.usb.node + 1}`, route };
    if (this.is23) state.bus_type = this.board === '2.5' ? 'Usb hub' : 'Single bus';
    return state;
  }

  private setUsb(query: URLSearchParams): FirmwareAnswer {
    const index = nodeParam(query);
    if (typeof index !== 'number') return index;
    const modeText = query.get('mode');
    if (modeText === null) return error(400, 'Missing `mode` parameter');
    if (!/^-?[0-9]+$/.test(modeText)) return error(400, 'Parameter `mode` is not a number');
    const mode = Number(modeText);
    // UsbMode::from_api_mode: `unreachable!()` for bits 0-1 = 3: the handler panics.
    if ((mode & 3) === 3) return 'crash';
    const modeName: UsbModeName = (['Host', 'Device', 'Flash'] as const)[mode & 3]!;
    // A 2.5 board's hub (bmcd 2.3): every node is a device already; host mode is refused.
    if (this.is23 && this.board === '2.5' && modeName === 'Host') {
      return error(500, `Failed to set USB mode: ${HOST_REFUSED}`);
    }
    this.usb = { node: index, mode: modeName, route: (mode >> 2) & 1 ? 'Bmc' : 'Port' };
    return ok(null);
  }
}

/**
 * bmcd's `node` parameter (get_node_param): an i32, then `value as u8` into a node id 0-3, so the
 * cast wraps: 256 is node 1 and -255 node 2. Answers the index, or bmcd's 400.
 */
export function nodeParam(query: URLSearchParams): number | HttpAnswer {
  const node = query.get('node');
  if (node === null) return error(400, 'Missing `node` parameter');
  // Rust's i32::from_str: an optional sign and decimal digits, within the i32 range.
  const value = /^[+-]?[0-9]+$/.test(node) ? Number(node) : NaN;
  if (!Number.isSafeInteger(value) || value < -(2 ** 31) || value >= 2 ** 31) {
    return error(400, 'Parameter `node` is not a number');
  }
  const index = value & 0xff;
  if (index > 3) return error(400, 'Parameter `node` is out of range 0..3 of node IDs');
  return index;
}

function ok(result: unknown): FirmwareAnswer {
  return { status: 200, body: JSON.stringify({ response: [{ result: result === null ? 'ok' : result }] }) };
}

function error(status: number, message: string): HttpAnswer {
  return { status, body: JSON.stringify({ response: [{ result: message }] }) };
}
