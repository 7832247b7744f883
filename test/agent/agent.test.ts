import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import type { RunResult } from '../../src/agent/command.js';
import type { Telemetry } from '../../src/agent/telemetry.js';
import { createAgent, type Agent } from '../../src/app/agent.js';
import { checkAgentConfig } from '../../src/config/parse.js';
import { ConfigError } from '../../src/config/problems.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { startAedes, type TestBroker } from '../support/aedes.js';
import { agentConfig, FakeSystem, recordingLogger, settle, waitFor, watch, type Received } from './helpers.js';

const BOOT = Date.UTC(2026, 0, 1, 0, 0, 0);
const START = BOOT + 3_600_000; // the node has been up one hour when the agent starts
const INTERVAL = 15_000;

describe('agent', () => {
  let broker: TestBroker;
  let watcher: { client: MqttClient; messages: Received[] };
  let agent: Agent | undefined;
  let clock: FakeClock;
  let system: FakeSystem;
  let runs: string[][];
  let runResult: () => Promise<RunResult>;
  let log: ReturnType<typeof recordingLogger>;

  const on = (suffix: string): Received[] => watcher.messages.filter((m) => m.topic === `tp/node/3/agent/${suffix}`);
  const states = (): string[] => on('state').map((m) => m.payload);
  const telemetry = (): Telemetry[] => on('telemetry').map((m) => JSON.parse(m.payload) as Telemetry);
  const logged = (text: string): string[] => log.lines.map((l) => l.msg).filter((m) => m.includes(text));

  async function startAgent(
    agentSettings: Record<string, unknown> = {},
    power?: Record<string, unknown>,
  ): Promise<void> {
    agent = createAgent(agentConfig(broker.url, agentSettings, power), {
      systemInfo: system,
      clock,
      logger: log.logger,
      run: (argv) => {
        runs.push(argv);
        return runResult();
      },
    });
    await agent.start();
    await waitFor(() => states().includes('online') && telemetry().length === 1, 'online and the first telemetry');
  }

  async function command(payload: string, retain = false): Promise<void> {
    await watcher.client.publishAsync('tp/node/3/agent/command', payload, { qos: 1, retain });
  }

  beforeEach(async () => {
    broker = await startAedes();
    watcher = await watch(broker.url, ['tp/node/3/agent/#']);
    clock = new FakeClock(START);
    system = new FakeSystem(() => clock.now(), BOOT);
    runs = [];
    runResult = () => Promise.resolve({ code: 0, stderr: '' });
    log = recordingLogger();
    agent = undefined;
  });

  afterEach(async () => {
    await agent?.stop();
    await watcher.client.endAsync();
    await broker.close();
  });

  describe('connection', () => {
    it('connects as turingpi-<board.id>-agent-<n> and publishes online, retained', async () => {
      await startAgent();
      assert.ok(broker.clientIds.includes('turingpi-lab-agent-3'), `client ids: ${broker.clientIds.join(', ')}`);
      const online = on('state').find((m) => m.payload === 'online');
      assert.ok(online);
      const late = await watch(broker.url, ['tp/node/3/agent/state']);
      await waitFor(() => late.messages.length > 0, 'the retained state');
      assert.deepEqual(late.messages[0], { topic: 'tp/node/3/agent/state', payload: 'online', retain: true });
      await late.client.endAsync();
    });

    it('uses mqtt.client_id when the config sets one', async () => {
      const config = agentConfig(broker.url);
      config.mqtt.client_id = 'my-agent';
      agent = createAgent(config, { systemInfo: system, clock, logger: log.logger });
      await agent.start();
      assert.ok(broker.clientIds.includes('my-agent'));
    });

    it('refuses a config without agent.node with the ConfigError checkAgentConfig throws', () => {
      const config = agentConfig(broker.url, { node: null });
      const expected = (() => {
        try {
          checkAgentConfig(config);
        } catch (error) {
          return error;
        }
        assert.fail('checkAgentConfig let a config without agent.node pass');
      })();
      assert.ok(expected instanceof ConfigError);
      assert.throws(
        () => createAgent(config),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.message === expected.message &&
          error.problems.map((p) => p.path).join() === 'agent.node',
      );
      assert.match(expected.message, /^agent\.node: the agent needs the number of the node it runs on/);
    });

    it('publishes offline, retained, when stopped', async () => {
      await startAgent();
      await agent!.stop();
      await waitFor(() => states().at(-1) === 'offline', 'offline');
      const late = await watch(broker.url, ['tp/node/3/agent/state']);
      await waitFor(() => late.messages.length > 0, 'the retained state');
      assert.equal(late.messages[0]?.payload, 'offline');
      await late.client.endAsync();
    });

    it('leaves its last will, offline, when its process dies without disconnecting', async () => {
      await startAgent();
      broker.killClient('turingpi-lab-agent-3');
      await waitFor(() => states().at(-1) === 'offline', 'the last will');
      assert.deepEqual(states(), ['online', 'offline']);
    });
  });

  describe('telemetry', () => {
    it('publishes every reading, retained, with the units of docs/topics.md', async () => {
      await startAgent();
      const late = await watch(broker.url, ['tp/node/3/agent/telemetry']);
      await waitFor(() => late.messages.length > 0, 'the retained telemetry');
      assert.equal(late.messages[0]?.retain, true);
      await late.client.endAsync();
      const first = telemetry()[0]!;
      assert.equal(first.temperature, 50);
      assert.equal(first.cpu_load, 10);
      assert.equal(first.memory_used, 25); // active 2000 of 8000
      assert.equal(first.disk_used, 40); // the root file system, not /boot/firmware
      assert.ok(first.uptime !== null && Math.abs(first.uptime - 3600) <= 1);
      assert.equal(first.boot_time, '2026-01-01T00:00:00Z');
      assert.equal(first.hostname, 'node3');
      assert.equal(first.throttled?.raw, '0x0');
      assert.equal(first.throttled?.under_voltage, false);
    });

    it('publishes nothing while nothing changes meaningfully', async () => {
      await startAgent();
      system.temperature = 50.9; // below 1 °C
      system.load = 14; // below 5 points
      system.disk = 44.9;
      for (let i = 0; i < 5; i++) await clock.advance(INTERVAL); // uptime grows by 75 s
      await settle();
      assert.equal(telemetry().length, 1);
    });

    it('publishes when the temperature moves by 1 °C or a percentage by 5 points', async () => {
      await startAgent();
      system.temperature = 51;
      await clock.advance(INTERVAL);
      await waitFor(() => telemetry().length === 2, 'telemetry after +1 °C');
      assert.equal(telemetry()[1]?.temperature, 51);

      system.active = 2_400; // memory 25 % -> 30 %
      await clock.advance(INTERVAL);
      await waitFor(() => telemetry().length === 3, 'telemetry after +5 points of memory');
      assert.equal(telemetry()[2]?.memory_used, 30);

      system.load = 6; // -4 points from the last published 10: not enough
      await clock.advance(INTERVAL);
      await settle();
      assert.equal(telemetry().length, 3);
    });

    it('publishes when the hostname or the throttle flags change', async () => {
      await startAgent();
      system.throttled = '50005';
      await clock.advance(INTERVAL);
      await waitFor(() => telemetry().length === 2, 'telemetry after throttling');
      const flags = telemetry()[1]?.throttled;
      assert.equal(flags?.raw, '0x50005');
      assert.equal(flags?.under_voltage, true);
      assert.equal(flags?.throttled, true);
      assert.equal(flags?.under_voltage_occurred, true);
      assert.equal(flags?.soft_temperature_limit, false);

      system.hostname = 'node3-renamed';
      await clock.advance(INTERVAL);
      await waitFor(() => telemetry().length === 3, 'telemetry after a new hostname');
    });

    it('publishes an unreadable temperature as null and says so once, not per sample', async () => {
      system.temperature = null; // no thermal zone, as on a VM
      await startAgent();
      for (let i = 0; i < 4; i++) await clock.advance(INTERVAL);
      system.load = 80; // forces another publish
      await clock.advance(INTERVAL);
      await waitFor(() => telemetry().length === 2, 'second telemetry');
      assert.ok(telemetry().every((t) => t.temperature === null));
      assert.equal(logged('temperature is not available').length, 1);
    });

    it('publishes null throttle flags where the firmware exposes none', async () => {
      system.throttled = null;
      await startAgent();
      assert.equal(telemetry()[0]?.throttled, null);
    });

    it('keeps boot_time stable for one boot although uptime jitters between samples', async () => {
      await startAgent();
      for (let i = 0; i < 6; i++) {
        system.load = i % 2 === 0 ? 60 : 10; // a publish every interval
        await clock.advance(INTERVAL);
      }
      await waitFor(() => telemetry().length === 7, 'seven telemetry messages');
      const bootTimes = new Set(telemetry().map((t) => t.boot_time));
      assert.deepEqual([...bootTimes], ['2026-01-01T00:00:00Z']);
      const uptimes = telemetry().map((t) => t.uptime!);
      assert.ok(uptimes[6]! - uptimes[0]! >= 89, `uptime grows: ${uptimes.join(', ')}`);
    });
  });

  describe('commands', () => {
    it('on SHUTDOWN publishes shutting_down and runs exactly the configured argv', async () => {
      await startAgent();
      await command('  shutdown\n');
      await waitFor(() => runs.length === 1, 'the shutdown argv');
      assert.deepEqual(runs, [['/usr/local/bin/drain-and-poweroff', '--now']]);
      await waitFor(() => states().at(-1) === 'shutting_down', 'shutting_down');
      await settle();
      // Success: the OS stops the agent; until then it stays shutting_down.
      assert.deepEqual(states(), ['online', 'shutting_down']);
      assert.equal(on('event').length, 0);
    });

    it('on REBOOT runs the reboot argv', async () => {
      await startAgent();
      await command('Reboot');
      await waitFor(() => runs.length === 1, 'the reboot argv');
      assert.deepEqual(runs, [['systemctl', 'reboot']]);
    });

    it('goes back online and publishes an error event when the argv exits non-zero', async () => {
      runResult = () => Promise.resolve({ code: 1, stderr: 'Failed to power off system: Access denied' });
      await startAgent();
      await command('SHUTDOWN');
      await waitFor(() => on('event').length === 1, 'the error event');
      await waitFor(() => states().at(-1) === 'online', 'online again');
      assert.deepEqual(states(), ['online', 'shutting_down', 'online']);
      const event = on('event')[0]!;
      assert.equal(event.retain, false);
      const body = JSON.parse(event.payload) as Record<string, unknown>;
      assert.equal(body.type, 'command');
      assert.equal(body.action, 'shutdown');
      assert.equal(body.result, 'error');
      assert.match(String(body.error), /code 1.*Access denied/);
      assert.equal(body.time, new Date(clock.now()).toISOString());
      assert.equal(logged('shutdown failed').length, 1);
    });

    it('logs no failure for a shutdown command ended by the agent stopping (systemd stops both)', async () => {
      // As the OS goes down, systemd sends SIGTERM to the unit's whole cgroup: the agent and the
      // systemctl poweroff it started. The command then ends killed, which is no failed shutdown.
      let end: (result: RunResult) => void = () => undefined;
      runResult = () => new Promise((resolve) => (end = resolve));
      await startAgent();
      await command('SHUTDOWN');
      await waitFor(() => runs.length === 1, 'the shutdown command running');
      const stopping = agent!.stop();
      end({ code: -1, stderr: 'killed by SIGTERM' });
      await stopping;
      assert.deepEqual(logged('shutdown failed'), []);
      assert.equal(logged('ended as the agent was stopped').length, 1);
      assert.equal(on('event').length, 0, 'no error event');
    });

    it('goes back online with an error event when the argv cannot be spawned', async () => {
      runResult = () => Promise.reject(Object.assign(new Error('spawn systemctl ENOENT'), { code: 'ENOENT' }));
      await startAgent();
      await command('REBOOT');
      await waitFor(() => on('event').length === 1, 'the error event');
      const error = JSON.parse(on('event')[0]!.payload).error as string;
      assert.equal(error, 'the reboot command could not be run (ENOENT, no such program)');
      await waitFor(() => states().at(-1) === 'online', 'online again');
    });

    it('gives up on an argv that outlives graceful_timeout and goes back online', async () => {
      runResult = () => new Promise<RunResult>(() => {}); // hangs
      await startAgent();
      await command('SHUTDOWN');
      await waitFor(() => states().at(-1) === 'shutting_down', 'shutting_down');
      await clock.advance(119_000);
      await settle();
      assert.equal(on('event').length, 0);
      await clock.advance(1_000); // graceful_timeout default 120 s
      await waitFor(() => on('event').length === 1, 'the time-out event');
      assert.match(JSON.parse(on('event')[0]!.payload).error as string, /did not finish within 120s/);
      await waitFor(() => states().at(-1) === 'online', 'online again');
    });

    it(
      'runs its argv once: SHUTDOWN, SHUTDOWN and REBOOT 1 s apart run the shutdown argv alone, and online is ' +
        'never published in between',
      async () => {
        // The REBOOT would fail if it ran (as on the node of the report): its `online` must never come.
        runResult = () =>
          Promise.resolve(
            runs.length === 1
              ? { code: 0, stderr: '' }
              : { code: 1, stderr: 'Failed to reboot system: transaction is destructive' },
          );
        await startAgent({}, { graceful_timeout: '20s' });
        await command('SHUTDOWN');
        await waitFor(() => runs.length === 1 && states().at(-1) === 'shutting_down', 'the first shutdown');
        await clock.advance(1000);
        await command('SHUTDOWN');
        await waitFor(() => logged('ignored SHUTDOWN').length === 1, 'the second SHUTDOWN ignored');
        await clock.advance(1000);
        await command('REBOOT');
        await waitFor(() => logged('ignored REBOOT').length === 1, 'the REBOOT ignored');
        await settle();
        assert.equal(runs.length, 1, 'the argv ran once');
        assert.deepEqual(states(), ['online', 'shutting_down']);
        assert.equal(on('event').length, 0);
        assert.match(logged('ignored REBOOT')[0]!, /going down/);
      },
    );

    it(
      'says so, goes back online and takes commands again when the OS is still up graceful_timeout after a ' +
        'successful argv',
      async () => {
        await startAgent({}, { graceful_timeout: '20s' });
        await command('SHUTDOWN');
        await waitFor(() => runs.length === 1 && states().at(-1) === 'shutting_down', 'the shutdown');
        await clock.advance(19_000);
        await settle();
        assert.deepEqual(states(), ['online', 'shutting_down'], 'still going down before graceful_timeout');
        await clock.advance(1_000);
        await waitFor(() => on('event').length === 1, 'the event');
        await waitFor(() => states().at(-1) === 'online', 'online again');
        const body = JSON.parse(on('event')[0]!.payload) as Record<string, unknown>;
        assert.equal(body.type, 'command');
        assert.equal(body.action, 'shutdown');
        assert.match(String(body.error), /the OS is still up 20s after/);
        assert.doesNotMatch(String(body.error), /systemctl|drain-and-poweroff/, 'the argv never goes to MQTT');
        await command('REBOOT');
        await waitFor(() => runs.length === 2, 'the next command is taken');
        assert.deepEqual(runs[1], ['systemctl', 'reboot']);
      },
    );

    it('never publishes its argv: not on a failure, a spawn error or a time-out (issue 13)', async () => {
      const secretArgv = ['/opt/drain/with-token', '--token=Sup3rS3cretT0ken', 'db-primary.internal'];
      const cases: (() => Promise<RunResult>)[] = [
        () => Promise.resolve({ code: 3, stderr: 'bad option --token=Sup3rS3cretT0ken for db-primary.internal' }),
        () => Promise.reject(Object.assign(new Error('spawn /opt/drain/with-token EACCES'), { code: 'EACCES' })),
        () => new Promise<RunResult>(() => {}),
      ];
      await startAgent({ shutdown_command: secretArgv });
      for (const [i, result] of cases.entries()) {
        runResult = result;
        await command('SHUTDOWN');
        await waitFor(() => runs.length === i + 1, 'the argv ran');
        await clock.advance(120_000);
        await waitFor(() => on('event').length === i + 1, 'the error event');
        await waitFor(() => states().at(-1) === 'online', 'online again');
      }
      const published = watcher.messages.map((m) => `${m.topic} ${m.payload}`).join('\n');
      for (const word of secretArgv) assert.ok(!published.includes(word), `${word} reached MQTT:\n${published}`);
      const errors = on('event').map((m) => (JSON.parse(m.payload) as { error: string }).error);
      assert.deepEqual(errors, [
        'the shutdown command exited with code 3: bad option *** for ***',
        'the shutdown command could not be run (EACCES, not executable)',
        'the shutdown command did not finish within 120s',
      ]);
      // The log, on the node itself, still says which argv failed.
      assert.ok(log.lines.some((l) => l.msg.includes('Sup3rS3cretT0ken')));
    });

    it('never lets the payload reach the argv', async () => {
      await startAgent();
      await command('SHUTDOWN; rm -rf /');
      await command('SHUTDOWN --force');
      await settle();
      assert.equal(runs.length, 0);
      await command('SHUTDOWN');
      await waitFor(() => runs.length === 1, 'the argv');
      assert.deepEqual(runs[0], ['/usr/local/bin/drain-and-poweroff', '--now']);
    });

    it('ignores a command delivered with the retain flag, and says so', async () => {
      await watcher.client.publishAsync('tp/node/3/agent/command', 'SHUTDOWN', { qos: 1, retain: true });
      await startAgent();
      await waitFor(() => logged('retained').length === 1, 'the log line');
      await settle();
      assert.equal(runs.length, 0);
      assert.deepEqual(states(), ['online']);
      // Clearing it, as the line says, is no command: nothing more is logged.
      const lines = log.lines.length;
      await watcher.client.publishAsync('tp/node/3/agent/command', '', { qos: 1, retain: true });
      await settle();
      assert.deepEqual(log.lines.slice(lines), []);
    });

    it('ignores an unknown payload with a log line', async () => {
      await startAgent();
      await command('POWEROFF');
      await waitFor(() => logged('unknown command').length === 1, 'the log line');
      assert.match(logged('unknown command')[0]!, /"POWEROFF"/);
      assert.equal(runs.length, 0);
      assert.deepEqual(states(), ['online']);
    });
  });
});
