import { randomBytes } from 'node:crypto';
import type { Config } from '../../config/schema.js';
import type { BoardContext } from '../factory.js';
import { GpioDriver } from '../gpio/driver.js';
import { Tpi1Driver } from '../tpi1/driver.js';
import { Tpi2Driver } from '../tpi2/driver.js';
import type { BoardDriver } from '../types.js';
import { startBmcSimulator } from './bmc-server.js';
import { createSimulatedGpioLines } from './generic.js';
import { createSimulatedTpi1 } from './tpi1.js';

export interface SimulatedBoard {
  driver: BoardDriver;
  simulatedPower: (node: number) => boolean | null;
  cleanup(): Promise<void>;
}

/**
 * `board.type: simulator` (SPEC section 3): the REAL driver of the simulated model on top of
 * the simulated hardware (ARCHITECTURE habit 3): the chips at register level for tpi1, a real
 * HTTPS BMC on loopback for tpi2, fake GPIO lines for generic clusters.
 */
export async function buildSimulatedBoard(config: Config, ctx: BoardContext): Promise<SimulatedBoard> {
  const { simulate } = config.board;
  const protectedNodes = ctx.nodes.filter((n) => n.protected).map((n) => n.number);
  switch (simulate.model) {
    case 'tpi1': {
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
      const password = randomBytes(12).toString('hex');
      const bmc = await startBmcSimulator({ clock: ctx.clock, password, cooling: true, power: [true, true, false, false] });
      const driver = new Tpi2Driver({
        url: bmc.url,
        username: 'root',
        password,
        ca: bmc.ca,
        clock: ctx.clock,
        logger: ctx.logger,
        type: 'simulator',
        model: 'Turing Pi 2 (simulated)',
      });
      return { driver, simulatedPower: (n) => bmc.state.physical[n - 1] ?? null, cleanup: () => bmc.close() };
    }
    case 'generic': {
      const lines = createSimulatedGpioLines({ nodes: simulate.nodes ?? 8, stateFile: simulate.state_file });
      const driver = new GpioDriver({
        lines: lines.mapping,
        gpio: lines.gpio,
        currentLevel: lines.currentLevel,
        base: 0,
        clock: ctx.clock,
        logger: ctx.logger,
        type: 'simulator',
        model: `GPIO cluster of ${simulate.nodes ?? 8} nodes (simulated)`,
      });
      return { driver, simulatedPower: (n) => lines.isOn(n), cleanup: async () => undefined };
    }
  }
}
