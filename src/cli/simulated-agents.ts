import type { RunResult } from '../agent/command.js';
import type { SystemInfoSource } from '../agent/system-info.js';
import { createAgent, type Agent } from '../app/agent.js';
import { resolveNodes } from '../config/nodes.js';
import { configSchema, type Config } from '../config/schema.js';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { TpmError, errorMessage } from '../util/errors.js';
import { silentLogger, type Logger } from '../util/logger.js';

export interface SimulatedAgentsOptions {
  /** The bridge's config: its mqtt section, and the nodes with `agent: true`. */
  config: Config;
  /** The simulated board's power of a node (null: not known). */
  powerOf: (node: number) => boolean | null;
  clock?: Clock;
  logger?: Logger;
  /** From power on (or an OS reboot) to the agent online. */
  bootDelayMs?: number;
  /** From the agent's shutdown command to the OS halted (agent gone). */
  shutdownDelayMs?: number;
  /** Telemetry interval of the simulated agents; short, so the demo shows movement. */
  intervalMs?: number;
  /** How often the board's power is looked at. */
  pollMs?: number;
  /** Random numbers in [0, 1), for deterministic tests. */
  random?: () => number;
}

export interface SimulatedAgents {
  /** Whether the simulated agent of a node is running (its OS up). */
  isRunning(node: number): boolean;
  stop(): Promise<void>;
}

/** The argvs of the simulated agents: never run, recognised by the simulated OS. */
const SIM_POWEROFF = ['simulated-os', 'poweroff'];
const SIM_REBOOT = ['simulated-os', 'reboot'];

type OsState = 'down' | 'booting' | 'up' | 'halted';

interface SimulatedNode {
  os: OsState;
  agent: Agent | undefined;
  bootTimer: TimerHandle | undefined;
  haltTimer: TimerHandle | undefined;
  bootedAt: number;
}

/**
 * Simulated node agents for the demo and tests: the REAL agent (createAgent) on each node
 * with `agent: true`, with a simulated system (temperature, load, memory and disk moving
 * plausibly) and a simulated OS that halts or reboots when the agent runs its command.
 * A node's agent exists only while its OS is up: power off kills it (offline), power on
 * boots it after `bootDelayMs`; a halted OS stays down until power is cut and restored.
 */
