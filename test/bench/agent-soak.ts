import { readFileSync } from 'node:fs';
import { defaultSystemInfo, type SystemInfoSource } from '../../src/agent/system-info.js';
import { createAgent } from '../../src/app/agent.js';
import { loadConfigFile } from '../../src/config/load.js';
import { createLogger } from '../../src/util/logger.js';

/**
 * The agent's memory over many samples, in a process of its own:
 *   node agent-soak.js CONFIG SAMPLES INTERVAL_MS
 * runs what `turingpi-mqtt agent -c CONFIG` runs (the same modules: config loader, logger,
 * createAgent with the real /proc source), but samples every INTERVAL_MS instead of the
 * config's agent.interval (at least 1 s there: 3,600 samples would take an hour). Prints its
 * RSS and anonymous memory after the first sample and after SAMPLES samples, as JSON.
 */
const [file, samplesArg, intervalArg] = process.argv.slice(2);
const samples = Number(samplesArg);
const interval = Number(intervalArg);
if (!file || !(samples > 0) || !(interval > 0)) {
  process.stderr.write('usage: node agent-soak.js CONFIG SAMPLES INTERVAL_MS\n');
  process.exit(2);
}

function memory(): { rss_kib: number; anon_kib: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss_kib: kib('VmRSS'), anon_kib: kib('RssAnon') };
}

async function main(): Promise<void> {
  const { config } = await loadConfigFile(file as string, { role: 'agent' });
  config.agent.interval = interval;
  const logger = createLogger({ level: config.log.level, format: config.log.format });
  const real = defaultSystemInfo();
  let taken = 0;
  let first: ReturnType<typeof memory> | undefined;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  // Counts samples: time() is read once per sample.
  const source: SystemInfoSource = {
    ...real,
    time: () => {
      taken++;
      if (taken === 2) first = memory();
      if (taken === samples) setImmediate(done);
      return real.time();
    },
  };
  const agent = createAgent(config, { logger, systemInfo: source });
  const t0 = performance.now();
  await agent.start();
  await finished;
  const after = memory();
  const seconds = (performance.now() - t0) / 1000;
  await agent.stop();
  process.stdout.write(JSON.stringify({ samples: taken, interval_ms: interval, seconds, after_first_sample: first, after_samples: after }));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
