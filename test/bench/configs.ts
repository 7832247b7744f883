import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The configs the benchmark runs the product with. Everything that would add waiting of its
 * own to a command is zero (min_off_time, on_stagger), logs are JSON at warn (a pretty
 * console is not what a service runs with), and every run gets its own base topic and
 * discovery prefix, so no retained message of an earlier run is counted or waited for.
 */
export interface BridgeRun {
  base: string;
  discovery: string;
  file: string;
}

let runs = 0;

export function writeBridgeConfig(
  dir: string,
  url: string,
  simulate: { model: 'tpi1' } | { model: 'generic'; nodes: number },
  extra: { pollInterval?: string } = {},
): BridgeRun {
  const id = `b${process.pid}x${++runs}`;
  const base = `bench/${id}`;
  const discovery = `bench-ha/${id}`;
  const stateDir = join(dir, id);
  mkdirSync(stateDir, { recursive: true });
  const config = {
    // A client id of its own: the scale phase runs several bridges of one board side by side.
    mqtt: { url, base_topic: base, client_id: `bench-${id}` },
    homeassistant: { enabled: true, discovery_prefix: discovery, status_topic: `${discovery}/status` },
    board: {
      type: 'simulator',
      id: 'bench',
      name: 'Bench',
      ...(extra.pollInterval ? { poll_interval: extra.pollInterval } : {}),
      simulate: { ...simulate, state_file: null },
    },
    power: { min_off_time: 0, on_stagger: 0 },
    state_dir: stateDir,
    log: { level: 'warn', format: 'json' },
  };
  const file = join(dir, `${id}.yaml`);
  // JSON is YAML: the loader reads it as any config file.
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return { base, discovery, file };
}

export function writeAgentConfig(
  dir: string,
  url: string,
  base: string,
  node: number,
  argv: string[],
  interval?: string,
): string {
  const config = {
    mqtt: { url, base_topic: base },
    board: { id: 'bench' },
    agent: { node, shutdown_command: argv, reboot_command: argv, ...(interval ? { interval } : {}) },
    log: { level: 'error', format: 'json' },
  };
  const file = join(dir, `agent-${process.pid}-${++runs}.yaml`);
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}
