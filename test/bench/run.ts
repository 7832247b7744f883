/**
 * `npm run bench`: what the bridge and the agent cost, each figure beside the floor measured
 * in the same run (a bare MQTT.js client through the same broker) and their ratio. Needs a
 * real mosquitto (MOSQUITTO=/path, default /usr/sbin/mosquitto). Takes about 8 minutes.
 * Writes bench-results/latest.json in the current directory.
 *
 * BENCH_QUICK=1 shortens every phase (for checking the bench itself, not for figures).
 *
 * `npm run bench -- latency` runs the command-latency phase alone (a bridge, the echo floor and
 * the contract floor on a mosquitto of their own) and the trials that judge target 5
 * (latency-trials.ts), and writes bench-results/latency.json.
 * BENCH_BRIDGE_NODE_ARGS adds node flags to the bridge's (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p").
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeAgentConfig, writeBridgeConfig } from './configs.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import {
  NODE,
  BareNodes,
  BridgeCommander,
  FloorCommander,
  commandAgent,
  interleaved,
  shippedNodeOptions,
  startAgent,
  startBridge,
  startBridgeAndFloor,
  startFloor,
} from './harness.js';
import { anonKiB, cpuMs, rssKiB, type Child } from './process.js';
import { Probe } from './probe.js';
import { bounded, compare, median, percentile, round, table, type Comparison } from './stats.js';
import {
  measureAgentSoak,
  measureImports,
  measureInProcessPolls,
  type ImportCost,
  type PollFigures,
} from './in-process.js';
import { measureLatency } from './latency.js';
import { measureLatencyTrials } from './latency-trials.js';
import { delay } from '../support/wait.js';

const here = dirname(fileURLToPath(import.meta.url));
const QUICK = process.env.BENCH_QUICK === '1';

const N = {
  /**
   * Starts of each process for the start-up medians. Nine, not five: fifteen starts of the agent
   * and of the floor client in turn spread over 290-395 and 227-347 ms (2026-12-06, 22:35 UTC),
   * and the median of five moved the agent's ratio between 0.87x and 1.43x in three runs.
   */
  startups: QUICK ? 2 : 9,
  warmup: QUICK ? 50 : 1000,
  /**
   * The latency phase's own warm-up: both the bridge and the contract floor still get cheaper
   * per command until some 4,000 commands in (V8 optimising MQTT.js and the bridge), so its
   * figure is taken after 5,000 (docs/performance-log.md, "Steady state, and two cuts").
   */
  latencyWarmup: QUICK ? 50 : 5000,
  latency: QUICK ? 200 : 3000,
  /** Trials of the latency target, each with processes of its own (latency-trials.ts). */
  latencyTrials: QUICK ? 1 : 8,
  wide: QUICK ? 100 : 500,
  spaced: QUICK ? 100 : 500,
  soak: QUICK ? 1000 : 10_000,
  agentCommands: QUICK ? 50 : 500,
  idleSeconds: QUICK ? 5 : 120,
  stockCommands: QUICK ? 60 : 200,
  scale: [8, 64, 512],
  polls: QUICK ? 4000 : 20_000,
  agentSamples: QUICK ? 300 : 3600,
};
/** How far apart the agent soak's samples are (the config's agent.interval is at least 1 s). */
const SOAK_INTERVAL_MS = 10;
/** docs/configuration.md: the default agent.interval (the bench's agents run with it). */
const AGENT_INTERVAL_MS = 15_000;
/** docs/configuration.md: the default board.poll_interval. */
const DEFAULT_POLL_MS = 5000;
/**
 * The soak switches these side by side: tpi1 nodes none protected and none an agent node. Not
 * node 3: the bench's agent runs for it, and with `agent: auto` (the default) a node is an agent
 * node once its agent has been seen, so its OFF waits for the OS shutdown the agent fails on purpose.
 */
const SOAK_NODES = [2, 4, 5, 6, 7];
/** What measureLatency runs, in run() and latencyOnly() alike. */
const LATENCY_COUNTS = { warmup: N.latencyWarmup, latency: N.latency, spaced: N.spaced };
/** How long a process stays quiet before its memory is read again as settled (V8 shrinks after ~8 s). */
const SETTLE_MS = QUICK ? 10_000 : 15_000;
/**
 * How long the scale phase's bridges stay quiet before their memory is read: a 512-node bridge's
 * old generation holds the garbage of its start (513 discovery messages built and sent) until
 * V8's memory reducer compacts it, 18-20 s after start here (--trace-gc: "Mark-Compact (reduce)",
 * old space 12 -> 6 MiB, RSS 61 -> 53 MiB). Read at 15 s, some runs caught it before and some
 * after (the 512-node figure moved between 8 and 19 KiB per node from run to run).
 */
