import { TpmError } from '../../util/errors.js';
import { describeShape } from './api.js';

/**
 * What the BMC says about its own software, and which calls its firmware line has
 * (docs/turing-pi-2.md "Firmware lines"). Two lines are in use: firmware 2.0.5 carries bmcd
 * 2.0.5, firmware 2.1.0 carries bmcd 2.3.4. The line is told from the bmcd version in
 * `about`, never from `build_version`, which is the OS release (e.g. "2024.05.1").
 */

export interface BmcAbout {
  /** bmcd's own version (Cargo package version), e.g. "2.3.4"; null when the BMC does not say. */
  bmcd: string | null;
  /** The OS release of the BMC image (os-release VERSION); not the firmware release. */
  os: string | null;
  /** From the BMC's device tree, bmcd 2.3 and later: e.g. "Turing Pi 2" and "2.5.1". */
  boardModel: string | null;
  boardRevision: string | null;
}

const VERSION = /^(\d+)\.(\d+)\.(\d+)/;

function text(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' && value !== 'unknown' ? value.trim() : null;
}

/**
 * `opt=get&type=about`: `{"response":[{"result":{...}}]}`. bmcd up to 2.3.4 puts its own
 * version in `version` and the OS release in `build_version`; bmcd 2.3.5 and later put the OS
 * release in `version` and their own in `bmcd_version`. Both shapes are taken.
 */
export function parseAboutAnswer(body: unknown): BmcAbout {
  const response = (body as { response?: unknown } | null)?.response;
  const result = Array.isArray(response) ? (response[0] as { result?: unknown } | undefined)?.result : undefined;
  if (typeof result !== 'object' || result === null || Array.isArray(result)) {
    throw new TpmError('BMC', `unexpected answer to about: ${describeShape(body)}`);
  }
  const about = result as Record<string, unknown>;
  const newShape = 'bmcd_version' in about;
  return {
    bmcd: text(newShape ? about.bmcd_version : about.version),
    os: text(newShape ? about.version : about.build_version),
    boardModel: text(about.board_model),
    boardRevision: text(about.board_revision),
  };
}

/**
 * The firmware line of a bmcd version: bmcd 2.0.x is firmware 2.0.x (the release and its bmcd
 * share the number); bmcd 2.1 to 2.3 shipped as firmware 2.1 (2.1.0 carries bmcd 2.3.4).
 * null for anything else: the line is then unknown and the calls are found out by asking.
 */
export function firmwareLine(bmcd: string | null): string | null {
  const match = bmcd === null ? null : VERSION.exec(bmcd);
  if (!match) return null;
  const [major, minor] = [Number(match[1]), Number(match[2])];
  if (major !== 2) return null;
  if (minor === 0) return `${match[1]}.${match[2]}.${match[3]}`;
  if (minor >= 1 && minor <= 3) return '2.1';
  return null;
}

/**
 * bmcd 2.0.x has neither node_info nor cooling (both answer 400 "Invalid `type` parameter").
 * For any other version the calls are asked once and a 400 settles it.
 */
export function lacksNodeInfoAndCooling(bmcd: string | null): boolean {
  const match = bmcd === null ? null : VERSION.exec(bmcd);
  return match !== null && match[1] === '2' && match[2] === '0';
}

/** bmcd's answer to a call its firmware does not have: 400 "Invalid `type` parameter <type>". */
export function isMissingCall(status: number, message: string): boolean {
  return status === 400 && /^Invalid `type` parameter/.test(message);
}
