/** The Turing Pi 1 board: DS4520 node power and MCP7940N clock over an injected I2C bus. */
export { Tpi1Driver, DEFAULT_TPI1_TIMING, readingFrom, type Tpi1DriverOptions, type Tpi1Timing } from './driver.js';
export { openI2cBus, type I2cBus, type I2cBusModule, type OpenI2cBusOptions } from './i2c.js';
export {
  EepromWriteBudget,
  fileBudgetStore,
  memoryBudgetStore,
  BUDGET_FILE_NAME,
  type EepromBudgetStore,
} from './eeprom-budget.js';
export { kernelOwnsRtc, runArgv, HWCLOCK_SYSTOHC_ARGV } from './kernel-rtc.js';
export {
  decodeRtcFields,
  decodeRtcReading,
  encodeRtcRegisters,
  weekdayFor,
  fromBcd,
  toBcd,
  type RtcFields,
  type EncodeRtcOptions,
} from './rtc.js';
export {
  DS4520,
  DS4520_ADDRESS,
  MCP7940N,
  MCP7940N_ADDRESS,
  SEE_BIT,
  TPI1_NODE_COUNT,
  UNUSED_POWER_BIT,
  nodeMask,
  isTpi1Node,
  hex,
} from './registers.js';
