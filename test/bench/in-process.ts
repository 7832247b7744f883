import { spawn } from 'node:child_process';
import { readFileSync, watch } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { round } from './stats.js';

/** Figures taken inside one process: import costs, and the bridge's poll through the library. */

export interface ImportCost {
  module: string;
  ms: number;
  /** RSS beyond a bare `node` in KiB. */
  rssKiB: number;
}

/** Imports each module alone in a fresh node and reports its time and resident memory. */
export async function measureImports(benchDir: string): Promise<ImportCost[]> {
  const dist = resolve(benchDir, '../../src');
  const modules: [string, string][] = [
    ['(bare node)', ''],
    ...['mqtt', 'pino', 'pino-pretty', 'zod', 'yaml', 'croner', 'node-cron', 'aedes', 'systeminformation'].flatMap(
      (name): [string, string][] => {
        try {
          return [[name, import.meta.resolve(name)]];
        } catch {
          return []; // not installed (any more): nothing to measure
        }
      },
    ),
    ['dist: config/index.js', pathToFileURL(join(dist, 'config/index.js')).href],
    ['dist: util/logger.js', pathToFileURL(join(dist, 'util/logger.js')).href],
    ['dist: app/bridge.js', pathToFileURL(join(dist, 'app/bridge.js')).href],
    ['dist: app/agent.js', pathToFileURL(join(dist, 'app/agent.js')).href],
    ['dist: index.js (library)', pathToFileURL(join(dist, 'index.js')).href],
  ];
  const results: ImportCost[] = [];
  let bare = 0;
  for (const [name, url] of modules) {
    const script =
      `const t = performance.now(); ${url ? `await import(${JSON.stringify(url)});` : ''} const ` +
      `ms = performance.now() - t; process.stdout.write(JSON.stringify({ ms, rss: ` +
      `Number(/VmRSS:\\s+(\\d+)/.exec((await import('node:fs')).readFileSync('/proc/self/status','utf8'))[1]) }));`;
    // Median of three starts: one cold start is mostly the disk cache.
    const runs: { ms: number; rss: number }[] = [];
    for (let i = 0; i < 3; i++)
      runs.push(
        await nodeJson<{ ms: number; rss: number }>(['--input-type=module', '-e', script], 'import measurement'),
      );
    runs.sort((a, b) => a.ms - b.ms);
    const mid = runs[1] as { ms: number; rss: number };
    if (!url) bare = mid.rss;
    results.push({ module: name, ms: round(mid.ms, 1), rssKiB: url ? mid.rss - bare : mid.rss });
  }
  return results;
}

/** Runs node with `args` and parses what it printed as JSON; `what` names it in the error of a failed run. */
function nodeJson<T>(args: string[], what: string): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`${what} failed (exit ${code}): ${err}`));
      else resolvePromise(JSON.parse(out) as T);
    });
  });
}

export interface AgentSoak {
  samples: number;
  interval_ms: number;
  seconds: number;
  after_first_sample: { rss_kib: number; anon_kib: number };
  after_samples: { rss_kib: number; anon_kib: number };
}

/**
 * The shipped agent's memory after `samples` samples `intervalMs` apart: the CLI with its
 * sampling timer sped up by fast-clock.cts (the config's agent.interval is 1 s, at least).
 */
export async function measureAgentSoak(
  benchDir: string,
  configFile: string,
  samples: number,
  intervalMs: number,
  nodeArgs: string[] = [],
): Promise<AgentSoak> {
  const out = join(dirname(configFile), `agent-soak-${process.pid}.json`);
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      // CommonJS, as the CLI is: an ES module preload would load node's ES module loader too.
      '--require',
      join(benchDir, 'fast-clock.cjs'),
      resolve(benchDir, '../../src/cli.cjs'),
      'agent',
      '-c',
      configFile,
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        NODE_ENV: 'production',
        FAST_CLOCK_FROM: '1000',
        FAST_CLOCK_TO: String(intervalMs),
        FAST_CLOCK_SAMPLES: String(samples),
        FAST_CLOCK_OUT: out,
      },
    },
  );
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
  const code = await new Promise<number | null>((done) => child.on('exit', done));
  try {
    return JSON.parse(readFileSync(out, 'utf8')) as AgentSoak;
  } catch {
    throw new Error(`agent soak: no figures (exit ${code}): ${err}`);
  }
}

/** Counts the renames of bridge.json in a state directory (each is one fsync'd, atomic write). */
export function measureStateWrites(stateDir: string): { stop(): number } {
  let writes = 0;
  const watcher = watch(stateDir, (event, file) => {
    if (event === 'rename' && file === 'bridge.json') writes++;
  });
  return {
    stop: () => {
      watcher.close();
      return writes;
    },
  };
}

