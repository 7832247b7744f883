import { spawnRunner } from '../../src/agent/command.js';
import { createAgent, type Agent } from '../../src/app/agent.js';
import { parseConfig } from '../../src/config/parse.js';
import { silentLogger } from '../../src/util/logger.js';
import { FakeSystem } from '../agent/helpers.js';

/** The node whose agent drains. */
export const DRAINING_NODE = 3;

export interface DrainingAgent {
  agent: Agent;
  /** When the argv's process was started (undefined until it is). */
  argvStartedAt(): number | undefined;
  /** When the argv's process ended (undefined while it runs). */
  argvEndedAt(): number | undefined;
}

/**
 * The REAL agent of node 3 (base topic `tp`, board `lab`) with a real argv: a node process that
 * runs for `drainMs`. When it exits 0 the "OS" stops the agent 100 ms later (systemd's SIGTERM on
 * poweroff: a clean offline).
 */
export async function startDrainingAgent(
  url: string,
  drainMs: number,
  gracefulTimeout = '30s',
): Promise<DrainingAgent> {
  const config = parseConfig({
    mqtt: { url, base_topic: 'tp', keepalive: 5 },
    board: { id: 'lab' },
    power: { graceful_timeout: gracefulTimeout },
    agent: {
      node: DRAINING_NODE,
      interval: '1h',
      shutdown_command: [process.execPath, '-e', `setTimeout(() => {}, ${drainMs})`],
    },
  });
  let startedAt: number | undefined;
  let endedAt: number | undefined;
  const runner = spawnRunner(60_000);
  const agent: Agent = createAgent(config, {
    logger: silentLogger(),
    systemInfo: new FakeSystem(() => Date.now(), Date.now() - 60_000),
    run: async (argv) => {
      startedAt = Date.now();
      const result = await runner(argv);
      endedAt = Date.now();
      if (result.code === 0) setTimeout(() => void agent.stop(), 100);
      return result;
    },
  });
  await agent.start();
  return { agent, argvStartedAt: () => startedAt, argvEndedAt: () => endedAt };
}
