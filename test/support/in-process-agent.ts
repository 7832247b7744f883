import type { RunResult } from '../../src/agent/command.js';
import { createAgent, type Agent } from '../../src/app/agent.js';
import type { BridgeApp } from '../../src/app/bridge.js';
import { parseConfig } from '../../src/config/parse.js';
import { silentLogger } from '../../src/util/logger.js';
import { FakeSystem } from '../agent/helpers.js';

/**
 * The REAL agent (createAgent) of one node, in this process, with a stand-in for its OS: its
 * shutdown argv "runs" for `drainMs` (or never ends, with `hang`), and after a success the OS
 * stops the agent 50 ms later (systemd's SIGTERM at poweroff: a clean `offline`).
 */
export interface TestAgent {
  agent: Agent;
  node: number;
  /** When the argv began and ended (undefined: not yet). */
  startedAt: number | undefined;
  endedAt: number | undefined;
  runs: number;
  /** The OS stopped it (or the test did). */
  stopped: boolean;
  stop(): Promise<void>;
}

export interface TestAgentOptions {
  url: string;
  node: number;
  drainMs: number;
  gracefulTimeout: string;
  hang?: boolean;
  base?: string;
  boardId?: string;
  protocolVersion?: 4 | 5;
  /** The temperature its OS reports (°C; default the stand-in's 50). */
  temperature?: number;
}

export async function startTestAgent(options: TestAgentOptions): Promise<TestAgent> {
  const config = parseConfig({
    mqtt: {
      url: options.url,
      base_topic: options.base ?? 'tp',
      keepalive: 5,
      protocol_version: options.protocolVersion ?? 4,
    },
    board: { id: options.boardId ?? 'lab' },
    power: { graceful_timeout: options.gracefulTimeout },
    agent: { node: options.node, interval: '1h', shutdown_command: ['drain-and-poweroff'], reboot_command: ['reboot'] },
  });
  const state: TestAgent = {
    agent: undefined as unknown as Agent,
    node: options.node,
    startedAt: undefined,
    endedAt: undefined,
    runs: 0,
    stopped: false,
    stop: async () => {
      state.stopped = true;
      await state.agent.stop();
    },
  };
  const system = new FakeSystem(() => Date.now(), Date.now() - 60_000);
  if (options.temperature !== undefined) system.temperature = options.temperature;
  state.agent = createAgent(config, {
    logger: silentLogger(),
    systemInfo: system,
    run: (): Promise<RunResult> => {
      state.runs++;
      state.startedAt = Date.now();
      if (options.hang) return new Promise<RunResult>(() => {});
      return new Promise((resolve) => {
        setTimeout(() => {
          state.endedAt = Date.now();
          setTimeout(() => void state.stop(), 50);
          resolve({ code: 0, stderr: '' });
        }, options.drainMs);
      });
    },
  });
  await state.agent.start();
  return state;
}

/** What the bridge believes of a node's agent (from its status). */
export function agentStateAtBridge(bridge: BridgeApp, node: number): string | undefined {
  const status = bridge.status() as { nodes: { node: number; agent_state?: string }[] };
  return status.nodes.find((n) => n.node === node)?.agent_state;
}

/** One power write the bridge made, with the wall-clock time it began. */
export interface PowerWrite {
  node: number;
  on: boolean;
  at: number;
}

/** Records every power write the bridge makes from now on (the board driver's setPower). */
export function recordPowerWrites(bridge: BridgeApp): PowerWrite[] {
  const writes: PowerWrite[] = [];
  const driver = bridge.board.driver;
  const setPower = driver.setPower.bind(driver);
  driver.setPower = (node: number, on: boolean): Promise<boolean> => {
    writes.push({ node, on, at: Date.now() });
    return setPower(node, on);
  };
  return writes;
}
