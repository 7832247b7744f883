import type { BridgeApp } from '../app/bridge.js';
import { parseConfig } from '../config/parse.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../util/logger.js';

/**
 * The built-in demo (README.md "Command line"): a simulated Turing Pi 1 on an embedded broker, three
 * nodes with (simulated) agents so graceful shutdowns and temperatures can be seen, and one
 * schedule, disabled, to switch on from Home Assistant. The same as config/demo.yaml.
 */
export function demoConfig(): Config {
  return parseConfig({
    mqtt: { url: 'embedded' },
    board: {
      type: 'simulator',
      id: 'turingpi',
      name: 'Turing Pi',
      simulate: { model: 'tpi1', state_file: './data/demo/simulator.json', agents: true },
    },
    nodes: {
      2: { name: 'k3s-server', agent: true },
      3: { name: 'k3s-worker-1', agent: true },
      4: { name: 'k3s-worker-2', agent: true },
    },
    power: { settle_time: '3s', graceful_timeout: '60s' },
    schedules: [{ name: 'workers-nightly-off', cron: '0 23 * * *', action: 'shutdown', nodes: [3, 4], enabled: false }],
    state_dir: './data/demo',
  });
}

export interface Service {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The bridge plus simulated agents for the demo's agent nodes (they follow the simulated power). */
export function withDemoAgents(bridge: BridgeApp, config: Config, logger: Logger): Service {
  let agents: { stop(): Promise<void> } | undefined;
  return {
    async start() {
      await bridge.start();
      const powerOf = bridge.board.simulatedPower;
      if (!powerOf || !config.nodes) return;
      const { startSimulatedAgents } = await import('./simulated-agents.js');
      agents = await startSimulatedAgents({ config, powerOf, logger: logger.child({ part: 'simulated-agents' }) });
    },
    async stop() {
      await agents?.stop();
      await bridge.stop();
    },
  };
}
