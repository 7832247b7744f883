import type { Config } from '../../config/schema.js';
import type { BoardContext } from '../types.js';
import type { BoardDriver } from '../types.js';

export interface SimulatedBoard {
  driver: BoardDriver;
  simulatedPower: (node: number) => boolean | null;
  cleanup(): Promise<void>;
}

/**
 * `board.type: simulator` (docs/configuration.md): the REAL driver of the simulated model on top of
 * the simulated hardware (docs/ARCHITECTURE.md "The simulator"): the chips at register level for tpi1, a real
 * HTTPS BMC on loopback for tpi2, fake GPIO lines for generic clusters. Each model's modules
 * are imported when it is chosen: the tpi2 BMC alone brings a certificate generator of some
 * 250 files (selfsigned and its X.509 stack), which a simulated Turing Pi 1 never needs.
 */
export async function buildSimulatedBoard(config: Config, ctx: BoardContext): Promise<SimulatedBoard> {
  const { simulate } = config.board;
  const protectedNodes = ctx.nodes.filter((n) => n.protected).map((n) => n.number);
  switch (simulate.model) {
    case 'tpi1': {
      const [{ createSimulatedTpi1 }, { Tpi1Driver }] = await Promise.all([
        import('./tpi1.js'),
        import('../tpi1/driver.js'),
      ]);
      const sim = createSimulatedTpi1({ clock: ctx.clock, stateFile: simulate.state_file });
      const driver = new Tpi1Driver({
        bus: sim.bus,
        clock: ctx.clock,
        logger: ctx.logger,
        persistPowerState: config.board.persist_power_state,
        eepromWritesPerDay: config.board.eeprom_writes_per_day,
        protectedNodes,
        lock: null,
        stateDir: config.state_dir,
        rtcOwnedByKernel: async () => false,
        info: { type: 'simulator', model: 'Turing Pi 1 (simulated)' },
      });
      return { driver, simulatedPower: (n) => sim.ds4520.nodePowered(n), cleanup: async () => undefined };
    }
    case 'tpi2': {
      // A password of the run's own: the simulated BMC is reached only through this driver.
      const [{ startBmcSimulator }, { Tpi2Driver }] = await Promise.all([
        import('./bmc-server.js'),
        import('../tpi2/driver.js'),
      ]);
      const { randomBytes } = await import('node:crypto');
      const password = randomBytes(12).toString('hex');
      const bmc = await startBmcSimulator({
        clock: ctx.clock,
        password,
        release: simulate.firmware,
        board: simulate.board,
        power: [true, true, false, false],
      });
      // Trusted as board.bmc says (config/demo-tpi2.yaml pins its fingerprint, as a user pins a
      // real BMC's); with nothing said there, the simulator's own certificate is pinned.
      const { fingerprint, ca, insecure } = config.board.bmc;
      const trustSaid = fingerprint !== null || ca !== null || insecure;
      const driver = new Tpi2Driver({
        url: bmc.url,
        username: 'root',
        password,
        ...(trustSaid ? { fingerprint, ca, insecure } : { ca: bmc.ca }),
        stateDir: config.state_dir,
        clock: ctx.clock,
        logger: ctx.logger,
        configFile: ctx.configFile,
        type: 'simulator',
        model: 'Turing Pi 2 (simulated)',
      });
      return { driver, simulatedPower: (n) => bmc.state.physical[n - 1] ?? null, cleanup: () => bmc.close() };
    }
    case 'generic': {
      const [{ createSimulatedGpioLines }, { GpioDriver }] = await Promise.all([
        import('./generic.js'),
        import('../gpio/driver.js'),
      ]);
      const lines = createSimulatedGpioLines({ nodes: simulate.nodes ?? 8, stateFile: simulate.state_file });
      const driver = new GpioDriver({
        lines: lines.mapping,
        gpio: lines.gpio,
        currentLevel: lines.currentLevel,
        base: 0,
        clock: ctx.clock,
        logger: ctx.logger,
        type: 'simulator',
        // The node count is said next to the model ("bridge online: ..., 16 nodes"), not twice.
        model: 'GPIO cluster (simulated)',
      });
      return { driver, simulatedPower: (n) => lines.isOn(n), cleanup: async () => undefined };
    }
  }
}