const SCALE_SETTLE_MS = QUICK ? 10_000 : 45_000;
/**
 * How many bridges of each size the scale phase runs side by side (the median is the figure).
 * Identical bridges differ by up to 700 KiB, and 56 nodes beyond the first 8 are allowed 560 KiB
 * in all: five of each size, each size in its own window, read 11.2 and 12.4 KiB per node at 64
 * nodes in two runs of seven (docs/performance.md, "How each is taken").
 */
const SCALE_PROCESSES = QUICK ? 2 : 9;
/** The soak stops here even if the bridge has not yet had all its commands (the count says how many). */
const SOAK_CAP_MS = 90_000;

const log = (text: string): void => void process.stdout.write(`${text}\n`);
const kib = (k: number): number => round(k / 1024, 1);
/** p50 and p99 of a latency sample in ms, as results JSON keeps them. */
const p50p99 = (ms: number[]): { p50: number; p99: number } => ({
  p50: round(percentile(ms, 50), 3),
  p99: round(percentile(ms, 99), 3),
});
/** node's flags as each role ships: NODE_OPTIONS of its systemd unit (the image sets the bridge's). */
export const SHIPPED = { bridge: shippedNodeOptions('bridge'), agent: shippedNodeOptions('agent') };

async function main(): Promise<void> {
  const started = performance.now();
  const work = mkdtempSync(join(tmpdir(), 'tpm-bench-'));
  const rows: Comparison[] = [];
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    quick: QUICK,
    node_options: { bridge: SHIPPED.bridge.join(' '), agent: SHIPPED.agent.join(' ') },
    load_average_at_start: loadavg().map((x) => round(x, 2)),
  };
  const brokers: Mosquitto[] = [];
  const children: Child[] = [];
  try {
    // ---- where start-up time and memory go: each import alone ----------------------------
    log('imports: each module alone in a fresh node ...');
    const imports: ImportCost[] = await measureImports(here);
    results.imports = imports;

    const broker = await startMosquitto({ tcpNoDelay: true, maxQueuedMessages: 100_000 });
    brokers.push(broker);
    const probe = await Probe.connect(broker.url);

    // ---- start-up -------------------------------------------------------------------------
    log(`start-up: ${N.startups} x bridge (simulated Turing Pi 1) and floor client ...`);
    const bridgeStarts: number[] = [];
    const floorStarts: number[] = [];
    const agentStarts: number[] = [];
    let startMessages = { base: 0, discovery: 0, discoveryBytes: 0 };
    for (let i = 0; i < N.startups; i++) {
      const floor = await startFloor(probe, `bench/floor-start-${i}`, broker.url);
      floorStarts.push(floor.startupMs);
      await floor.child.stop();
      const bridge = await startBridge(probe, writeBridgeConfig(work, broker.url, { model: 'tpi1' }), SHIPPED.bridge);
      bridgeStarts.push(bridge.startupMs);
      startMessages = bridge.messages;
      await bridge.child.stop();
      const agent = await startAgent(probe, work, broker.url, `bench/agent-start-${i}`, 3, SHIPPED.agent);
      agentStarts.push(agent.startupMs);
      await agent.child.stop();
    }
    rows.push(
      bounded(
        'bridge start-up to online (median)',
        'ms',
        median(bridgeStarts),
        median(floorStarts),
        1.5,
        `${startMessages.base + startMessages.discovery} messages, every node's power retained`,
      ),
    );
    rows.push(
      bounded(
        'agent start-up to first telemetry (median)',
        'ms',
        median(agentStarts),
        median(floorStarts),
        1.3,
        'floor: connect, subscribe, publish',
      ),
    );
    results.startup = {
      bridge_ms: bridgeStarts.map((x) => round(x, 1)),
      agent_ms: agentStarts.map((x) => round(x, 1)),
      floor_ms: floorStarts.map((x) => round(x, 1)),
      messages_at_online: startMessages,
    };

    // ---- the long-running trio: bridge, agent, floor ---------------------------------------
    log('memory and idle cost: bridge, agent and floor client running side by side ...');
    const run = writeBridgeConfig(work, broker.url, { model: 'tpi1' });
    // The bare-node floor: three, started before the bridge, beside the trio and after it.
    const bare = new BareNodes();
    children.push(bare.start());
    const bridge = await startBridge(probe, run, SHIPPED.bridge);
    children.push(bridge.child);
    children.push(bare.start());
    const floor = await startFloor(probe, 'bench/floor', broker.url);
    children.push(floor.child);
    // The floor that also sends a command's messages (floor-client.ts --contract), for the latency figures.
    const contractFloor = await startFloor(probe, 'bench/contract', broker.url, [], ['--contract']);
    children.push(contractFloor.child);
    // The agent reading the real /proc and sysfs; its argv fails on purpose so each command ends in an event.
    const {
      child: agent,
      startupMs: agentStartupMs,
      telemetryBytes,
    } = await startAgent(probe, work, broker.url, run.base, 3, SHIPPED.agent);
    children.push(agent);
    // The floor of the agent's idle CPU: a bare MQTT.js client that wakes at the agent's interval
    // and publishes a retained message of its telemetry's size (floor-client.ts --sample).
    const sampleFloor = await startFloor(
      probe,
      'bench/agent-floor',
      broker.url,
      [],
      ['--sample', String(AGENT_INTERVAL_MS), String(telemetryBytes)],
    );
    children.push(sampleFloor.child);
    children.push(bare.start());
    rows.push(
      compare('agent start-up to first telemetry (beside the bridge)', 'ms', agentStartupMs, median(floorStarts)),
    );
    await delay(1000);
    // Each bare node's reading, kept in the JSON; the floor is their median.
    const bareEachAtStart = bare.each('rss');
    const rssStart = {
      bridge: rssKiB(bridge.child.pid),
      agent: rssKiB(agent.pid),
      floor: rssKiB(floor.child.pid),
      bare: median(bareEachAtStart),
    };
    const anonStart = {
      bridge: anonKiB(bridge.child.pid),
      agent: anonKiB(agent.pid),
      floor: anonKiB(floor.child.pid),
      bare: bare.anonKiB(),
    };
    rows.push(
      bounded(
        'bridge RSS after start, against bare node',
        'MiB',
        kib(rssStart.bridge),
        kib(rssStart.bare),
        1.35,
        'tpi1 simulated, discovery published',
      ),
    );
    rows.push(bounded('agent RSS after start, against bare node', 'MiB', kib(rssStart.agent), kib(rssStart.bare), 1.2));
    rows.push(
      bounded(
        'agent anonymous memory after start, against bare node',
        'MiB',
        kib(anonStart.agent),
        kib(anonStart.bare),
        3,
      ),
    );
    rows.push(
      compare('bridge RSS after start', 'MiB', kib(rssStart.bridge), kib(rssStart.floor), 'floor: bare MQTT.js client'),
    );
    rows.push(compare('agent RSS after start', 'MiB', kib(rssStart.agent), kib(rssStart.floor)));

    // ---- idle: nothing changes; default poll interval --------------------------------------
    // Let start-up work (lazy compilation, the first gcs, V8's memory reducer some 8 s after
    // start) finish before the window opens: what is measured is what an idle service costs.
    await delay(QUICK ? 1000 : 15_000);
    probe.resetCount(run.base);
    probe.resetCount(`${run.base}/node/3/agent`);
    const cpuNow = (): Record<'bridge' | 'agent' | 'floor' | 'bare' | 'sample', number> => ({
      bridge: cpuMs(bridge.child.pid),
      agent: cpuMs(agent.pid),
      floor: cpuMs(floor.child.pid),
      bare: bare.cpuMs(),
      sample: cpuMs(sampleFloor.child.pid),
    });
    const cpu0 = cpuNow();
    await delay(N.idleSeconds * 1000);
    const cpu1 = cpuNow();
    const perMinute = (k: keyof typeof cpu0): number => ((cpu1[k] - cpu0[k]) * 60) / N.idleSeconds;
    const agentMessages = probe.count(`${run.base}/node/3/agent`).messages;
    const bridgeIdleMessages = probe.count(run.base).messages - agentMessages;
    const idlePolls = (N.idleSeconds * 1000) / DEFAULT_POLL_MS;
    rows.push(
      compare(
        'bridge idle CPU (poll 5 s)',
        'ms/min',
        perMinute('bridge'),
        perMinute('floor'),
        `${N.idleSeconds} s window, threads' schedstat + children`,
      ),
    );
    rows.push(compare('agent idle CPU (interval 15 s)', 'ms/min', perMinute('agent'), perMinute('floor')));
    rows.push(
      bounded(
        'agent idle CPU, against the sampling floor',
        'ms/min',
        perMinute('agent'),
        perMinute('sample'),
        1.2,
        `own threads + children; floor: MQTT.js client publishing ${telemetryBytes} bytes every 15 s`,
      ),
    );
    rows.push(
      compare(
        'agent idle CPU, against bare node',
        'ms/min',
        perMinute('agent'),
        perMinute('bare'),
        'a bare node never wakes: 0, no ratio',
      ),
    );
    rows.push(
      compare(
        'bridge idle CPU, against bare node',
        'ms/min',
        perMinute('bridge'),
        perMinute('bare'),
        'poll 5 s; no target in the issue',
      ),
    );
    rows.push(
      compare(
        'bridge MQTT messages per idle poll',
        'msg',
        bridgeIdleMessages / idlePolls,
        null,
        `${bridgeIdleMessages} in ${idlePolls} polls`,
      ),
    );
    // The same three after the idle window: V8 gives back the young generation that start-up
    // grew only once a process has been quiet for some seconds (its memory reducer), so the
    // figure 1 s after start holds that transient and this one what a running service keeps.
    const rssSettled = {
      bridge: rssKiB(bridge.child.pid),
      agent: rssKiB(agent.pid),
      floor: rssKiB(floor.child.pid),
      bare: bare.rssKiB(),
    };
    const anonSettled = {
      bridge: anonKiB(bridge.child.pid),
      agent: anonKiB(agent.pid),
      floor: anonKiB(floor.child.pid),
      bare: bare.anonKiB(),
    };
    rows.push(
      bounded('bridge RSS settled, against bare node', 'MiB', kib(rssSettled.bridge), kib(rssSettled.bare), 1.35),
    );
    rows.push(bounded('agent RSS settled, against bare node', 'MiB', kib(rssSettled.agent), kib(rssSettled.bare), 1.2));
    rows.push(
      bounded(
        'agent anonymous memory settled, against bare node',
        'MiB',
        kib(anonSettled.agent),
        kib(anonSettled.bare),
        3,
      ),
    );
    rows.push(compare('bridge RSS settled (after idle window)', 'MiB', kib(rssSettled.bridge), kib(rssSettled.floor)));
    rows.push(compare('agent RSS settled (after idle window)', 'MiB', kib(rssSettled.agent), kib(rssSettled.floor)));
    results.idle = {
      seconds: N.idleSeconds,
      cpu_ms_per_minute: {
        bridge: round(perMinute('bridge')),
        agent: round(perMinute('agent')),
        floor: round(perMinute('floor')),
        bare_node: round(perMinute('bare')),
        sampling_floor: round(perMinute('sample')),
      },
      bridge_messages: bridgeIdleMessages,
      agent_messages: agentMessages,
      polls: idlePolls,
    };

    // ---- command latency ------------------------------------------------------------------
    // First as a client that watches everything under the base topic sees it: 4 messages per
    // command (its own, power, state, event), each read by the client that is timing.
    log(`command latency, client watching ${run.base}/#: ${N.wide} commands and echoes ...`);
    await probe.subscribe('bench/floor/pong');
    const wideBridge = await new BridgeCommander(probe, run.base).init();
    const wideFloor = new FloorCommander(probe, 'bench/floor');
    await interleaved(wideBridge, wideFloor, N.warmup);
    const wide = await interleaved(wideBridge, wideFloor, N.wide);
    await probe.unsubscribe('bench/floor/pong');
    rows.push(
      compare(
        'command latency p50, client on <base>/#',
        'ms',
        percentile(wide.bridge, 50),
        percentile(wide.floor, 50),
        '4 messages per command reach the timing client',
      ),
    );
    results.latency_watching_everything = {
      commands: wide.bridge.length,
      bridge_ms: p50p99(wide.bridge),
      floor_ms: p50p99(wide.floor),
    };

    const phase = await measureLatency(probe, broker.url, run, work, SOAK_NODES, LATENCY_COUNTS, log, {
      bridge: bridge.child.pid,
      contract: contractFloor.child.pid,
    });
    rows.push(...phase.rows);
    Object.assign(results, phase.results);
    const trials = await latencyTrials(work);
    rows.push(...trials.rows);
    Object.assign(results, trials.results);
    const { bridge: bridgeCommander, floor: floorCommander } = phase.timing;
    const timing = phase.timing;
    // The wide phase's warm-up and commands, then this phase's.
    const warmed = wide.bridge.length + N.warmup + phase.commands;
    const writesPerCommand = phase.results.latency.state_file_writes_per_command as number;

    // ---- memory after many commands -------------------------------------------------------
    log(`memory: ${N.soak} more commands to the bridge (and echoes), ${N.agentCommands} to the agent ...`);
    const soakT0 = performance.now();
    for (let i = 0; i < N.soak; i++) await floorCommander.command();
    // One chain of commands per node, side by side, as a busy Home Assistant would send them.
    let soaked = 0;
    await Promise.all(
      SOAK_NODES.map(async (node) => {
        const commander =
          node === NODE ? bridgeCommander : await new BridgeCommander(timing.probe, run.base, node).init();
        while (soaked < N.soak && performance.now() - soakT0 < SOAK_CAP_MS) {
          soaked++;
          await commander.command();
        }
      }),
    );
    const soakSeconds = (performance.now() - soakT0) / 1000;
    const agentCommands = await commandAgent(probe, run.base, 3, N.agentCommands);
    await delay(1000);
    const rssAfter = { bridge: rssKiB(bridge.child.pid), agent: rssKiB(agent.pid), floor: rssKiB(floor.child.pid) };
    const bridgeCommands = warmed + soaked;
    rows.push(
      compare(
        `bridge RSS after ${bridgeCommands} commands`,
        'MiB',
        kib(rssAfter.bridge),
        kib(rssAfter.floor),
        `floor after as many echoes`,
      ),
    );
    rows.push(compare(`agent RSS after ${agentCommands} commands`, 'MiB', kib(rssAfter.agent), kib(rssAfter.floor)));
    // And once quiet again (see rssSettled): what the commands left behind, not what is in flight.
    await delay(SETTLE_MS);
    const rssAfterSettled = {
      bridge: rssKiB(bridge.child.pid),
      agent: rssKiB(agent.pid),
      floor: rssKiB(floor.child.pid),
    };
    rows.push(
      compare(
        `bridge RSS ${SETTLE_MS / 1000} s after the commands`,
        'MiB',
        kib(rssAfterSettled.bridge),
        kib(rssAfterSettled.floor),
      ),
    );
    rows.push(
      compare(
        `agent RSS ${SETTLE_MS / 1000} s after the commands`,
        'MiB',
        kib(rssAfterSettled.agent),
        kib(rssAfterSettled.floor),
      ),
    );
    results.memory = {
      rss_kib_after_start: rssStart,
      anon_kib_after_start: anonStart,
      rss_kib_settled_after_start: rssSettled,
      anon_kib_settled_after_start: anonSettled,
      rss_kib_after_commands: rssAfter,
      rss_kib_settled_after_commands: rssAfterSettled,
      bridge_commands: bridgeCommands,
      agent_commands: agentCommands,
      soak_seconds: round(soakSeconds, 1),
      // The bare-node floor above is the median of these (started before the bridge, beside it, after the trio).
      bare_nodes_rss_kib_after_start: bareEachAtStart,
      bare_nodes_rss_kib_now: bare.each('rss'),
    };
    for (const child of [bridge.child, agent, floor.child, contractFloor.child, sampleFloor.child]) await child.stop();
    await timing.probe.close();

    // ---- the agent over many samples (a process of its own, the bare node beside it) -----------
    log(
      `agent: ${N.agentSamples} samples, ${SOAK_INTERVAL_MS} ms apart (the shipped CLI, its 1 s sampling timer ` +
        `sped up) ...`,
    );
    const soakConfig = writeAgentConfig(work, broker.url, 'bench/agent-soak', 3, ['false'], '1s');
    const soak = await measureAgentSoak(here, soakConfig, N.agentSamples, SOAK_INTERVAL_MS, SHIPPED.agent);
    const bareNow = { rss: bare.rssKiB(), anon: bare.anonKiB() };
    rows.push(
      bounded(
        `agent RSS after ${soak.samples} samples, against bare node`,
        'MiB',
        kib(soak.after_samples.rss_kib),
        kib(bareNow.rss),
        1.2,
        `${round(kib(soak.after_samples.rss_kib - soak.after_first_sample.rss_kib), 1)} MiB more than after the first`,
      ),
    );
    rows.push(
      bounded(
        `agent anonymous memory after ${soak.samples} samples, against bare node`,
        'MiB',
        kib(soak.after_samples.anon_kib),
        kib(bareNow.anon),
        3,
      ),
    );
    results.agent_soak = { ...soak, bare_node: { rss_kib: bareNow.rss, anon_kib: bareNow.anon } };
    await bare.stop();
    children.length = 0;

    // ---- the library in a process of its own: bus transactions, messages and heap per poll --
    log(
      `idle polls through the library (a process of its own): ${N.polls} polls of a Turing Pi 1 on the ` +
        `simulated bus ...`,
    );
    const polls: PollFigures = await measureInProcessPolls(here, broker.url, work, N.polls);
    rows.push(
      compare(
        'bus transactions per idle poll',
        'txn',
        polls.busTransactionsPerPoll,
        null,
        `+${polls.rtcTransactions} for the RTC once a minute`,
      ),
    );
    rows.push(compare('MQTT messages per idle poll (library)', 'msg', polls.messagesPerPoll, null, 'goal: 0'));
    rows.push(compare('time per poll (library)', 'us', polls.microsecondsPerPoll, null));
    rows.push(compare('heap kept per poll', 'bytes', polls.heapBytesPerPoll, null, 'after gc; 0 = nothing grows'));
    results.polls = polls;

    // ---- scale ----------------------------------------------------------------------------
    log(
      `scale: simulated generic boards of ${N.scale.join(', ')} nodes, ${SCALE_PROCESSES} bridges of each ` +
        `size, started in turns ...`,
    );
    // Bridges of each size side by side, the median of their RSS: identical bridges differ by
    // hundreds of KiB (V8 keeps one old-space page more or fewer, a thread's malloc arena grew or
    // not), as much as 56 nodes' own cost. The sizes take turns (8, 64, 512, 8, ...) and are read
    // at the same moment, so what the machine does meanwhile falls on every size alike.
    const bySize = new Map<number, { run: Awaited<ReturnType<typeof startBridge>>; atOnline: number }[]>(
      N.scale.map((nodes) => [nodes, []]),
    );
    for (let i = 0; i < SCALE_PROCESSES; i++) {
      for (const nodes of N.scale) {
        const run = await startBridge(
          probe,
          writeBridgeConfig(work, broker.url, { model: 'generic', nodes }),
          SHIPPED.bridge,
        );
        children.push(run.child);
        bySize.get(nodes)?.push({ run, atOnline: rssKiB(run.child.pid) });
      }
    }
    // What each node keeps, not the garbage of publishing its discovery: once V8 has settled.
    // Both readings count from the last bridge's start: the first ones are older by the turns.
    await delay(SETTLE_MS);
    const readAll = (): Map<Child, number> =>
      new Map([...bySize.values()].flat().map(({ run }) => [run.child, rssKiB(run.child.pid)]));
    const early = readAll();
    await delay(SCALE_SETTLE_MS - SETTLE_MS);
    const settled = readAll();
    for (const child of children) await child.stop();
    children.length = 0;
    const scale: Record<string, unknown>[] = [];
    for (const [nodes, runs] of bySize) {
      const s = (runs[0] as (typeof runs)[number]).run;
      const each = runs.map(({ run }) => settled.get(run.child) ?? NaN);
      scale.push({
        nodes,
        processes: runs.length,
        startup_ms: round(median(runs.map(({ run }) => run.startupMs)), 1),
        discovery_messages: s.messages.discovery,
        discovery_bytes: s.messages.discoveryBytes,
        state_messages: s.messages.base,
        rss_kib_at_online: median(runs.map(({ atOnline }) => atOnline)),
        [`rss_kib_each_at_${SETTLE_MS / 1000}s`]: runs.map(({ run }) => early.get(run.child) ?? NaN),
        rss_kib_each: each,
        rss_kib: median(each),
      });
    }
    const first = scale[0] as { nodes: number; rss_kib: number; startup_ms: number };
    for (const s of scale as {
      nodes: number;
      rss_kib: number;
      startup_ms: number;
      discovery_messages: number;
      discovery_bytes: number;
      kib_per_node?: number;
    }[]) {
      const perNode = s.nodes === first.nodes ? null : (s.rss_kib - first.rss_kib) / (s.nodes - first.nodes);
      if (perNode !== null) s.kib_per_node = round(perNode, 1);
      rows.push(
        compare(
          `${s.nodes} nodes: start-up`,
          'ms',
          s.startup_ms,
          median(floorStarts),
          `${s.discovery_messages} discovery msgs, ${round(s.discovery_bytes / 1024, 1)} KiB`,
        ),
      );
      rows.push(
        compare(
          `${s.nodes} nodes: RSS settled (${SCALE_SETTLE_MS / 1000} s)`,
          'MiB',
          kib(s.rss_kib),
          kib(rssStart.bare),
          perNode === null
            ? 'floor: bare node'
            : `${round(perNode, 1)} KiB per node beyond ${first.nodes} (target < 10: ` +
                `${perNode < 10 ? 'met' : 'NOT met'})`,
        ),
      );
    }
    results.scale = scale;
    await probe.close();

    // ---- stock mosquitto: what users see without set_tcp_nodelay ---------------------------
    log(`stock mosquitto (set_tcp_nodelay false): ${N.stockCommands} commands and echoes ...`);
    const stock = await startMosquitto({ tcpNoDelay: false, maxQueuedMessages: 100_000 });
    brokers.push(stock);
    const stockPair = await startBridgeAndFloor(work, stock.url, 'bench/floor', SHIPPED.bridge);
    children.push(stockPair.bridge, stockPair.floor);
    await interleaved(stockPair.bridgeCommander, stockPair.floorCommander, 20, 10);
    const stockLatency = await interleaved(stockPair.bridgeCommander, stockPair.floorCommander, N.stockCommands);
    rows.push(
      compare(
        'stock broker: latency p50',
        'ms',
        percentile(stockLatency.bridge, 50),
        percentile(stockLatency.floor, 50),
        'set_tcp_nodelay false',
      ),
    );
    rows.push(
      compare(
        'stock broker: latency p99',
        'ms',
        percentile(stockLatency.bridge, 99),
        percentile(stockLatency.floor, 99),
      ),
    );
    results.stock_broker_latency = {
      commands: stockLatency.bridge.length,
      bridge_ms: p50p99(stockLatency.bridge),
      floor_ms: p50p99(stockLatency.floor),
    };
    await stockPair.close();
    children.length = 0;

    // ---- for comparison: bridge and agent with node's default flags -------------------------
    // Every phase above runs them as shipped (SHIPPED: the units' NODE_OPTIONS); this one shows
    // what those flags change.
    log(`node's default flags: ${N.soak} commands and echoes ...`);
    const shipped = await startBridgeAndFloor(work, broker.url, 'bench/floor-defaults', []);
    children.push(shipped.bridge, shipped.floor);
    await delay(1000);
    // The agent as its unit runs it, beside them (its own base topic: the bridge does not command it).
    const agentProbe = await Probe.connect(broker.url);
    const shippedAgent = (await startAgent(agentProbe, work, broker.url, 'bench/agent-defaults', 3, [])).child;
    children.push(shippedAgent);
    await delay(1000);
    const rssOf = (): { bridge: number; agent: number; floor: number } => ({
      bridge: rssKiB(shipped.bridge.pid),
      agent: rssKiB(shippedAgent.pid),
      floor: rssKiB(shipped.floor.pid),
    });
    const shippedStart = rssOf();
    await interleaved(shipped.bridgeCommander, shipped.floorCommander, N.warmup);
    const shippedLatency = await interleaved(shipped.bridgeCommander, shipped.floorCommander, N.soak);
    const shippedAgentCommands = await commandAgent(agentProbe, 'bench/agent-defaults', 3, N.agentCommands);
    await delay(1000);
    const shippedAfter = rssOf();
    const shippedCommands = shippedLatency.bridge.length + N.warmup;
    rows.push(
      compare(
        'node defaults: bridge RSS after start',
        'MiB',
        kib(shippedStart.bridge),
        kib(shippedStart.floor),
        'floor: bare MQTT.js client',
      ),
    );
    rows.push(
      compare(
        `node defaults: bridge RSS after ${shippedCommands} commands`,
        'MiB',
        kib(shippedAfter.bridge),
        kib(shippedAfter.floor),
      ),
    );
    rows.push(compare('node defaults: agent RSS after start', 'MiB', kib(shippedStart.agent), kib(shippedStart.floor)));
    rows.push(
      compare(
        `node defaults: agent RSS after ${shippedAgentCommands} commands`,
        'MiB',
        kib(shippedAfter.agent),
        kib(shippedAfter.floor),
        `floor after ${shippedCommands} echoes`,
      ),
    );
    rows.push(
      compare(
        'node defaults: latency p50',
        'ms',
        percentile(shippedLatency.bridge, 50),
        percentile(shippedLatency.floor, 50),
      ),
    );
    results.node_defaults = {
      node_options: '',
      rss_kib: { start: shippedStart, after: shippedAfter },
      agent_commands: shippedAgentCommands,
      commands: shippedLatency.bridge.length,
      bridge_ms: p50p99(shippedLatency.bridge),
      floor_ms: p50p99(shippedLatency.floor),
    };
    await shippedAgent.stop();
    await agentProbe.close();
    await shipped.close();
    children.length = 0;

    // ---- report ---------------------------------------------------------------------------
    results.comparisons = rows;
    results.seconds = round((performance.now() - started) / 1000, 1);
    results.load_average_at_end = loadavg().map((x) => round(x, 2));
    log('');
    log(
      `turingpi-mqtt bench, ${results.date}, node ${process.version}, ${process.platform} ` +
        `${process.arch}${QUICK ? ' (QUICK: not for quoting)' : ''}`,
    );
    log(
      `bridge and agent as shipped: node ${SHIPPED.bridge.join(' ')} (bridge), ${SHIPPED.agent.join(' ')} ` +
        `(agent); floors with node's defaults`,
    );
    log('floor = a bare MQTT.js client process through the same mosquitto, measured in this run');
    log('');
    log(table(rows));
    log('');
    log('heaviest imports (each alone, fresh node):');
    for (const i of [...imports].sort((a, b) => b.ms - a.ms).slice(0, 8))
      log(`  ${i.module.padEnd(34)} ${String(round(i.ms, 0)).padStart(5)} ms  +${kib(i.rssKiB)} MiB`);
    log(
      `state file writes per command: ${writesPerCommand.toFixed(2)} (each fsync'd); commands refused "busy" ` +
        `right after their power answer: ${bridgeCommander.busyRefusals} (resent)`,
    );
    log(`bench took ${results.seconds} s`);
    mkdirSync('bench-results', { recursive: true });
    writeFileSync(join('bench-results', 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
    log('written: bench-results/latest.json');
  } finally {
    for (const child of children) await child.stop();
    for (const b of brokers) await b.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Issue 16's target 5 over N.latencyTrials trials, on a mosquitto of their own (the phase's
 * processes stay idle meanwhile); `extra`: node flags added to the bridge's.
 */
async function latencyTrials(
  work: string,
  extra: string[] = [],
): Promise<{ rows: Comparison[]; results: Record<string, unknown> }> {
  const broker = await startMosquitto({ tcpNoDelay: true, maxQueuedMessages: 100_000 });
  try {
    const counts = { warmup: N.latencyWarmup, latency: N.latency };
    return await measureLatencyTrials(
      broker.url,
      join(work, 'trials'),
      N.latencyTrials,
      [...SHIPPED.bridge, ...extra],
      counts,
      log,
    );
  } finally {
    await broker.stop();
  }
}

/**
 * The latency phase alone, with the same counts and the same processes as in main(), then the
 * trials that judge target 5.
 */
async function latencyOnly(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'tpm-bench-'));
  const started = performance.now();
  const loadAtStart = loadavg().map((x) => round(x, 2));
  const broker = await startMosquitto({ tcpNoDelay: true, maxQueuedMessages: 100_000 });
  const children: Child[] = [];
  try {
    const probe = await Probe.connect(broker.url);
    const extra = (process.env.BENCH_BRIDGE_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const run = writeBridgeConfig(work, broker.url, { model: 'tpi1' });
    const bridge = await startBridge(probe, run, [...SHIPPED.bridge, ...extra]);
    children.push(bridge.child);
    children.push((await startFloor(probe, 'bench/floor', broker.url)).child);
    const contract = (await startFloor(probe, 'bench/contract', broker.url, [], ['--contract'])).child;
    children.push(contract);
    await delay(1000);
    const pids = { bridge: bridge.child.pid, contract: contract.pid };
    const phase = await measureLatency(probe, broker.url, run, work, SOAK_NODES, LATENCY_COUNTS, log, pids);
    await phase.timing.probe.close();
    await probe.close();
    for (const child of children.splice(0)) await child.stop();
    const trials = await latencyTrials(work, extra);
    const rows = [...phase.rows, ...trials.rows];
    const results = {
      date: new Date().toISOString(),
      node: process.version,
      node_options: { bridge: [...SHIPPED.bridge, ...extra].join(' ') },
      quick: QUICK,
      load_average_at_start: loadAtStart,
      ...phase.results,
      ...trials.results,
      comparisons: rows,
      load_average_at_end: loadavg().map((x) => round(x, 2)),
      seconds: round((performance.now() - started) / 1000, 1),
    };
    log('');
    log(
      `command latency alone, ${results.date}, ` +
        `load ${loadAtStart.join(' ')} -> ${results.load_average_at_end.join(' ')}`,
    );
    log(table(rows));
    mkdirSync('bench-results', { recursive: true });
    writeFileSync(join('bench-results', 'latency.json'), `${JSON.stringify(results, null, 2)}\n`);
    log('written: bench-results/latency.json');
  } finally {
    for (const child of children) await child.stop();
    await broker.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

const phase = process.argv[2];
if (phase !== undefined && phase !== 'latency') {
  process.stderr.write(`usage: run.js [latency]  (no argument: every phase)\n`);
  process.exit(2);
}
(phase === 'latency' ? latencyOnly() : main()).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
