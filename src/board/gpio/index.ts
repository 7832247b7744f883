/** GPIO-switched clusters: what the factory and the library face use. */
export { GpioDriver, type GpioDriverOptions, type GpioLineConfig } from './driver.js';
export type { GpioFactory, GpioLine, GpioDirection } from './lines.js';
