import { TpmError } from '../../util/errors.js';
import type { UsbMode, UsbReading } from '../types.js';
import { describeShape, TPI2_NODES } from './api.js';

/**
 * The BMC's USB switch, `type=usb` (docs/turing-pi-2.md "Where the board's USB goes"). get answers
 * `[{"mode":"Host"|"Device"|"Flash","node":"Node 1","route":...}]`, route `UsbA` (bmcd 2.0.5) or
 * `AlternativePort` (bmcd 2.3) for the board's port and `Bmc` for the BMC; bmcd 2.3 adds
 * `bus_type` ("Single bus" on a 2.4 board, "Usb hub" on a 2.5 board).
 */

export interface UsbAnswer {
  reading: UsbReading;
  busType: string | null;
}

const MODES: Record<string, UsbMode> = { Host: 'host', Device: 'device', Flash: 'flash' };
const ROUTES: Record<string, UsbReading['route']> = { UsbA: 'port', AlternativePort: 'port', Bmc: 'bmc' };

export function parseUsbAnswer(body: unknown): UsbAnswer {
  const response = (body as { response?: unknown } | null)?.response;
  const result = Array.isArray(response) ? (response[0] as { result?: unknown } | undefined)?.result : undefined;
  const entry = Array.isArray(result) ? (result[0] as Record<string, unknown> | undefined) : undefined;
  const mode = typeof entry?.mode === 'string' ? MODES[entry.mode] : undefined;
  const route = typeof entry?.route === 'string' ? ROUTES[entry.route] : undefined;
  const node = typeof entry?.node === 'string' ? /^Node ([1-9])$/.exec(entry.node) : null;
  if (!mode || !route || !node || Number(node[1]) > TPI2_NODES) {
    throw new TpmError('BMC', `unexpected answer to usb get: ${describeShape(body)}`);
  }
  return {
    reading: { node: Number(node[1]), mode, route },
    busType: typeof entry?.bus_type === 'string' ? entry.bus_type : null,
  };
}

/**
 * What a node's USB can be set to. On a 2.5 board ("Usb hub") every node is a device of a hub
 * at once and bmcd refuses host mode, so the node choice does nothing there: no control.
 */
export function usbModesFor(busType: string | null): UsbMode[] {
  return busType === 'Usb hub' ? [] : ['host', 'device'];
}

/**
 * The numeric mode of `opt=set&type=usb`: bits 0-1 host (0) or device (1), bit 2 clear (the
 * board's port, not the BMC). Flash (2) is never sent: it raises the node's usbboot pin and its
 * next reset boots into flashing; 3 is never sent: bmcd 2.0.5 to 2.3.x panic on it.
 */
export function usbModeNumber(mode: 'host' | 'device'): 0 | 1 {
  if (mode === 'host') return 0;
  if (mode === 'device') return 1;
  throw new TpmError('BAD_COMMAND', `USB mode must be host or device (got ${String(mode)})`);
}
