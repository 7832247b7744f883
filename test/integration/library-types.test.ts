import assert from 'node:assert/strict';
import * as library from '../../src/index.js';
import {
  createSimulatedGpioLines,
  createSimulatedTpi1,
  FakeClock,
  GpioDriver,
  parseConfig,
  silentLogger,
  startBmcSimulator,
  Tpi1Driver,
  Tpi2Driver,
  type AgentDeps,
  type BmcSimulator,
  type BmcSimulatorOptions,
  type CommandRunner,
  type GpioDriverOptions,
  type LoadOptions,
  type LoggerOptions,
  type SimulatedGpioLines,
  type SimulatedGpioOptions,
  type SimulatedTpi1,
  type SimulatedTpi1Options,
  type SystemInfoSource,
  type TimerHandle,
  type Tpi1DriverOptions,
  type Tpi2DriverOptions,
} from '../../src/index.js';

/**
 * The types a program embedding the library needs to type its own code (docs/library.md), taken
 * from the package's entry point: the options of the drivers and of the simulator, the agent's
 * dependencies. This file is type-checked by `npm run lint` and the build: a type no longer
 * exported fails them.
 */
describe('the library entry point exports the types of what it exports', () => {
  it("types a program's options for the drivers and the simulated boards", async () => {
    const clock = new FakeClock();
    const simOptions: SimulatedTpi1Options = { clock, modulesPresent: [1, 2, 3] };
    const sim: SimulatedTpi1 = createSimulatedTpi1(simOptions);
    const tpi1: Tpi1DriverOptions = {
      bus: sim.bus,
      clock,
      logger: silentLogger(),
      persistPowerState: false,
      eepromWritesPerDay: 200,
      protectedNodes: [1],
      lock: null,
    };
    const gpioOptions: SimulatedGpioOptions = { nodes: 2 };
    const lines: SimulatedGpioLines = createSimulatedGpioLines(gpioOptions);
    const gpio: GpioDriverOptions = { lines: lines.mapping, gpio: lines.gpio, currentLevel: lines.currentLevel };
    const bmcOptions: BmcSimulatorOptions = { password: 'secret' };
    const bmc: BmcSimulator = await startBmcSimulator(bmcOptions);
    try {
      const tpi2: Tpi2DriverOptions = {
        url: bmc.url,
        username: 'root',
        password: 'secret',
        fingerprint: bmc.fingerprint,
      };
      const tpi2Driver = new Tpi2Driver(tpi2);
      const drivers = [new Tpi1Driver(tpi1), new GpioDriver(gpio), tpi2Driver];
      assert.deepEqual(
        drivers.map((d) => d.info.nodes),
        [7, 2, 4],
      );
      await tpi2Driver.close();
    } finally {
      await bmc.close();
    }
  });

  it("types the agent's dependencies, the loader's and the logger's options, and a timer", () => {
    const systemInfo: SystemInfoSource = {
      cpuTemperature: () => Promise.resolve({ main: 50 }),
      currentLoad: () => Promise.resolve({ currentLoad: 5 }),
      mem: () => Promise.resolve({ total: 8e9, active: 2e9 }),
      fsSize: () => Promise.resolve([{ mount: '/', use: 40 }]),
      time: () => ({ uptime: 3600 }),
      osInfo: () => Promise.resolve({ hostname: 'node3' }),
    };
    const run: CommandRunner = (argv) => Promise.resolve({ code: 0, stderr: argv.join(' ') });
    const deps: AgentDeps = { systemInfo, run };
    const load: LoadOptions = { env: { MQTT_PASSWORD: 'x' } };
    const log: LoggerOptions = { level: 'silent', format: 'json' };
    const clock = new FakeClock();
    const timer: TimerHandle = clock.setTimeout(() => undefined, 1000);
    clock.clearTimeout(timer);
    const config = parseConfig({ agent: { node: 3 } });
    assert.equal(typeof library.createAgent(config, deps).stop, 'function');
    assert.deepEqual([load.env?.MQTT_PASSWORD, log.level, clock.pending], ['x', 'silent', 0]);
  });
});