export function startSimulatedAgents(options: SimulatedAgentsOptions): SimulatedAgents {
  const clock = options.clock ?? systemClock;
  const logger = (options.logger ?? silentLogger()).child({ component: 'simulated-agents' });
  const bootDelayMs = options.bootDelayMs ?? 8_000;
  const shutdownDelayMs = options.shutdownDelayMs ?? 5_000;
  const pollMs = options.pollMs ?? 1_000;
  const random = options.random ?? Math.random;
  const agentNodes = resolveNodes(options.config)
    .filter((n) => n.agent === true && n.enabled)
    .map((n) => n.number);

  const nodes = new Map<number, SimulatedNode>();
  for (const n of agentNodes) {
    nodes.set(n, { os: 'down', agent: undefined, bootTimer: undefined, haltTimer: undefined, bootedAt: 0 });
  }
  let stopped = false;
  let pollTimer: TimerHandle | undefined;

  const stopping = new Set<Promise<void>>();

  const agentConfig = (node: number): Config =>
    configSchema.parse({
      mqtt: { ...options.config.mqtt, client_id: null }, // each agent its own default id
      board: { id: options.config.board.id },
      power: { graceful_timeout: options.config.power.graceful_timeout },
      agent: {
        node,
        interval: options.intervalMs ?? 5_000,
        shutdown_command: SIM_POWEROFF,
        reboot_command: SIM_REBOOT,
      },
      log: options.config.log,
    });

  const killAgent = (sim: SimulatedNode): void => {
    const agent = sim.agent;
    sim.agent = undefined;
    // The OS is gone: the bridge must see offline. A clean offline stands in for the will,
    // which a real broker would publish only after the keepalive ran out.
    // Not after start(): a start still waiting for the broker must not hold the stop back.
    if (!agent) return;
    const done = agent
      .stop()
      .catch((error: unknown) => logger.error(`simulated agent: stop failed: ${errorMessage(error)}`))
      .finally(() => stopping.delete(done));
    stopping.add(done);
  };

  const boot = (node: number, sim: SimulatedNode): void => {
    sim.os = 'booting';
    clock.clearTimeout(sim.bootTimer);
    sim.bootTimer = clock.setTimeout(() => {
      sim.bootTimer = undefined;
      if (stopped || sim.os !== 'booting') return;
      sim.os = 'up';
      sim.bootedAt = clock.now();
      const agent = createAgent(agentConfig(node), {
        clock,
        logger: logger.child({ node }),
        systemInfo: simulatedSystem(
          node,
          () => clock.now(),
          () => sim.bootedAt,
          random,
        ),
        run: (argv) => osCommand(node, sim, argv),
      });
      sim.agent = agent;
      logger.info(`simulated node ${node}: OS booted, agent starting`);
      // A node whose power is cut while its agent connects stops that agent: no failure.
      agent.start().catch((error: unknown) => {
        if (error instanceof TpmError && error.code === 'STOPPED') return;
        logger.error(`simulated node ${node}: agent failed to start: ${errorMessage(error)}`);
      });
    }, bootDelayMs);
  };

  const osCommand = (node: number, sim: SimulatedNode, argv: string[]): Promise<RunResult> => {
    const reboot = argv.join(' ') === SIM_REBOOT.join(' ');
    if (!reboot && argv.join(' ') !== SIM_POWEROFF.join(' ')) {
      return Promise.resolve({ code: 1, stderr: `simulated OS: unknown command ${JSON.stringify(argv)}` });
    }
    // Like systemctl: the command returns at once, the OS goes down a little later.
    clock.clearTimeout(sim.haltTimer);
    sim.haltTimer = clock.setTimeout(() => {
      sim.haltTimer = undefined;
      if (stopped || sim.os !== 'up') return;
      logger.info(`simulated node ${node}: OS ${reboot ? 'rebooting' : 'halted'}`);
      killAgent(sim);
      if (reboot) boot(node, sim);
      else sim.os = 'halted';
    }, shutdownDelayMs);
    return Promise.resolve({ code: 0, stderr: '' });
  };

  const poll = (): void => {
    if (stopped) return;
    for (const [node, sim] of nodes) {
      const power = options.powerOf(node);
      if (power === true && sim.os === 'down') {
        boot(node, sim);
      } else if (power === false && sim.os !== 'down') {
        logger.info(`simulated node ${node}: power cut, OS gone`);
        clock.clearTimeout(sim.bootTimer);
        clock.clearTimeout(sim.haltTimer);
        sim.bootTimer = undefined;
        sim.haltTimer = undefined;
        sim.os = 'down';
        killAgent(sim);
      }
    }
    pollTimer = clock.setTimeout(poll, pollMs);
  };
  poll();

  return {
    isRunning: (node) => nodes.get(node)?.os === 'up',
    async stop() {
      stopped = true;
      clock.clearTimeout(pollTimer);
      for (const sim of nodes.values()) {
        clock.clearTimeout(sim.bootTimer);
        clock.clearTimeout(sim.haltTimer);
        killAgent(sim);
      }
      await Promise.all([...stopping]);
    },
  };
}

/**
 * A node's system that a demo can watch: a SoC warming up under load and cooling again
 * (a random walk kept in 40-70 °C), CPU load wandering, memory following the load,
 * a root disk filling very slowly.
 */
export function simulatedSystem(
  node: number,
  now: () => number,
  bootedAt: () => number,
  random: () => number,
): SystemInfoSource {
  let temperature = 42 + random() * 8;
  let load = 5 + random() * 20;
  let disk = 20 + node * 3;
  const walk = (value: number, step: number, min: number, max: number): number =>
    Math.min(max, Math.max(min, value + (random() * 2 - 1) * step));
  return {
    cpuTemperature: () => {
      temperature = walk(temperature + (load - 40) / 100, 1.5, 40, 70);
      return Promise.resolve({ main: Math.round(temperature * 10) / 10 });
    },
    currentLoad: () => {
      load = walk(load, 8, 1, 95);
      return Promise.resolve({ currentLoad: load });
    },
    mem: () => Promise.resolve({ total: 8 * 1024 ** 3, active: (0.15 + load / 250) * 8 * 1024 ** 3 }),
    fsSize: () => {
      disk = Math.min(95, disk + random() * 0.01);
      return Promise.resolve([{ mount: '/', use: disk }]);
    },
    time: () => ({ uptime: (now() - bootedAt()) / 1000 }),
    osInfo: () => Promise.resolve({ hostname: `node${node}` }),
    getThrottled: () => Promise.resolve(temperature > 68 ? '0x80008' : '0x0'),
  };
}