export interface PollFigures {
  polls: number;
  busTransactionsPerPoll: number;
  /** Transactions of the one poll a minute that also reads the RTC, beyond a plain poll. */
  rtcTransactions: number;
  messagesPerPoll: number;
  microsecondsPerPoll: number;
  /** Heap still held per poll, after full gcs: the slope over five checkpoints (0 if it shrinks). */
  heapBytesPerPoll: number;
}

/**
 * The poll figures, taken in a node process of their own (poll-child.ts): nothing but the
 * bridge runs there, so the heap it keeps is the bridge's, not the bench's own clients'.
 */
export function measureInProcessPolls(
  benchDir: string,
  url: string,
  work: string,
  polls: number,
): Promise<PollFigures> {
  return nodeJson<PollFigures>(
    ['--expose-gc', resolve(benchDir, 'poll-child.js'), url, work, String(polls)],
    'poll measurement',
  );
}

/** Least-squares slope of `ys` over `xs`. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  xs.forEach((x, i) => {
    num += (x - mx) * ((ys[i] ?? my) - my);
    den += (x - mx) ** 2;
  });
  return den === 0 ? 0 : num / den;
}

/**
 * A Turing Pi 1 bridge through the library (docs/library.md) on the simulated bus, so the
 * bus's own counters say what one poll costs. The poll timer is set to an hour: the polls
 * counted are the ones called here, with nothing changing on the board. Needs `gc` (node
 * --expose-gc): run by poll-child.ts.
 */
export async function pollFigures(
  benchDir: string,
  url: string,
  work: string,
  polls: number,
  gc: () => void,
): Promise<PollFigures> {
  const lib = (await import(
    pathToFileURL(resolve(benchDir, '../../src/index.js')).href
  )) as typeof import('../../src/index.js');
  const sim = lib.createSimulatedTpi1({ clock: lib.systemClock });
  const base = `bench/inproc${process.pid}`;
  const config = lib.parseConfig({
    mqtt: { url, base_topic: base },
    homeassistant: {
      enabled: true,
      discovery_prefix: `bench-ha/inproc${process.pid}`,
      status_topic: `bench-ha/inproc${process.pid}/status`,
    },
    board: { type: 'tpi1', id: 'benchinproc', poll_interval: '1h' },
    power: { min_off_time: 0, on_stagger: 0 },
    state_dir: join(work, 'inproc'),
    log: { level: 'silent', format: 'json' },
  });
  const bridge = lib.createBridge(config, { i2cBus: sim.bus, logger: lib.silentLogger() });
  await bridge.start();
  try {
    // The first poll after start read the RTC too (once a minute): count one plain poll first.
    sim.faults.resetCounters();
    await bridge.poll();
    const plain = sim.faults.counters.reads + sim.faults.counters.writes;

    // Warm-up: V8 keeps compiling and collecting type feedback for the first few thousand
    // polls (the heap grows by ~80 KB over them, then stays flat): not what a poll keeps.
    for (let i = 0; i < Math.max(50, polls / 4); i++) await bridge.poll();
    sim.faults.resetCounters();
    const published0 = bridge.connection.published;
    // The heap after a full gc at five checkpoints; what each poll keeps is the slope (a
    // difference of two readings would also carry whatever one gc happened to free).
    const checkpoints = 5;
    const step = Math.ceil(polls / (checkpoints - 1));
    const done: number[] = [];
    const heap: number[] = [];
    let elapsed = 0;
    for (let k = 0; k < checkpoints; k++) {
      if (k > 0) {
        const t0 = performance.now();
        for (let i = 0; i < step; i++) await bridge.poll();
        elapsed += performance.now() - t0;
      }
      gc();
      done.push(k * step);
      heap.push(process.memoryUsage().heapUsed);
    }
    const counted = step * (checkpoints - 1);
    const transactions = sim.faults.counters.reads + sim.faults.counters.writes;
    const published = bridge.connection.published - published0;

    // One poll with the RTC due: step the bridge's memory of its last RTC read back.
    (bridge as unknown as { lastRtcRead: number }).lastRtcRead = Number.NEGATIVE_INFINITY;
    sim.faults.resetCounters();
    await bridge.poll();
    const withRtc = sim.faults.counters.reads + sim.faults.counters.writes;

    return {
      polls: counted,
      busTransactionsPerPoll: round(transactions / counted, 2),
      rtcTransactions: withRtc - plain,
      messagesPerPoll: round(published / counted, 3),
      microsecondsPerPoll: round((elapsed * 1000) / counted, 1),
      heapBytesPerPoll: round(Math.max(0, slope(done, heap)), 1),
    };
  } finally {
    await bridge.stop();
  }
}
