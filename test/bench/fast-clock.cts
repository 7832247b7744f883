import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Preloaded into the shipped agent for the sample soak (`node --require fast-clock.cjs cli.cjs
 * agent -c FILE`): its sampling timer, set for agent.interval (FAST_CLOCK_FROM ms, at least
 * 1 s in a config), fires after FAST_CLOCK_TO ms instead, so 3,600 samples take a minute, not
 * an hour. Nothing else changes: the agent runs as installed. After the 2nd and the
 * FAST_CLOCK_SAMPLES-th such timer it writes the process's memory to FAST_CLOCK_OUT as JSON,
 * then stops the agent with SIGTERM.
 */
const from = Number(process.env.FAST_CLOCK_FROM);
const to = Number(process.env.FAST_CLOCK_TO);
const samples = Number(process.env.FAST_CLOCK_SAMPLES);
const out = process.env.FAST_CLOCK_OUT ?? '';

function memory(): { rss_kib: number; anon_kib: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss_kib: kib('VmRSS'), anon_kib: kib('RssAnon') };
}

if (from > 0 && to > 0 && samples > 0 && out) {
  const original = globalThis.setTimeout;
  let fired = 0;
  let first: ReturnType<typeof memory> | undefined;
  // Date.now(), not performance.now(): the global `performance` would load node modules into the agent.
  const t0 = Date.now();
  const fast = ((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    if (ms !== from) return original(callback, ms, ...args);
    return original(() => {
      fired++;
      if (fired === 2) first = memory();
      if (fired === samples) {
        const after = memory();
        writeFileSync(
          out,
          JSON.stringify({
            samples: fired,
            interval_ms: to,
            seconds: (Date.now() - t0) / 1000,
            after_first_sample: first,
            after_samples: after,
          }),
        );
        process.kill(process.pid, 'SIGTERM');
      }
      callback(...args);
    }, to);
  }) as typeof setTimeout;
  globalThis.setTimeout = fast;
}
