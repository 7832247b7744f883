/**
 * Two builds' bridges side by side, for telling whether a change made commands faster: the
 * bridge of this build and that of another checkout (built: its `dist/src/cli.cjs`), each a
 * simulated Turing Pi 1 as shipped, on one mosquitto, with the contract floor, all timed by one
 * client in interleaved blocks of 50. Each round is a trial of its own (latency-trials.ts):
 * both bridges and the floor start afresh, are warmed up, timed and stopped, because what a
 * process draws at its start moves its p50 by more than most changes are worth
 * (docs/performance-log.md, "How sure a latency figure is"). Which bridge goes first alternates.
 * Not part of `npm run bench`: a tool for the engineer, not a figure for the README.
 *
 *   node dist/test/bench/side-by-side.js OTHER_CHECKOUT [ROUNDS [COMMANDS_PER_ROUND]]
 *
 * OTHER_CHECKOUT may be this one: with `THEIRS_NODE_ARGS="--flag ..."` (node flags added to the
 * shipped ones for the other bridge only) it compares one build under two sets of flags.
 *
 * Prints, per round, each bridge's p50 against the contract floor's, theirs against each other
 * and each process's CPU per command; then the p50s of all rounds' commands pooled and the
 * median of the rounds' ratios.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { shippedNodeOptions } from './harness.js';
import { p50Ratio, runTrial, type Contestant } from './latency-trials.js';
import { median, round } from './stats.js';
import { startMosquitto } from '../support/mosquitto.js';

/** Each round's own warm-up (the latency phase's: V8 is still optimising both bridges before). */
const WARMUP = 5000;
function usage(): never {
  process.stderr.write('usage: side-by-side.js OTHER_CHECKOUT [ROUNDS >= 1 [COMMANDS_PER_ROUND >= 50]]\n');
  process.exit(2);
}
const [otherCheckout = usage(), roundsArg, perRoundArg] = process.argv.slice(2);
const rounds = Number(roundsArg ?? 10);
const perRound = Number(perRoundArg ?? 3000);
if (!(rounds >= 1) || !(perRound >= 50)) usage();

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'tpm-side-by-side-'));
  const broker = await startMosquitto({ tcpNoDelay: true, maxQueuedMessages: 100_000 });
  try {
    const flags = shippedNodeOptions('bridge');
    const ours: Contestant = { kind: 'bridge', nodeArgs: flags };
    const theirFlags = [...flags, ...(process.env.THEIRS_NODE_ARGS ?? '').split(' ').filter(Boolean)];
    const theirCli = resolve(otherCheckout, 'dist/src/cli.cjs');
    const theirs: Contestant = { kind: 'bridge', nodeArgs: theirFlags, cli: theirCli };
    const contract: Contestant = { kind: 'contract' };
    const pooled = { ours: [] as number[], theirs: [] as number[], contract: [] as number[] };
    const ratios: number[] = [];
    process.stdout.write(
      'round  ours/contract  theirs/contract  ours/theirs  CPU us per command: ours theirs contract\n',
    );
    for (let r = 1; r <= rounds; r++) {
      // Which bridge starts first and goes first in each round of blocks alternates.
      const contestants = r % 2 === 0 ? { ours, theirs, contract } : { theirs, ours, contract };
      const { ms, cpuUs } = await runTrial(broker.url, join(work, `round-${r}`), contestants, {
        warmup: WARMUP,
        latency: perRound,
      });
      for (const key of ['ours', 'theirs', 'contract'] as const) pooled[key].push(...ms[key]);
      ratios.push(p50Ratio(ms.ours, ms.theirs));
      const cpu = [cpuUs.ours, cpuUs.theirs, cpuUs.contract].map((us) => round(us, 0)).join(' ');
      process.stdout.write(
        `${String(r).padStart(5)}  ${p50Ratio(ms.ours, ms.contract).toFixed(2).padStart(13)}  ` +
          `${p50Ratio(ms.theirs, ms.contract).toFixed(2).padStart(15)}  ` +
          `${(ratios.at(-1) ?? Number.NaN).toFixed(3).padStart(11)}  ${cpu}\n`,
      );
    }
    process.stdout.write(
      `all ${rounds} rounds pooled: ours/contract ${p50Ratio(pooled.ours, pooled.contract).toFixed(3)}, ` +
        `theirs/contract ${p50Ratio(pooled.theirs, pooled.contract).toFixed(3)}, ` +
        `ours/theirs ${p50Ratio(pooled.ours, pooled.theirs).toFixed(3)} ` +
        `(median of the rounds ${median(ratios).toFixed(3)}); p50 pooled: ours ${pooledP50(pooled.ours)}, ` +
        `theirs ${pooledP50(pooled.theirs)}, contract ${pooledP50(pooled.contract)} ms\n`,
    );
  } finally {
    await broker.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** The p50 of pooled round trips in ms, to three places. */
function pooledP50(ms: number[]): string {
  return median(ms).toFixed(3);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `side-by-side failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
