import { randomUUID } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { expandNodeList, resolveNodes } from '../config/nodes.js';
import { MqttConnection, type MessageHandler } from '../mqtt/connection.js';
import { brokerUrl, mqttClientOptions } from '../mqtt/options.js';
import { topics } from '../mqtt/topics.js';
import { NODE_ACTIONS, parseActionName, type NodeAction } from '../power/types.js';
import { TpmError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';

export interface PowerCommand {
  target: number | 'all';
  action: NodeAction;
  timeoutMs?: number;
}

export function parsePowerArgs(
  node: string | undefined,
  action: string | undefined,
): { target: number | 'all'; action: NodeAction } {
  if (node === undefined || action === undefined) {
    throw new TpmError('USAGE', 'usage: turingpi-mqtt power NODE|all on|off|force-off|toggle|reboot|shutdown|status');
  }
  let target: number | 'all';
  // In any case, as the action is: `ALL` is no typo to refuse.
  if (node.toLowerCase() === 'all') target = 'all';
  else if (/^[1-9][0-9]{0,3}$/.test(node)) target = Number(node);
  else throw new TpmError('USAGE', `"${node}" is not a node number or "all"`);
  const named = parseActionName(action);
  if (!named) throw new TpmError('USAGE', `unknown action "${action}": use ${NODE_ACTIONS.join(', ')}`);
  return { target, action: named };
}

/**
 * Long enough for the configured sequence (docs/configuration.md, "Command line"), with
 * one `on_stagger` for each node "all" switches: every enabled node that is not protected.
 */
export function defaultTimeoutMs(config: Config, command: { target: number | 'all'; action: NodeAction }): number {
  const p = config.power;
  const nodes = command.target === 'all' ? Math.max(1, expandNodeList('all', resolveNodes(config)).length) : 1;
  const graceful = p.graceful_timeout + p.settle_time;
  const base = ['off', 'shutdown', 'toggle', 'reboot'].includes(command.action)
    ? graceful * (command.action === 'reboot' ? 2 : 1)
    : 0;
  return base + p.min_off_time + p.reboot_off_time + nodes * p.on_stagger + 15_000;
}

/**
 * How long the client waits for `bridge/state` when the broker held none for it: a bridge starting
 * as the command runs says `online` within it. None by then: no bridge ever ran on this base topic
 * (or its state was cleared), and asking would only wait out the whole time-out.
 */
const ANNOUNCE_WAIT_MS = 2000;

export interface PowerAnswer {
  status: 'ok' | 'error';
  data?: unknown;
  error?: string;
  transaction?: string;
}

/**
 * `turingpi-mqtt power`: one request on `bridge/request/power` with a random client id and
 * transaction, and the matching `bridge/response/power`.
 */
export interface PowerEvent {
  node?: number;
  result: 'ok' | 'error' | 'progress';
  message?: string;
  error?: string;
  transaction?: string | number;
}

/** What a person can do when the wait ended without an answer: the action's outcome is not known. */
function outcomeUnknown(command: { target: number | 'all' }, asked: boolean): string {
  if (!asked) return '';
  return `: the action may not have finished; check with turingpi-mqtt power ${command.target} status`;
}

/** Where to watch an action that outlives the client's wait. */
function followHint(config: Config): string {
  const url = new URL(brokerUrl(config));
  const port = url.port && url.port !== '1883' ? ` -p ${url.port}` : '';
  return (
    `mosquitto_sub -h ${url.hostname.replace(/^\[|\]$/g, '')}${port} -t ` +
    `'${config.mqtt.base_topic}/bridge/event' -v`
  );
}

export async function requestPower(
  config: Config,
  command: PowerCommand,
  logger: Logger,
  onEvent?: (event: PowerEvent) => void,
): Promise<PowerAnswer> {
  const t = topics(config.mqtt.base_topic);
  const transaction = randomUUID();
  const clientId = `turingpi-cli-${randomUUID().slice(0, 8)}`;
  const options = mqttClientOptions(config, clientId, { topic: t.bridgeEvent, payload: '' });
  delete options.will; // a command-line client leaves nothing behind
  let asked = false;
  let lost = false;
  const lostAnswer = (): PowerAnswer => ({
    status: 'error',
    error: `lost the connection to the broker before the bridge answered${outcomeUnknown(command, asked)}`,
  });
  // Settled when this client loses the broker. Every step races it (a subscribe may otherwise wait
  // for a reconnection), and a step that fails with the lost connection is that same answer.
  let loseBroker: (() => void) | undefined;
  const brokerLost = new Promise<PowerAnswer>((resolve) => (loseBroker = () => resolve(lostAnswer())));
  const onDisconnect = (): void => {
    lost = true;
    loseBroker?.();
  };
  const connection = new MqttConnection({ url: brokerUrl(config), options, logger, onDisconnect });
  const timeoutMs = command.timeoutMs ?? defaultTimeoutMs(config, command);
  let bridgeState: string | undefined;
  // What the time-out says, by what the command waits for when it runs out.
  let expired = (): PowerAnswer => ({
    status: 'error',
    error: `the broker did not answer within ${Math.round(timeoutMs / 1000)} s: nothing was asked`,
  });
  // The time-out bounds the whole command: a broker that goes silent (a stopped process, a dead
  // link) answers no connect, subscribe or publish, and only its keepalive (45 s by default) would.
  let deadline: NodeJS.Timeout | undefined;
  const timedOut = new Promise<PowerAnswer>((resolve) => (deadline = setTimeout(() => resolve(expired()), timeoutMs)));
  const step = (work: Promise<void>): Promise<PowerAnswer | undefined> =>
    Promise.race([
      work.then(
        () => undefined,
        async (error: unknown) => {
          // MQTT.js fails what waits for the broker ("Connection closed") before it reports the
          // close: a step that failed with the connection going is that connection's loss.
          if (!lost) await Promise.race([brokerLost, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
          if (lost) return lostAnswer();
          throw error;
        },
      ),
      brokerLost,
      timedOut,
    ]);
  let timer: NodeJS.Timeout | undefined;
  let answered: ((answer: PowerAnswer) => void) | undefined;
  const answer = new Promise<PowerAnswer>((resolve) => (answered = resolve));
  let announced: (() => void) | undefined;
  let wentOffline: (() => void) | undefined;
  const offline = new Promise<PowerAnswer>((resolve) => {
    wentOffline = () =>
      resolve({ status: 'error', error: `the bridge went offline before it answered${outcomeUnknown(command, true)}` });
  });
  const handlers: [string, MessageHandler][] = [
    [
      t.response('power'),
      (_topic, payload) => {
        const body = ownMessage<PowerAnswer>(payload, transaction);
        if (body) answered?.(body);
      },
    ],
    [
      t.bridgeState,
      (_topic, payload) => {
        // Empty: someone cleared the retained state; that is no bridge announcing itself.
        bridgeState = payload.length === 0 ? undefined : payload.toString();
        announced?.();
        // Its sessions are clean: a request it had taken and not answered ends with it.
        if (bridgeState === 'offline' && asked) wentOffline?.();
      },
    ],
  ];
  // The events of this request's own action (they carry its transaction), as they happen.
  if (onEvent) {
    handlers.push([
      t.bridgeEvent,
      (_topic, payload) => {
        const event = ownMessage<PowerEvent>(payload, transaction);
        if (event) onEvent(event);
      },
    ]);
  }
  try {
    const notConnected = await Promise.race([connection.start(true).then(() => undefined), timedOut]);
    if (notConnected) return notConnected;
    for (const [filter, handler] of handlers) {
      const gone = await step(connection.subscribe(filter, handler));
      if (gone) return gone;
    }
    // The bridge's retained state arrives before this round trip ends. An offline bridge is asked
    // nothing (it would never see the request), decided on its state now, not on an earlier message.
    const gone = await step(connection.roundTrip(t.request('power-client-probe')));
    if (gone) return gone;
    // None retained: a bridge starting now still announces itself (ANNOUNCE_WAIT_MS).
    if (bridgeState === undefined) {
      expired = () => ({ status: 'error', error: noBridge(config) });
      const heard = new Promise<void>((resolve) => {
        announced = resolve;
        timer = setTimeout(resolve, ANNOUNCE_WAIT_MS);
      });
      const goneWhileWaiting = await step(heard);
      clearTimeout(timer);
      if (goneWhileWaiting) return goneWhileWaiting;
    }
    if (bridgeState === undefined) return { status: 'error', error: noBridge(config) };
    if (bridgeState === 'offline') return { status: 'error', error: 'the bridge is offline: nothing was asked' };
    asked = true;
    expired = () => noAnswer(config, timeoutMs, bridgeState);
    const request = { transaction, node: command.target, action: command.action, source: 'cli' };
    const goneWhileAsking = await step(connection.publish(t.request('power'), JSON.stringify(request)));
    if (goneWhileAsking) return goneWhileAsking;
    return await Promise.race([answer, timedOut, offline, brokerLost]);
  } finally {
    clearTimeout(timer);
    clearTimeout(deadline);
    await connection.stop();
  }
}

function noBridge(config: Config): string {
  return `no bridge has announced itself on this base topic (${config.mqtt.base_topic}): nothing was asked`;
}

/** A message of this request (its transaction), or undefined: another client's, or malformed. */
function ownMessage<T extends { transaction?: unknown }>(payload: Buffer, transaction: string): T | undefined {
  try {
    const body = JSON.parse(payload.toString()) as T;
    return body.transaction === transaction ? body : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The answer of a wait that ran out, with what is known of the bridge (an offline one ended the
 * wait before: asked nothing, or gone offline before it answered).
 */
function noAnswer(config: Config, timeoutMs: number, bridgeState: string | undefined): PowerAnswer {
  const underWay =
    bridgeState === 'online' ? `: the action may still be under way; follow it with ${followHint(config)}` : '';
  return {
    status: 'error',
    error: `no answer from the bridge within ${Math.round(timeoutMs / 1000)} s${underWay}`,
  };
}

/**
 * What `power` prints: each step of its own action as it happens, then the answer. Nothing twice:
 * a step that says what the node's previous line said (the bridge's final "ok" may repeat its
 * last progress message, e.g. "delayed 3s by min_off_time"), an answer's note that the node's
 * last step said ("already on"), or an error that a step has already printed (a refused action
 * says why once). An error answer for "all" lists every node's outcome, those that did change
 * included.
 */
export function powerPrinter(write: (line: string) => void): {
  event(event: PowerEvent): void;
  answer(answer: PowerAnswer): void;
} {
  const shown = new Set<string>();
  const lastOfNode = new Map<number | undefined, string>();
  const lastTextOfNode = new Map<number | undefined, string>();
  const row = (r: AnswerRow): string | undefined => {
    if (r.error !== undefined) return shown.has(r.error) ? undefined : `node ${r.node}: error: ${r.error}`;
    const note = r.note !== undefined && r.note !== lastTextOfNode.get(r.node) ? `, ${r.note}` : '';
    return `node ${r.node}: ${r.power ?? 'unknown'} (${r.state})${note}`;
  };
  return {
    event(event) {
      if (event.result === 'error' && event.error !== undefined) shown.add(event.error);
      const text =
        event.result === 'error' ? `error: ${event.error ?? 'unknown error'}` : (event.message ?? event.result);
      lastTextOfNode.set(event.node, text);
      const line = event.node === undefined ? text : `node ${event.node}: ${text}`;
      if (lastOfNode.get(event.node) === line) return;
      lastOfNode.set(event.node, line);
      write(line);
    },
    answer(answer) {
      const rows = answer.data === undefined ? [] : Array.isArray(answer.data) ? answer.data : [answer.data];
      for (const line of (rows as AnswerRow[]).map(row)) if (line !== undefined) write(line);
      if (answer.status === 'error' && answer.error !== undefined && rows.length === 0 && !shown.has(answer.error))
        write(`error: ${answer.error}`);
    },
  };
}

/** One node's outcome in an answer (docs/topics.md, `bridge/request/power`). */
interface AnswerRow {
  node: number;
  power: string | null;
  state: string;
  note?: string;
  error?: string;
}
