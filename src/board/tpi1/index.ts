/**
 * The Turing Pi 1 board: DS4520 node power and MCP7940N clock over an injected I2C bus. What the
 * factory and the library face (src/index.ts) use; the chips' code stays behind the driver.
 */
export { Tpi1Driver, type Tpi1DriverOptions } from './driver.js';
export type { Tpi1Timing } from './transactions.js';
export { openI2cBus, type I2cBus, type I2cBusModule, type OpenI2cBusOptions } from './i2c.js';
