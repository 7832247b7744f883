import { randomUUID } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { MqttConnection } from '../mqtt/connection.js';
import { brokerUrl, mqttClientOptions } from '../mqtt/options.js';
import { topics } from '../mqtt/topics.js';
import { NODE_ACTIONS, type NodeAction } from '../power/types.js';
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
  if (node === 'all') target = 'all';
  else if (/^[1-9][0-9]{0,3}$/.test(node)) target = Number(node);
  else throw new TpmError('USAGE', `"${node}" is not a node number or "all"`);
  const lower = action.toLowerCase();
  if (!(NODE_ACTIONS as readonly string[]).includes(lower))
    throw new TpmError('USAGE', `unknown action "${action}": use ${NODE_ACTIONS.join(', ')}`);
  return { target, action: lower as NodeAction };
}

/** Long enough for the configured graceful sequence (README.md "Command line"), plus staggered starts for "all". */
function defaultTimeoutMs(config: Config, command: { target: number | 'all'; action: NodeAction }): number {
  const p = config.power;
  const nodes = command.target === 'all' ? 32 : 1;
  const graceful = p.graceful_timeout + p.settle_time;
  const base = ['off', 'shutdown', 'toggle', 'reboot'].includes(command.action)
    ? graceful * (command.action === 'reboot' ? 2 : 1)
    : 0;
  return base + p.min_off_time + p.reboot_off_time + nodes * p.on_stagger + 15_000;
}

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

/** One line for people: "node 3: asking the agent to shut the OS down". */
function formatPowerEvent(event: PowerEvent): string {
  const text = event.result === 'error' ? `error: ${event.error ?? 'unknown error'}` : (event.message ?? event.result);
  return event.node === undefined ? text : `node ${event.node}: ${text}`;
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
  const connection = new MqttConnection({ url: brokerUrl(config), options, logger });
  await connection.start(true);
  const timeoutMs = command.timeoutMs ?? defaultTimeoutMs(config, command);
  let bridgeState: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const answer = new Promise<PowerAnswer>((resolve) => {
      void connection.subscribe(t.response('power'), (_topic, payload) => {
        try {
          const body = JSON.parse(payload.toString()) as PowerAnswer;
          if (body.transaction === transaction) resolve(body);
        } catch {
          // another client's malformed message: not ours
        }
      });
    });
    // The events of this request's own action (they carry its transaction), as they happen.
    if (onEvent) {
      await connection.subscribe(t.bridgeEvent, (_topic, payload) => {
        try {
          const event = JSON.parse(payload.toString()) as PowerEvent;
          if (event.transaction === transaction) onEvent(event);
        } catch {
          // not an event of ours
        }
      });
    }
    await connection.subscribe(t.bridgeState, (_topic, payload) => {
      bridgeState = payload.toString();
    });
    await connection.publish(
      t.request('power'),
      JSON.stringify({ transaction, node: command.target, action: command.action, source: 'cli' }),
    );
    const timeout = new Promise<PowerAnswer>((resolve) => {
      timer = setTimeout(() => {
        const hint =
          bridgeState === 'offline'
            ? ' (the bridge is offline)'
            : bridgeState === undefined
              ? ' (no bridge has announced itself on this base topic)'
              : '';
        const underWay =
          bridgeState === 'online' ? `: the action may still be under way; follow it with ${followHint(config)}` : '';
        resolve({
          status: 'error',
          error: `no answer from the bridge within ${Math.round(timeoutMs / 1000)} s${hint}${underWay}`,
        });
      }, timeoutMs);
    });
    return await Promise.race([answer, timeout]);
  } finally {
    clearTimeout(timer);
    await connection.stop();
  }
}

/**
 * What `power` prints: each step of its own action as it happens, then the answer. Nothing twice:
 * a step that says what the node's previous line said (the bridge's final "ok" may repeat its
 * last progress message, e.g. "delayed 3s by min_off_time"), or an error answer that a step has
 * already printed (a refused action says why once).
 */
export function powerPrinter(write: (line: string) => void): {
  event(event: PowerEvent): void;
  answer(answer: PowerAnswer): void;
} {
  const shown = new Set<string>();
  const lastOfNode = new Map<number | undefined, string>();
  return {
    event(event) {
      if (event.result === 'error' && event.error !== undefined) shown.add(event.error);
      const line = formatPowerEvent(event);
      if (lastOfNode.get(event.node) === line) return;
      lastOfNode.set(event.node, line);
      write(line);
    },
    answer(answer) {
      if (answer.status === 'error' && answer.error !== undefined && shown.has(answer.error)) return;
      write(formatPowerAnswer(answer));
    },
  };
}

/** One line per node for people: "node 3: OFF (off)". */
function formatPowerAnswer(answer: PowerAnswer): string {
  if (answer.status === 'error') return `error: ${answer.error ?? 'unknown error'}`;
  const rows = Array.isArray(answer.data) ? answer.data : [answer.data];
  return rows
    .map((row) => {
      const r = row as { node: number; power: string | null; state: string; note?: string };
      return `node ${r.node}: ${r.power ?? 'unknown'} (${r.state})${r.note ? `, ${r.note}` : ''}`;
    })
    .join('\n');
}
