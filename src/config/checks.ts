import { AGENT_NODE_MISSING } from './agent-node.js';
import type { PathSegment, RawProblem } from './issues.js';
import { boardNodeCount, resolveNodes, type ResolvedNode } from './nodes.js';
import { scheduleWarnings } from './schedule-checks.js';
import { BMC_DEFAULTS, MAX_NODES, type Config, type NodeList } from './schema.js';

/**
 * Checks that need more than one key at a time (the zod schema checks each key alone).
 * Every function returns all it finds; none throws.
 */

/** Which node numbers the board has, and how to say so in a message. */
interface BoardSlots {
  has(node: number): boolean;
  describe: string;
}

function boardSlots(config: Config): BoardSlots {
  if (config.board.type === 'gpio') {
    const wired = Object.keys(config.board.gpio)
      .map(Number)
      .sort((a, b) => a - b);
    return {
      has: (node) => wired.includes(node),
      describe: wired.length === 0 ? 'board.gpio wires no nodes' : `board.gpio wires nodes ${wired.join(', ')}`,
    };
  }
  const count = boardNodeCount(config);
  const board =
    config.board.type === 'simulator'
      ? `the simulated ${config.board.simulate.model} board`
      : `a ${config.board.type} board`;
  return {
    has: (node) => Number.isInteger(node) && node >= 1 && node <= count,
    describe: `${board} has nodes 1-${count}`,
  };
}

/** Off, reboot and shutdown lists must not name a protected node (docs/configuration.md). */
function checkNodeList(
  list: NodeList,
  path: (string | number)[],
  slots: BoardSlots,
  nodes: ResolvedNode[],
  cutsPower: string | undefined,
): RawProblem[] {
  if (list === 'all') return [];
  const problems: RawProblem[] = [];
  list.forEach((node, index) => {
    if (list.indexOf(node) !== index) {
      problems.push({ segments: [...path, index], message: `node ${node} is already in this list` });
    } else if (!slots.has(node)) {
      problems.push({ segments: [...path, index], message: `node ${node} does not exist: ${slots.describe}` });
    } else if (cutsPower && nodes.find((n) => n.number === node)?.protected) {
      problems.push({
        segments: [...path, index],
        message:
          `node ${node} is protected and cannot be in a list that ${cutsPower} (set ` +
          `nodes.${node}.protected: false if you mean it)`,
      });
    }
  });
  return problems;
}

/** A node key not written as its number ("02", "1.0"), placed at the key; undefined when it is. */
function nodeKeyProblem(segments: [string, ...string[]]): RawProblem | undefined {
  const key = segments[segments.length - 1] as string;
  const number = Number(key);
  if (String(number) === key) return undefined;
  return { segments, message: `write the node number as ${number}, not ${key}`, at: 'key' };
}

