import { TpmError } from '../../util/errors.js';
import type { FanReading } from '../types.js';

/**
 * The shapes of the BMC's legacy API (docs/hardware.md "Calls the driver makes"). Every answer is
 * `{"response":[{"result": ...}]}`; anything else is reported with its shape, never guessed.
 */

export const TPI2_NODES = 4;

export const FIRMWARE_1_MESSAGE =
  'the BMC runs firmware 1.x (plain HTTP, numeric power values), which this bridge does not support: ' +
  'upgrade the BMC to firmware 2.x (https://docs.turingpi.com)';

/** A compact description of a JSON value's shape for error messages: `{response:[{result:string}]}`. */
export function describeShape(value: unknown, depth = 0): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    if (depth >= 3) return '[...]';
    return value.length === 0 ? '[]' : `[${describeShape(value[0], depth + 1)}${value.length > 1 ? ',...' : ''}]`;
  }
  if (typeof value === 'object') {
    if (depth >= 3) return '{...}';
    const entries = Object.entries(value as Record<string, unknown>).slice(0, 6);
    return `{${entries.map(([key, v]) => `${key}:${describeShape(v, depth + 1)}`).join(',')}}`;
  }
  return typeof value;
}

function unexpected(what: string, body: unknown): TpmError {
  const shape = describeShape(body);
  return new TpmError(
    'BMC',
    `unexpected answer to ${what}: ${shape.length > 200 ? `${shape.slice(0, 200)}...` : shape}`,
  );
}

/** The first element of `response`, or throws describing the shape. */
function firstResponse(body: unknown, what: string): Record<string, unknown> {
  const response = (body as { response?: unknown } | null)?.response;
  if (!Array.isArray(response) || response.length === 0 || typeof response[0] !== 'object' || response[0] === null) {
    throw unexpected(what, body);
  }
  return response[0] as Record<string, unknown>;
}

/** Firmware 1.x answers power get with numbers and no `result` (docs/hardware.md "Transport and certificate"). */
export function isFirmware1PowerAnswer(body: unknown): boolean {
  const response = (body as { response?: unknown } | null)?.response;
  if (!Array.isArray(response) || typeof response[0] !== 'object' || response[0] === null) return false;
  const first = response[0] as Record<string, unknown>;
  return !('result' in first) && typeof first.node1 === 'number';
}

/** `{"response":[{"result":[{"node1":"1",...}]}]}` -> power per node; "Unknown" -> null. */
export function parsePowerAnswer(body: unknown): (boolean | null)[] {
  if (isFirmware1PowerAnswer(body)) throw new TpmError('BMC_UNSUPPORTED', FIRMWARE_1_MESSAGE);
  const result = firstResponse(body, 'power get').result;
  const states = Array.isArray(result) ? result[0] : undefined;
  if (typeof states !== 'object' || states === null) throw unexpected('power get', body);
  const power: (boolean | null)[] = [];
  for (let node = 1; node <= TPI2_NODES; node++) {
    const value = (states as Record<string, unknown>)[`node${node}`];
    if (value === '1') power.push(true);
    else if (value === '0') power.push(false);
    else if (value === 'Unknown') power.push(null);
    else {
      throw new TpmError(
        'BMC',
        `unexpected power value ${JSON.stringify(value) ?? 'undefined'} for node ${node} in ${describeShape(body)}`,
      );
    }
  }
  return power;
}

/** `{"response":[{"result":"ok"}]}`; anything else is an error with the BMC's words. */
export function expectOk(body: unknown, what: string): void {
  const result = firstResponse(body, what).result;
  if (result === 'ok') return;
  if (typeof result === 'string') throw new TpmError('BMC', `the BMC refused ${what}: ${result}`);
  throw unexpected(what, body);
}

/**
 * bmcd computes power_on_time as now minus the time of switch-on in unsigned 64-bit seconds:
 * after the BMC's clock steps back it wraps to about 1.8e19, and after the clock is set from
 * 1970 by NTP it reads as decades. Anything over ten years is no time a slot has been on.
 */
const MAX_POWER_ON_SECONDS = 10 * 366 * 24 * 3600;

function plausiblePowerOnSeconds(value: unknown): number | null {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_POWER_ON_SECONDS) return null;
  return Math.floor(value);
}

export interface NodeInfoEntry {
  /** Seconds since the BMC switched the slot on; null when off or when the value makes no sense. */
  powerOnSeconds: number | null;
  /** The name a user gave the node on the BMC (node_info `name`), null where unset. */
  name: string | null;
}

/**
 * node_info (bmcd 2.3+): per node `{name, module_name, power_on_time, uart_baud}`, nulls where
 * unknown (docs/turing-pi-2.md). Taken as a list in node order or as an object keyed
 * node1..node4. A power_on_time that makes no sense is unknown, never an error.
 */
export function parseNodeInfo(body: unknown): NodeInfoEntry[] {
  const result = firstResponse(body, 'node_info').result;
  const entries: unknown[] = [];
  if (Array.isArray(result)) entries.push(...result.slice(0, TPI2_NODES));
  else if (typeof result === 'object' && result !== null) {
    for (let node = 1; node <= TPI2_NODES; node++) entries.push((result as Record<string, unknown>)[`node${node}`]);
  } else throw unexpected('node_info', body);
  if (entries.length !== TPI2_NODES) throw unexpected('node_info', body);
  return entries.map((entry) => {
    if (typeof entry !== 'object' || entry === null || !('power_on_time' in entry)) throw unexpected('node_info', body);
    const { power_on_time: seconds, name } = entry as { power_on_time: unknown; name?: unknown };
    return {
      powerOnSeconds: plausiblePowerOnSeconds(seconds),
      name: typeof name === 'string' && name.trim() !== '' ? name.trim().slice(0, 64) : null,
    };
  });
}

/** cooling: `[{device, speed, max_speed}]` (2.5 boards). */
export function parseCoolingAnswer(body: unknown): FanReading[] {
  const result = firstResponse(body, 'cooling').result;
  if (!Array.isArray(result)) throw unexpected('cooling', body);
  return result.map((fan) => {
    const { device, speed, max_speed: maxSpeed } = (fan ?? {}) as Record<string, unknown>;
    if (typeof device !== 'string' || typeof speed !== 'number' || typeof maxSpeed !== 'number') {
      throw unexpected('cooling', body);
    }
    return { device, speed, maxSpeed };
  });
}

/** The message of an error answer `{"response":[{"result":"<message>"}]}`, else the text itself. */
export function errorAnswerMessage(text: string): string {
  try {
    const result = firstResponse(JSON.parse(text), 'error').result;
    if (typeof result === 'string') return result;
  } catch {
    // not the JSON error shape: fall through to the text
  }
  const trimmed = text.trim();
  return trimmed.length > 200 ? `${trimmed.slice(0, 200)}...` : trimmed || '(empty body)';
}

/** An HTTP error answer of the BMC: its status and message kept, so callers can tell a missing call. */
export class BmcAnswerError extends TpmError {
  constructor(
    readonly status: number,
    readonly bmcMessage: string,
    what: string,
  ) {
    super('BMC', `the BMC answered HTTP ${status} to ${what}: ${bmcMessage}`);
  }
}
