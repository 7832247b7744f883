import { NODE_ACTIONS, parseActionName, type NodeAction } from '../power/types.js';

/** docs/topics.md: a payload over 1 KiB is refused before it is read. */
export const MAX_PAYLOAD_BYTES = 1024;

export class InputError extends Error {}

/**
 * What a command handler is given for a message dropped unread for its size (src/mqtt/packet-limit.ts):
 * the size it had. payloadText refuses it as it refuses any payload over 1 KiB, so the handler
 * answers as for any bad input: one error event (and a response for a request). Its own type, so
 * that a handler can only read a payload through payloadText.
 */
export class UnreadPayload {
  constructor(readonly bytes: number) {}
}

/** A command's payload as its handler gets it: the bytes, or the size of a message too big to read. */
export type CommandPayload = Buffer | UnreadPayload;

function tooBig(bytes: number): InputError {
  return new InputError(`payload of ${bytes} bytes refused: at most ${MAX_PAYLOAD_BYTES} bytes`);
}

/** The text of a command payload, or an InputError a person understands. */
export function payloadText(payload: CommandPayload): string {
  if (payload instanceof UnreadPayload) throw tooBig(payload.bytes);
  if (payload.length > MAX_PAYLOAD_BYTES) throw tooBig(payload.length);
  const text = payload.toString('utf8');
  // Control characters are never part of a command word or of JSON: such a payload is binary junk.
  // eslint-disable-next-line no-control-regex
  if (text.includes('\uFFFD') || /[\u0000-\u0008\u000E-\u001F]/.test(text))
    throw new InputError('payload is not readable text');
  return text;
}

/** Parses a request's JSON object; anything else is an InputError. */
export function requestObject(payload: CommandPayload): Record<string, unknown> {
  const text = payloadText(payload).trim();
  // Spaces alone are no request (an empty message, a clear, never reaches here: command-table.ts).
  if (text === '') throw new InputError('payload is blank: a request needs a JSON object, {} at least');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InputError('payload is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InputError('payload must be a JSON object');
  return value as Record<string, unknown>;
}

/**
 * The transaction id to echo: a string of at most 128 characters or a finite number. Anything
 * else is refused, as an unknown field is: dropped without a word, the client would wait for
 * an answer that never names it. So is a whole number beyond 2^53: JSON.parse rounds it, and the
 * answer would carry another number than a client that reads whole numbers exactly had sent.
 */
export function transactionOf(request: Record<string, unknown>): string | number | undefined {
  const t = request.transaction;
  if (t === undefined) return undefined;
  if (typeof t === 'number' && Number.isFinite(t) && (!Number.isInteger(t) || Number.isSafeInteger(t))) return t;
  if (typeof t === 'string' && t.length <= 128) return t;
  throw new InputError(
    '"transaction" must be a string of at most 128 characters or a number ' +
      `(a whole number at most ${Number.MAX_SAFE_INTEGER} in size)`,
  );
}

export function knownKeys(request: Record<string, unknown>, allowed: string[]): void {
  const unknown = Object.keys(request).filter((k) => !allowed.includes(k) && k !== 'transaction');
  if (unknown.length > 0)
    throw new InputError(
      `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k.slice(0, 40)}"`).join(', ')}`,
    );
}

/** `{node: 3 | "all", action}` of bridge/request/power. */
export function powerRequest(request: Record<string, unknown>): { node: number | 'all'; action: NodeAction } {
  knownKeys(request, ['node', 'action']);
  const { node, action } = request;
  let target: number | 'all';
  if (node === 'all') target = 'all';
  else if (typeof node === 'number' && Number.isInteger(node) && node >= 1) target = node;
  else if (typeof node === 'string' && /^[1-9][0-9]{0,3}$/.test(node)) target = Number(node);
  else throw new InputError('"node" must be a node number or "all"');
  const named = typeof action === 'string' ? parseActionName(action) : undefined;
  if (!named) throw new InputError(`"action" must be one of ${NODE_ACTIONS.join(', ')}`);
  return { node: target, action: named };
}

/** A short, printable rendering of untrusted text for error messages. */
export function quote(text: string): string {
  const clean = text.replace(/[^\x20-\x7E]/g, '?');
  return JSON.stringify(clean.length > 40 ? `${clean.slice(0, 40)}…` : clean);
}