export function crossFieldProblems(config: Config): RawProblem[] {
  const problems: RawProblem[] = [];
  const slots = boardSlots(config);
  const nodes = resolveNodes(config);

  if (config.board.type === 'gpio' && Object.keys(config.board.gpio).length === 0) {
    problems.push({
      segments: ['board', 'gpio'],
      message: 'a gpio board needs at least one node line, e.g. gpio: { 1: { line: 17 } }',
    });
  }
  const lineOwners = new Map<number, string>();
  for (const [node, wiring] of Object.entries(config.board.gpio)) {
    // The same bounds as the start (the GPIO driver) and simulate.nodes: a board has nodes 1-1024.
    // "01" beside "1" would be one node twice, the driver keeping either line.
    const spelling = nodeKeyProblem(['board', 'gpio', node]);
    if (spelling) problems.push(spelling);
    else if (Number(node) < 1)
      problems.push({ segments: ['board', 'gpio', node], message: 'node numbers start at 1', at: 'key' });
    else if (Number(node) > MAX_NODES) {
      problems.push({ segments: ['board', 'gpio', node], message: `node numbers go up to ${MAX_NODES}`, at: 'key' });
    }
    const owner = lineOwners.get(wiring.line);
    if (owner !== undefined) {
      problems.push({
        segments: ['board', 'gpio', node, 'line'],
        message: `line ${wiring.line} is already node ${owner}'s line`,
      });
    } else lineOwners.set(wiring.line, node);
  }

  for (const key of Object.keys(config.nodes)) {
    const number = Number(key);
    const spelling = nodeKeyProblem(['nodes', key]);
    if (spelling) {
      problems.push(spelling);
    } else if (!slots.has(number)) {
      problems.push({ segments: ['nodes', key], message: `node ${key} does not exist: ${slots.describe}`, at: 'key' });
    }
  }

  const firstIndexOfName = new Map<string, number>();
  config.schedules.forEach((schedule, index) => {
    const path = ['schedules', index];
    const earlier = firstIndexOfName.get(schedule.name);
    if (earlier !== undefined) {
      problems.push({
        segments: [...path, 'name'],
        message: `"${schedule.name}" is already the name of schedules.${earlier}; names must be unique`,
      });
    } else firstIndexOfName.set(schedule.name, index);

    const cutsPower = {
      on: undefined,
      off: 'switches nodes off',
      reboot: 'reboots nodes',
      shutdown: 'shuts nodes down',
    }[schedule.action];
    problems.push(...checkNodeList(schedule.nodes, [...path, 'nodes'], slots, nodes, cutsPower));
  });

  const { watchdog, thermal } = config.policies;
  problems.push(
    ...checkNodeList(watchdog.nodes, ['policies', 'watchdog', 'nodes'], slots, nodes, 'power-cycles nodes'),
  );
  problems.push(
    ...checkNodeList(
      thermal.nodes,
      ['policies', 'thermal', 'nodes'],
      slots,
      nodes,
      thermal.action === 'off' ? 'switches nodes off' : 'shuts nodes down',
    ),
  );
  if (config.mqtt.password !== null && config.mqtt.username === null && config.mqtt.protocol_version === 4) {
    // MQTT 3.1.1 forbids a password flag without a user name flag: the connection never came up.
    problems.push({
      segments: ['mqtt', 'password'],
      message: 'needs mqtt.username too: MQTT 3.1.1 (protocol_version 4) sends no password without one',
    });
  }
  if (config.mqtt.url === 'embedded' && config.mqtt.protocol_version === 5) {
    // aedes speaks MQTT 3.1.1 only: it refuses a version 5 CONNECT, and the bridge would retry for ever.
    problems.push({
      segments: ['mqtt', 'protocol_version'],
      message: 'the built-in broker (url: embedded) speaks MQTT 3.1.1 only: write 4, or leave it out',
    });
  }
  if (thermal.clear_celsius >= thermal.max_celsius) {
    problems.push({
      segments: ['policies', 'thermal', 'clear_celsius'],
      message: `must be below max_celsius (${thermal.max_celsius}), got ${thermal.clear_celsius}`,
    });
  }
  return problems;
}

/** Things that work but are probably not what the user meant. */
export function configWarnings(config: Config): RawProblem[] {
  const warnings: RawProblem[] = [];
  const { board } = config;
  // docs/turing-pi-2.md: firmware 2.x serves HTTPS with a self-signed, usually expired certificate, and wants a login.
  if (board.type === 'tpi2' && board.bmc.password === null) {
    warnings.push({
      segments: ['board', 'bmc', 'password'],
      message: 'is not set: BMC firmware 2.x needs a login; set it, e.g. password: ${TPI_BMC_PASSWORD}',
    });
  }
  if (board.type === 'tpi2' && board.bmc.insecure) {
    warnings.push({
      segments: ['board', 'bmc', 'insecure'],
      message:
        'any certificate is accepted, so whoever answers at that address gets the BMC password; better pin the ' +
        'BMC certificate with board.bmc.fingerprint (turingpi-mqtt bmc trust -c FILE prints it)',
    });
  } else if (board.type === 'tpi2' && board.bmc.fingerprint === null && board.bmc.ca === null) {
    warnings.push({
      segments: ['board', 'bmc', 'fingerprint'],
      message:
        'is not set: a BMC serves a self-signed, usually expired certificate that nothing else trusts; ' +
        'turingpi-mqtt bmc trust -c FILE prints the line to add',
    });
  }
  // As board.bmc.insecure is warned about: the password goes to whoever answers at that address.
  if (!config.mqtt.tls.reject_unauthorized && /^(mqtts|wss):/.test(config.mqtt.url)) {
    warnings.push({
      segments: ['mqtt', 'tls', 'reject_unauthorized'],
      message:
        "is false: the broker's certificate is not checked, so whoever answers at that address gets the MQTT " +
        'login; better give its CA in mqtt.tls.ca',
    });
  }
  if (board.type === 'simulator') warnings.push(...unusedBmcLogin(board.bmc));
  if (board.type === 'tpi1' && config.nodes['1']?.protected === false) {
    // docs/hardware.md: a tpi1 whose master is off cannot recover by itself.
    warnings.push({
      segments: ['nodes', '1', 'protected'],
      message: 'node 1 is the Turing Pi 1 master: switched off, the board cannot switch it back on by itself',
    });
  }
  const nodes = resolveNodes(config);
  warnings.push(...scheduleWarnings(config, nodes));
  const { watchdog, thermal } = config.policies;
  const agentless = (list: NodeList): number[] =>
    list === 'all' ? [] : list.filter((node) => nodes.find((n) => n.number === node)?.agent === false);
  if (watchdog.enabled) {
    for (const node of agentless(watchdog.nodes)) {
      warnings.push({
        segments: ['policies', 'watchdog', 'nodes'],
        message: `node ${node} has no agent (nodes.${node}.agent: false): the watchdog cannot tell whether it hangs`,
      });
    }
  }
  if (thermal.enabled) {
    for (const node of agentless(thermal.nodes)) {
      warnings.push({
        segments: ['policies', 'thermal', 'nodes'],
        message: `node ${node} has no agent (nodes.${node}.agent: false): no temperature comes from it`,
      });
    }
  }
  return warnings;
}

