import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { startCli, tempDir, writeConfig, type CliProcess } from '../support/cli.js';
import { requireMosquitto, startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { delay, until } from '../support/wait.js';
import { agentStateAtBridge, recordPowerWrites } from '../support/in-process-agent.js';
import { startLibraryBridge } from './helpers.js';
import { watch, type Received } from '../agent/helpers.js';

/**
 * The built agent (`turingpi-mqtt agent -c FILE`) as systemd runs it on a node for years: killed
 * and started again (Restart=), stopped with SIGTERM, its broker restarted, its node rebooted.
 * Real mosquitto; the shutdown command is a script that records each call, and does what the
 * `mode` file says: exit 0 (the OS "stays up": nothing goes down here), fail, hang, or fail late.
 * `$RUNTIME_DIRECTORY` is the unit's RuntimeDirectory= (below /run, emptied at every boot).
 */

const SCRIPT = `#!/bin/sh
d=$(dirname "$0")
echo "$1" >> "$d/calls"
echo $$ >> "$d/pids"
case "$(cat "$d/mode")" in
  fail) echo "polkit says no" >&2; exit 1;;
  hang) exec sleep 600;;
  latefail) sleep 2; echo "refused late" >&2; exit 1;;
esac
exit 0
`;

interface AgentEvent {
  action: string;
  result: string;
  error: string;
}

describe('faults: the agent restarted, stopped and cut off around a command (real mosquitto)', function () {
  this.timeout(60_000);
  let mosquitto: Mosquitto | undefined;
  let dir: string;
  let runtime: string;
  let config: string;
  let watcher: { client: MqttClient; messages: Received[] } | undefined;
  const agents: CliProcess[] = [];

  const mode = (word: string): void => writeFileSync(path.join(dir, 'mode'), word);
  const calls = (): string[] => {
    const file = path.join(dir, 'calls');
    return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
  };
  const on = (suffix: string): Received[] => watcher!.messages.filter((m) => m.topic === `tp/node/3/agent/${suffix}`);
  const states = (): string[] => on('state').map((m) => m.payload);
  const events = (): AgentEvent[] => on('event').map((m) => JSON.parse(m.payload) as AgentEvent);

  async function startAgent(file = config): Promise<CliProcess> {
    const agent = startCli(['agent', '-c', file], { env: { RUNTIME_DIRECTORY: runtime } });
    agents.push(agent);
    await agent.waitForLog(/^agent of node 3 online/);
    return agent;
  }

  async function command(word: string): Promise<void> {
    await watcher!.client.publishAsync('tp/node/3/agent/command', word, { qos: 1 });
  }

  /** The retained state a new subscriber gets. */
  async function retainedState(): Promise<string | undefined> {
    const late = await watch(mosquitto!.url, ['tp/node/3/agent/state']);
    await delay(300);
    await late.client.endAsync();
    return late.messages.find((m) => m.retain)?.payload;
  }

  before(async function () {
    const binary = requireMosquitto(this);
    mosquitto = await startMosquitto({ binary, persistence: true });
  });

  beforeEach(async () => {
    dir = tempDir();
    runtime = path.join(dir, 'run');
    mkdirSync(runtime, { mode: 0o700 });
    const script = path.join(dir, 'shutdown.sh');
    writeFileSync(script, SCRIPT);
    chmodSync(script, 0o755);
    mode('ok');
    config = writeConfig(dir, {
      mqtt: { url: mosquitto!.url, base_topic: 'tp' },
      board: { id: 'lab' },
      agent: { node: 3, interval: '1h', shutdown_command: [script, 'shutdown'], reboot_command: [script, 'reboot'] },
      power: { graceful_timeout: '5s' },
      log: { format: 'json', level: 'info' },
    });
    watcher = await watch(mosquitto!.url, ['tp/node/3/agent/#']);
  });

  afterEach(async () => {
    for (const agent of agents.splice(0)) await agent.stop('SIGKILL');
    // A command outlives an agent SIGKILLed here (under systemd the unit's cgroup ends it).
    const pids = path.join(dir, 'pids');
    for (const pid of existsSync(pids) ? readFileSync(pids, 'utf8').trim().split('\n') : []) {
      try {
        process.kill(-Number(pid), 'SIGKILL');
      } catch {
        // ended already
      }
    }
    await watcher?.client.endAsync();
    // The clean state for the next test: no retained state of this one.
    const cleaner = await watch(mosquitto!.url, ['tp/unused']);
    await cleaner.client.publishAsync('tp/node/3/agent/state', '', { qos: 1, retain: true });
    await cleaner.client.publishAsync('tp/node/3/agent/telemetry', '', { qos: 1, retain: true });
    await cleaner.client.endAsync();
    rmSync(dir, { recursive: true, force: true });
  });

  after(async () => {
    await mosquitto?.stop();
  });

  it('SIGKILLed while its command runs, restarted in a loop: reported once as failed, never run again', async () => {
    mode('hang');
    const first = await startAgent();
    await command('SHUTDOWN');
    await until(() => calls().length === 1 && states().includes('shutting_down'), 'the command running');
    await first.stop('SIGKILL');
    await until(() => states().at(-1) === 'offline', 'the last will');
    const mark = watcher!.messages.length;
    // systemd's Restart= (the command dies with the unit's cgroup): three quick restarts.
    for (let i = 0; i < 3; i++) {
      const again = await startAgent();
      await until(() => events().length >= 1, 'the report of the interrupted command', 5000);
      await again.stop('SIGKILL');
    }
    const last = await startAgent();
    await delay(500);
    assert.deepEqual(calls(), ['shutdown'], 'the command ran once');
    assert.equal(events().length, 1, JSON.stringify(events()));
    assert.equal(events()[0]!.action, 'shutdown');
    assert.match(events()[0]!.error, /restarted while the shutdown command ran: it did not finish/);
    assert.equal(await retainedState(), 'online');
    // The report went out before `online`: a bridge seeing `online` may send a new command.
    const after = watcher!.messages.slice(mark);
    const eventAt = after.findIndex((m) => m.topic.endsWith('/agent/event'));
    const onlineAt = after.findIndex((m) => m.topic.endsWith('/agent/state') && m.payload === 'online');
    assert.ok(eventAt >= 0 && eventAt < onlineAt, after.map((m) => `${m.topic} ${m.payload}`).join('\n'));
    // It takes a new command again.
    mode('fail');
    await command('REBOOT');
    await until(() => events().length === 2, 'the new failure');
    await last.stop();
  });

  it('SIGKILLed after its command succeeded, restarted: says the OS is still up, runs nothing again', async () => {
    const first = await startAgent();
    await command('SHUTDOWN');
    await first.waitForLog(/accepted by the system/);
    await first.stop('SIGKILL');
    await startAgent();
    await until(() => events().length === 1, 'the report');
    assert.match(events()[0]!.error, /restarted after the shutdown command succeeded, and the OS is still up/);
    assert.deepEqual(calls(), ['shutdown']);
    assert.equal(await retainedState(), 'online');
  });

  it('SIGTERM while its command runs (systemd): offline at once; a start in the same boot reports it', async () => {
    mode('hang');
    const first = await startAgent();
    await command('SHUTDOWN');
    await until(() => calls().length === 1, 'the command running');
    const exit = await first.stop('SIGTERM');
    assert.equal(exit.code, 0);
    assert.equal(await retainedState(), 'offline');
    assert.equal(events().length, 0, 'no failure while the OS goes down');
    await startAgent();
    await until(() => events().length === 1, 'the report');
    assert.deepEqual(calls(), ['shutdown']);
  });

  it('a node rebooted (RuntimeDirectory emptied): a fresh agent reports nothing and takes commands', async () => {
    mode('hang');
    const first = await startAgent();
    await command('SHUTDOWN');
    await until(() => calls().length === 1, 'the command running');
    await first.stop('SIGTERM');
    rmSync(runtime, { recursive: true });
    mkdirSync(runtime, { mode: 0o700 });
    const fresh = await startAgent();
    await delay(500);
    assert.equal(events().length, 0);
    assert.equal(await retainedState(), 'online');
    mode('fail');
    await command('SHUTDOWN');
    await until(() => events().length === 1, 'the new failure');
    assert.deepEqual(calls(), ['shutdown', 'shutdown']);
    await fresh.stop();
  });

  it("the bridge's SHUTDOWN ends with the restarted agent's report, power left on", async () => {
    const lib = await startLibraryBridge(mosquitto!.url, {
      sections: {
        board: { poll_interval: '1h' },
        nodes: { 3: { agent: true } },
        power: { off_mode: 'graceful', settle_time: '10s', graceful_timeout: '20s', min_off_time: 0, on_stagger: 0 },
      },
    });
    try {
      const on = await lib.bridge.power.execute(3, 'on', 'mqtt');
      assert.equal(on.ok, true, on.error);
      mode('hang');
      const first = await startAgent();
      await until(() => agentStateAtBridge(lib.bridge, 3) === 'online', 'the agent online at the bridge', 10_000);
      const writes = recordPowerWrites(lib.bridge);
      const done = lib.bridge.power.execute(3, 'shutdown', 'mqtt');
      await until(() => calls().length === 1, 'the command running', 10_000);
      await first.stop('SIGKILL');
      await delay(1000); // systemd's RestartSec= is 5 s: well within settle_time either way
      await startAgent();
      const result = await done;
      assert.equal(result.ok, false);
      assert.match(result.error ?? '', /restarted while the shutdown command ran: it did not finish/);
      assert.deepEqual(writes, [], 'power was cut');
      assert.deepEqual(calls(), ['shutdown']);
    } finally {
      await lib.bridge.stop();
    }
  });

  it('says so under systemd when the unit gives it no RuntimeDirectory= (a unit file from before)', async () => {
    const agent = startCli(['agent', '-c', config], { env: { INVOCATION_ID: 'abc123', RUNTIME_DIRECTORY: '' } });
    agents.push(agent);
    await agent.waitForLog(/^agent of node 3 online/);
    assert.ok(
      agent.logLines().some((l) => /sets no RuntimeDirectory=/.test(l.msg)),
      agent.describe(),
    );
    await agent.stop();
    const withIt = startCli(['agent', '-c', config], { env: { INVOCATION_ID: 'abc124', RUNTIME_DIRECTORY: runtime } });
    agents.push(withIt);
    await withIt.waitForLog(/^agent of node 3 online/);
    assert.ok(!withIt.logLines().some((l) => /RuntimeDirectory/.test(l.msg)));
  });

  for (const version of [4, 5]) {
    it(`a command in flight as the link dropped: not delivered again once reconnected (MQTT ${version})`, async () => {
      // The broker sends SHUTDOWN into a link gone silent (no PUBACK comes back), the link is cut,
      // the agent reconnects. With a session kept, the broker would deliver it again (DUP).
      const proxy = await startTcpProxy(mosquitto!.port);
      const viaProxy = writeConfig(
        dir,
        {
          mqtt: { url: proxy.url, base_topic: 'tp', protocol_version: version, keepalive: 60 },
          board: { id: 'lab' },
          agent: { node: 3, interval: '1h', shutdown_command: [path.join(dir, 'shutdown.sh'), 'shutdown'] },
          power: { graceful_timeout: '5s' },
          log: { format: 'json', level: 'info' },
        },
        'proxied.yaml',
      );
      try {
        const agent = await startAgent(viaProxy);
        proxy.freeze();
        await command('SHUTDOWN');
        await delay(300);
        proxy.cut();
        await until(() => proxy.accepted === 2, 'the reconnection', 10_000);
        await delay(1000);
        assert.deepEqual(calls(), [], 'the command was run after the reconnection');
        assert.equal(agent.logLines().filter((l) => /SHUTDOWN received/.test(l.msg)).length, 0);
        await agent.stop();
      } finally {
        await proxy.close();
      }
    });
  }

  it('the failure of a command that ended while the broker was away is published after the reconnection', async () => {
    mode('latefail');
    const agent = await startAgent();
    await command('SHUTDOWN');
    await until(() => states().includes('shutting_down'), 'shutting_down');
    await watcher!.client.endAsync();
    await mosquitto!.kill();
    await agent.waitForLog(/^shutdown failed/, 5000);
    await mosquitto!.start();
    watcher = await watch(mosquitto!.url, ['tp/node/3/agent/#']);
    await until(() => events().length === 1, 'the failure, after the reconnection', 15_000);
    assert.match(events()[0]!.error, /exited with code 1: refused late/);
    await until(() => states().at(-1) === 'online', 'online');
    assert.deepEqual(calls(), ['shutdown']);
    await agent.stop();
  });
});
