/** The Turing Pi 2 / 2.5 board through the BMC's API: what the factory and the library face use. */
export { Tpi2Driver, type Tpi2DriverOptions } from './driver.js';
export type { FetchLike, FetchInit, FetchResponse } from './https-fetch.js';
