/**
 * Two builds' bridges side by side, for telling whether a change made commands faster: the
 * bridge of this build and that of another checkout (built: its `dist/src/cli.cjs`), each a
 * simulated Turing Pi 1 as shipped, on one mosquitto, with the contract floor, all timed by one
 * client in interleaved blocks of 50, round after round. Run one after the other, the latency
 * phase moves from run to run by more than most changes are worth (docs/performance.md,
 * "Command latency"); side by side, each round meets both builds in the same state of the
 * machine. Not part of `npm run bench`: a tool for the engineer, not a figure for the README.
 *
 *   node dist/test/bench/side-by-side.js OTHER_CHECKOUT [ROUNDS [COMMANDS_PER_ROUND]]
 *
 * Prints, per round, each bridge's p50 against the contract floor's, theirs against each other
 * and each process's CPU per command; then the medians of the rounds after the first five
 * (V8 is still optimising both bridges then).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeBridgeConfig } from './configs.js';
import {
  BridgeCommander,
  FloorCommander,
  commandProbe,
  interleavedMany,
  shippedNodeOptions,
  startBridge,
  startFloor,
} from './harness.js';
import { countCpu, type Child } from './process.js';
import { Probe } from './probe.js';
import { median, percentile, round } from './stats.js';
import { startMosquitto } from '../support/mosquitto.js';
import { delay } from '../support/wait.js';

const SKIPPED_ROUNDS = 5;
function usage(): never {
  process.stderr.write('usage: side-by-side.js OTHER_CHECKOUT [ROUNDS > 5 [COMMANDS_PER_ROUND >= 50]]\n');
  process.exit(2);
}
const [otherCheckout = usage(), roundsArg, perRoundArg] = process.argv.slice(2);
const rounds = Number(roundsArg ?? 25);
const perRound = Number(perRoundArg ?? 1000);
if (!(rounds > SKIPPED_ROUNDS) || !(perRound >= 50)) usage();

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'tpm-side-by-side-'));
  const broker = await startMosquitto({ tcpNoDelay: true, maxQueuedMessages: 100_000 });
  const children: Child[] = [];
  const watcher = await Probe.connect(broker.url);
  try {
    const flags = shippedNodeOptions('bridge');
    const runs = { ours: writeBridgeConfig(work, broker.url, { model: 'tpi1' }) };
    const theirs = writeBridgeConfig(work, broker.url, { model: 'tpi1' });
    children.push((await startBridge(watcher, runs.ours, flags)).child);
    const otherCli = resolve(otherCheckout, 'dist/src/cli.cjs');
    children.push((await startBridge(watcher, theirs, flags, otherCli)).child);
    children.push((await startFloor(watcher, 'bench/contract', broker.url, [], ['--contract'])).child);
    for (const run of [runs.ours, theirs]) {
      await watcher.unwatch(run.base);
      await watcher.unwatch(run.discovery);
    }
    await delay(1000);
    // One timing client for all three, subscribed to what each answers.
    const probe = await commandProbe(broker.url, ['bench/contract'], { base: runs.ours.base, nodes: [5] });
    await probe.subscribe(`${theirs.base}/bridge/event`, 0);
    await probe.subscribe(`${theirs.base}/node/5/power`);
    const commanders = {
      ours: await new BridgeCommander(probe, runs.ours.base).init(),
      theirs: await new BridgeCommander(probe, theirs.base).init(),
      contract: new FloorCommander(probe, 'bench/contract'),
    };
    const pids = { ours: children[0]?.pid ?? 0, theirs: children[1]?.pid ?? 0, contract: children[2]?.pid ?? 0 };
    type Key = keyof typeof pids;
    const keys = Object.keys(pids) as Key[];
    const rows: { ours: number; theirs: number; oursOverTheirs: number; cpu: Record<Key, number> }[] = [];
    process.stdout.write(
      'round  ours/contract  theirs/contract  ours/theirs  CPU us per command: ours theirs contract\n',
    );
    for (let r = 1; r <= rounds; r++) {
      const cpuSince = countCpu(pids);
      // Which bridge goes first alternates, so neither always follows the contract floor.
      const order =
        r % 2 === 0 ? commanders : { theirs: commanders.theirs, ours: commanders.ours, contract: commanders.contract };
      const ms = await interleavedMany(order, perRound);
      const cpu = cpuSince(perRound);
      const p50 = (k: Key): number => percentile(ms[k], 50);
      const row = {
        ours: p50('ours') / p50('contract'),
        theirs: p50('theirs') / p50('contract'),
        oursOverTheirs: p50('ours') / p50('theirs'),
        cpu,
      };
      rows.push(row);
      process.stdout.write(
        `${String(r).padStart(5)}  ${row.ours.toFixed(2).padStart(13)}  ${row.theirs.toFixed(2).padStart(15)}  ` +
          `${row.oursOverTheirs.toFixed(3).padStart(11)}  ${keys.map((k) => round(cpu[k], 0)).join(' ')}\n`,
      );
    }
    const kept = rows.slice(SKIPPED_ROUNDS);
    const m = (pick: (row: (typeof rows)[number]) => number): string => median(kept.map(pick)).toFixed(3);
    process.stdout.write(
      `median of rounds ${SKIPPED_ROUNDS + 1}-${rounds}: ours/contract ${m((x) => x.ours)}, ` +
        `theirs/contract ${m((x) => x.theirs)}, ours/theirs ${m((x) => x.oursOverTheirs)}; CPU us per command ` +
        `ours ${m((x) => x.cpu.ours)}, theirs ${m((x) => x.cpu.theirs)}, contract ${m((x) => x.cpu.contract)}\n`,
    );
    await probe.close();
  } finally {
    await watcher.close();
    for (const child of children) await child.stop();
    await broker.stop();
    rmSync(work, { recursive: true, force: true });
  }
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