/**
 * A simulated Turing Pi 2 runs a BMC of its own with a password of the run's (config/demo-tpi2.yaml):
 * the address and login written under board.bmc reach nothing. Someone who wrote their BMC's there,
 * starting from the demo's file, most likely meant board.type: tpi2.
 */
function unusedBmcLogin(bmc: Config['board']['bmc']): RawProblem[] {
  const written = (['url', 'username', 'password'] as const).filter((key) => bmc[key] !== BMC_DEFAULTS[key]);
  return written.map((key) => ({
    segments: ['board', 'bmc', key],
    message:
      'is not used: a simulated board reaches no BMC (a simulated Turing Pi 2 runs its own); ' +
      'to reach yours, set board.type: tpi2',
  }));
}

/** board.bmc.url, .username or .password: the login only a Turing Pi 2 uses. */
export function isBmcLogin(segments: readonly PathSegment[]): boolean {
  const [section, part, key] = segments;
  return section === 'board' && part === 'bmc' && segments.length === 3 && String(key) in BMC_DEFAULTS;
}

/** An unset `${VAR}` in the BMC's login: `usual` is what the load's mode makes of it, a problem when `needed`. */
export interface UnsetLogin {
  usual: RawProblem;
  needed: boolean;
  /** The warning instead, on a board that reaches no BMC. */
  unused: RawProblem;
}

/**
 * The unset variables of the BMC's login, once the board's type is known: every board but a
 * Turing Pi 2 reaches no BMC, so its start was refused for a password that nothing reads.
 */
export function unsetLogin(login: UnsetLogin[], unused: boolean): { problems: RawProblem[]; warnings: RawProblem[] } {
  if (unused) return { problems: [], warnings: login.map((u) => u.unused) };
  return {
    problems: login.filter((u) => u.needed).map((u) => u.usual),
    warnings: login.filter((u) => !u.needed).map((u) => u.usual),
  };
}

/**
 * What the file's role asks beyond a valid file. The bridge refuses an agent's file (an `agent`
 * section, no `board`): it ran the default simulated board on the agent's broker and base topic.
 * The agent (and validate, for a file with an `agent` section) needs `agent.node`; a bridge's file
 * given to the agent is named as such. `config`: the validated file, if it is valid.
 */
export function roleProblems(
  role: 'bridge' | 'agent' | 'either' | undefined,
  written: { agent: boolean; board: boolean },
  config: Config | undefined,
): RawProblem[] {
  if (role === 'bridge' && written.agent && !written.board) {
    const message =
      "an agent's file (an agent section, no board): run turingpi-mqtt agent -c FILE; the bridge's file says " +
      'its board (board.type)';
    return [{ segments: ['agent'], message, at: 'key' }];
  }
  if (!config || !(role === 'agent' || (role === 'either' && written.agent))) return [];
  const bridges =
    role === 'agent' && written.board && !written.agent
      ? "; this is a bridge's file (a board section, no agent section): each node's agent has its own, as " +
        'config/agent.yaml'
      : '';
  return agentProblems(config).map((problem) => ({ ...problem, message: problem.message + bridges }));
}

/** What the agent role needs beyond a valid file: the node it runs on. */
export function agentProblems(config: Config): RawProblem[] {
  if (config.agent.node === null) {
    return [
      {
        segments: ['agent', 'node'],
        message: AGENT_NODE_MISSING,
      },
    ];
  }
  return [];
}
