import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startBridge, tempDir, testBridgeConfig, writeConfig, type CliProcess } from '../support/cli.js';
import { requireMosquitto, startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { Recorder, type EventPayload } from '../support/recorder.js';
import { delay, simulatedPowerRegister, stopProcesses, until } from './helpers.js';

/**
 * The BUILT bridge stopped (SIGTERM, node 3) or killed (SIGKILL, node 4) while a graceful
 * SHUTDOWN waits for its agent; the agents (played here) finish: their OS is down, power stays
 * on (docs/reliability.md). The restarted bridge, with the watchdog on, must take those nodes
 * for halted on purpose: no power cycle boots the OS the user shut down. Before the fix the
 * watchdog power-cycled both offline_after (1 min) after the restart. Here the restarted bridge
 * keeps both entries in its journal, marked reported, which is what keeps its watchdog off them
 * (and a restart loop's next start too); the watchdog's minute itself is run on a fake clock in
 * test/app/halted-restart.test.ts. A few seconds.
 */
describe('faults: a bridge restarted after a shutdown it did not finish', function () {
  this.timeout(120_000);
  let mosquitto: Mosquitto | undefined;
  let rec: Recorder | undefined;
  let bridge: CliProcess | undefined;
  let binary: string;

  before(function () {
    binary = requireMosquitto(this);
  });
  after(async () => {
    await stopProcesses({ bridge, rec, mosquitto }, 'SIGKILL');
  });

  it('does not let its watchdog power-cycle a node whose OS the interrupted shutdown took down', async () => {
    mosquitto = await startMosquitto({ binary });
    rec = await Recorder.connect(mosquitto.url, 'tp', { filters: ['tp/#'] });
    const dir = tempDir('tpm-restart-shutdown-');
    const file = writeConfig(
      dir,
      testBridgeConfig({
        dir,
        url: mosquitto.url,
        overrides: {
          homeassistant: { enabled: false },
          nodes: { 3: { agent: true }, 4: { agent: true } },
          power: { off_mode: 'graceful', settle_time: '1s', graceful_timeout: '10s', min_off_time: 0, on_stagger: 0 },
          policies: { watchdog: { enabled: true, nodes: [3, 4], offline_after: '1m' } },
        },
      }),
    );
    /** DS4520 SRAM 0xF2 of the simulated board (docs/hardware.md masks: node n is bit n). */
    let lastControl = 0;
    const control = (): number => {
      try {
        lastControl = simulatedPowerRegister(dir);
      } catch {
        // Caught between the simulator's writes: the last reading stands.
      }
      return lastControl;
    };
    const changes: string[] = [];
    let watching = true;
    const watch = (async () => {
      let last = -1;
      while (watching) {
        const now = control() & 0x18;
        if (last >= 0 && now !== last) changes.push(`0x${now.toString(16)}`);
        last = now;
        await delay(20);
      }
    })();
    // Each agent: on SHUTDOWN shutting_down, a 1.5 s drain, then offline (its OS is down).
    const say = (n: number, word: string) =>
      rec!.client.publishAsync(`tp/node/${n}/agent/state`, word, { qos: 1, retain: true });
    rec.client.on('message', (topic, payload) => {
      const n = /^tp\/node\/(\d)\/agent\/command$/.exec(topic)?.[1];
      if (!n || payload.toString() !== 'SHUTDOWN') return;
      void say(Number(n), 'shutting_down')
        .then(() => delay(1500))
        .then(() => say(Number(n), 'offline'));
    });
    await say(3, 'online');
    await say(4, 'online');

    for (const [n, signal] of [
      [3, 'SIGTERM'],
      [4, 'SIGKILL'],
    ] as const) {
      bridge = await startBridge(file);
      const on = await rec.request('power', { node: n, action: 'on' });
      assert.equal(on.status, 'ok', on.error);
      const from = rec.mark();
      await rec.command(n, 'SHUTDOWN');
      await rec.waitFor(`tp/node/${n}/agent/command`, () => true, 5000, from);
      await bridge.stop(signal);
      await rec.waitForPayload(`tp/node/${n}/agent/state`, 'offline', 5000, from);
    }
    assert.equal(control() & 0x18, 0x18, 'both nodes still powered: a stop or kill never cuts');
    const from = rec.mark();
    changes.length = 0;
    bridge = await startBridge(file);
    const kept = (): string => {
      const state = JSON.parse(readFileSync(path.join(dir, 'state', 'bridge.json'), 'utf8')) as {
        in_flight: { node: number; reported?: boolean }[];
      };
      return JSON.stringify(state.in_flight.map((e) => [e.node, e.reported]).sort());
    };
    await until(() => kept() === '[[3,true],[4,true]]', 'both halted nodes kept in the journal, reported');
    await delay(2000);
    watching = false;
    await watch;
    const cycles = rec.events(from).filter((e) => e.type === 'watchdog');
    assert.deepEqual(changes, [], `no power change after the restart; watchdog events ${JSON.stringify(cycles)}`);
    assert.equal(control() & 0x18, 0x18);
    for (const n of [3, 4]) {
      // Node 3's by the start after the SIGTERM, node 4's by the last; each once.
      const report: EventPayload[] = rec
        .events()
        .filter((e) => e.node === n && e.source === 'startup' && /shutdown .* was interrupted/.test(e.error ?? ''));
      assert.equal(report.length, 1, `the restarted bridge reports node ${n}'s interrupted shutdown once`);
    }
    await bridge.stop('SIGTERM');
  });
});
