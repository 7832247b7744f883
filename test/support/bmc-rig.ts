import {
  startBmcSimulator,
  type BmcSimulator,
  type BmcSimulatorOptions,
} from '../../src/board/simulator/bmc-server.js';
import { Tpi2Driver, type Tpi2DriverOptions } from '../../src/board/tpi2/driver.js';
import { FakeClock } from '../../src/util/fake-clock.js';

/**
 * A simulated BMC over HTTPS and the Tpi2Drivers of one test against it, all on one FakeClock
 * (1 March 2026, 12:00 UTC): the set-up the Turing Pi 2 driver tests share. close() closes the
 * drivers, then the BMC.
 */
export class BmcRig {
  readonly clock = new FakeClock(Date.UTC(2026, 2, 1, 12));
  private bmc: BmcSimulator | undefined;
  private readonly drivers: Tpi2Driver[] = [];

  constructor(private readonly password: string) {}

  async startBmc(options: Partial<BmcSimulatorOptions> = {}): Promise<BmcSimulator> {
    this.bmc = await startBmcSimulator({ clock: this.clock, password: this.password, ...options });
    return this.bmc;
  }

  /** A driver logging in as root to the BMC started last (not opened). */
  driver(options: Partial<Tpi2DriverOptions> = {}): Tpi2Driver {
    if (!this.bmc) throw new Error('start the BMC first');
    const driver = new Tpi2Driver({
      url: this.bmc.url,
      username: 'root',
      password: this.password,
      ca: this.bmc.ca,
      clock: this.clock,
      ...options,
    });
    this.drivers.push(driver);
    return driver;
  }

  async close(): Promise<void> {
    for (const driver of this.drivers.splice(0)) await driver.close();
    await this.bmc?.close();
  }
}
