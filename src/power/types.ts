/** Vocabulary shared by every source of power commands (MQTT, CLI, schedules, policies). */

export const NODE_ACTIONS = ['on', 'off', 'force-off', 'toggle', 'reboot', 'shutdown', 'status'] as const;
export type NodeAction = (typeof NODE_ACTIONS)[number];

/**
 * An action named the way a person may type it. The command line and requests name actions as
 * `force-off`, the set topic and every message that says what to do instead as `FORCE_OFF`: each
 * takes the other's spelling, in any case.
 */
export function parseActionName(text: string): NodeAction | undefined {
  const name = text.toLowerCase().replace(/_/g, '-');
  return (NODE_ACTIONS as readonly string[]).includes(name) ? (name as NodeAction) : undefined;
}

export type CommandSource = 'mqtt' | 'schedule' | 'policy' | 'cli' | 'startup';

/**
 * Who asked for a power action: its source, and the `transaction` of the request that started it
 * (`bridge/request/power`), which every event of the action carries. Passed along by hand: carried
 * by AsyncLocalStorage instead, the first request with a transaction turned node's async hooks on
 * for good, and every promise of every later command cost more (docs/performance-log.md).
 */
export interface Origin {
  source: CommandSource;
  transaction?: string | number;
}

export type NodeStateName = 'off' | 'starting' | 'on' | 'shutting_down' | 'rebooting' | 'unknown';

/** `node/<n>/state` (docs/topics.md). */
export interface NodeState {
  state: NodeStateName;
  /** ISO 8601 time of the last change of `state`. */
  since: string;
  source: CommandSource;
  reason: string;
}

/** `bridge/event` (docs/topics.md). */
export interface BridgeEvent {
  time: string;
  type: string;
  node?: number;
  action?: string;
  source: CommandSource;
  result: 'ok' | 'error' | 'progress';
  error?: string;
  /** What happened, for people reading the event stream. */
  message?: string;
  /** The `transaction` of the request whose action this event reports, when it had one. */
  transaction?: string | number;
}

export type EventInput = Omit<BridgeEvent, 'time'>;

/** A `power` event of an action on node `node`, with who asked for it (and so their transaction, if any). */
export function powerEvent(
  node: number,
  action: NodeAction,
  origin: Origin,
  outcome: Pick<EventInput, 'result' | 'message' | 'error'>,
): EventInput {
  return { type: 'power', node, action, source: origin.source, transaction: origin.transaction, ...outcome };
}

/** The outcome of one action on one node. */
export interface NodeResult {
  node: number;
  action: NodeAction;
  ok: boolean;
  /** The read-back power after the action (null where unknown). */
  power: boolean | null;
  state: NodeStateName;
  error?: string;
  /** A short note, e.g. "already on" or "delayed 2s by min_off_time". */
  note?: string;
}

const SET_WORDS: ReadonlyMap<string, NodeAction> = new Map([
  ['ON', 'on'],
  ['OFF', 'off'],
  ['FORCE_OFF', 'force-off'],
  ['TOGGLE', 'toggle'],
  ['REBOOT', 'reboot'],
  ['SHUTDOWN', 'shutdown'],
]);

/**
 * Maps the words of `node/<n>/set` (docs/topics.md) to actions, in any case, with `-` for `_`
 * too (`force-off`), as requests and the command line take either spelling.
 */
export function parseSetPayload(payload: string): NodeAction | undefined {
  const word = payload.trim().toUpperCase();
  return SET_WORDS.get(word) ?? SET_WORDS.get(word.replace(/-/g, '_'));
}

/**
 * The node lifecycle as the power service and the graceful sequences report it (implemented by
 * the bridge's node model, src/app/node-model.ts): they say what happened, the model decides
 * the state it leads to. Nothing else sets a node's state.
 */
export interface NodeLifecycle {
  power(node: number): boolean | null;
  state(node: number): NodeStateName;
  /** What the board reads back after a write (or reads after a failed one). */
  setPower(node: number, on: boolean | null): void;
  /** A reading of the board, as a poll's: power, and the state a change made elsewhere leads to. */
  observe(node: number, power: boolean | null): void;
  /**
   * A write failed without telling whether it took, and the board could not be read after it:
   * power and state are unknown until a read (a busy state is left to its sequence).
   */
  powerUnknown(node: number, reason: string): void;
  /** Power is about to be cut on purpose: the node going down is no hang. */
  cutting(node: number): void;
  /** Switched on (or power cycled): `starting` for an agent node until its agent is online, else `on`. */
  switchedOn(node: number, source: CommandSource, reason: string): void;
  switchedOff(node: number, source: CommandSource, reason: string): void;
  /** The agent was asked to shut the OS down: `shutting_down` (and the node goes down on purpose). */
  shuttingDown(node: number, source: CommandSource): void;
  /** The shutdown failed: the node is as its power says (unknown when that is). */
  shutdownFailed(node: number, source: CommandSource, reason: string): void;
  /** A power cycle begins (`rebooting`; the node goes down on purpose). */
  powerCycling(node: number, source: CommandSource): void;
  /** The agent was asked to reboot the OS (`rebooting`). */
  osRebooting(node: number, source: CommandSource): void;
  rebooted(node: number, source: CommandSource): void;
  /** The reboot's outcome is not known (`unknown`). */
  rebootFailed(node: number, source: CommandSource, reason: string): void;
}
