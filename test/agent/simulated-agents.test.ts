import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import type { Telemetry } from '../../src/agent/telemetry.js';
import { simulatedSystem, startSimulatedAgents, type SimulatedAgents } from '../../src/cli/simulated-agents.js';
import { configSchema } from '../../src/config/schema.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { startAedes, type TestBroker } from '../support/aedes.js';
import { settle, waitFor, watch, type Received } from './helpers.js';

describe('simulated agents', () => {
  let broker: TestBroker;
  let watcher: { client: MqttClient; messages: Received[] };
  let clock: FakeClock;
  let power: Map<number, boolean>;
  let agents: SimulatedAgents;

  const states = (node: number): string[] =>
    watcher.messages.filter((m) => m.topic === `tp/node/${node}/agent/state`).map((m) => m.payload);

  beforeEach(async () => {
    broker = await startAedes();
    watcher = await watch(broker.url, ['tp/node/+/agent/#']);
    clock = new FakeClock();
    power = new Map([
      [3, false],
      [4, false],
    ]);
    const config = configSchema.parse({
      mqtt: { url: broker.url, base_topic: 'tp', client_id: 'the-bridge' },
      board: { id: 'lab', type: 'simulator', simulate: { model: 'tpi1' } },
      nodes: { 3: { agent: true }, 4: { agent: false } },
    });
    agents = startSimulatedAgents({
      config,
      powerOf: (node) => power.get(node) ?? null,
      clock,
      bootDelayMs: 8_000,
      shutdownDelayMs: 5_000,
    });
  });

  afterEach(async () => {
    await agents.stop();
    await watcher.client.endAsync();
    await broker.close();
  });

  async function powerOnAndBoot(): Promise<void> {
    power.set(3, true);
    await clock.advance(1_000); // the next power poll
    await clock.advance(8_000);
    await waitFor(() => states(3).at(-1) === 'online', 'node 3 agent online');
  }

  it('starts an agent only after power on and the boot delay, with its own client id', async () => {
    power.set(3, true);
    await clock.advance(1_000 + 7_000);
    await settle();
    assert.deepEqual(states(3), []);
    await clock.advance(1_000);
    await waitFor(() => states(3).at(-1) === 'online', 'node 3 agent online');
    assert.ok(broker.clientIds.includes('turingpi-lab-agent-3'), broker.clientIds.join(', '));
    assert.ok(agents.isRunning(3));
  });

  it('publishes plausible telemetry for the demo', async () => {
    await powerOnAndBoot();
    await waitFor(() => watcher.messages.some((m) => m.topic === 'tp/node/3/agent/telemetry'), 'telemetry');
    const telemetry = JSON.parse(
      watcher.messages.find((m) => m.topic === 'tp/node/3/agent/telemetry')!.payload,
    ) as Telemetry;
    assert.ok(telemetry.temperature !== null && telemetry.temperature >= 40 && telemetry.temperature <= 70);
    assert.equal(telemetry.hostname, 'node3');
    assert.equal(telemetry.uptime, 0);
  });

  it('runs no agent for a node without agent: true', async () => {
    power.set(4, true);
    await clock.advance(20_000);
    await settle();
    assert.deepEqual(states(4), []);
  });

  it('loses the agent (offline) when the power is cut', async () => {
    await powerOnAndBoot();
    power.set(3, false);
    await clock.advance(1_000);
    await waitFor(() => states(3).at(-1) === 'offline', 'node 3 agent offline');
    assert.equal(agents.isRunning(3), false);
  });

  it('halts the OS on SHUTDOWN: shutting_down, then offline, and stays down while powered', async () => {
    await powerOnAndBoot();
    await watcher.client.publishAsync('tp/node/3/agent/command', 'SHUTDOWN', { qos: 1 });
    await waitFor(() => states(3).at(-1) === 'shutting_down', 'shutting_down');
    await clock.advance(5_000);
    await waitFor(() => states(3).at(-1) === 'offline', 'offline after the halt');
    await clock.advance(60_000);
    await settle();
    assert.deepEqual(states(3), ['online', 'shutting_down', 'offline']);
    // Power cut and restored: the node boots again.
    power.set(3, false);
    await clock.advance(1_000);
    power.set(3, true);
    await clock.advance(1_000 + 8_000);
    await waitFor(() => states(3).at(-1) === 'online', 'online after a power cycle');
  });

  it('reboots the OS on REBOOT: offline, then online after the boot delay, power untouched', async () => {
    await powerOnAndBoot();
    await watcher.client.publishAsync('tp/node/3/agent/command', 'REBOOT', { qos: 1 });
    await waitFor(() => states(3).at(-1) === 'shutting_down', 'shutting_down');
    await clock.advance(5_000);
    await waitFor(() => states(3).at(-1) === 'offline', 'offline while rebooting');
    await clock.advance(8_000);
    await waitFor(() => states(3).at(-1) === 'online', 'online after the reboot');
    assert.deepEqual(states(3), ['online', 'shutting_down', 'offline', 'online']);
  });
});

describe('simulated system', () => {
  it('keeps temperatures in 40-70 °C and percentages in 0-100 while they wander', async () => {
    let seed = 7;
    const random = (): number => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const system = simulatedSystem(
      2,
      () => 1000,
      () => 0,
      random,
    );
    const temperatures = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const { main } = await system.cpuTemperature();
      assert.ok(main !== null && main >= 40 && main <= 70, String(main));
      temperatures.add(main);
      const { currentLoad } = await system.currentLoad();
      assert.ok(currentLoad >= 0 && currentLoad <= 100);
      const { active, total } = await system.mem();
      assert.ok(active > 0 && active < total);
    }
    assert.ok(temperatures.size > 50, 'the temperature moves');
  });
});
