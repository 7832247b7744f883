export { GpioDriver, type GpioDriverOptions, type GpioLineConfig } from './driver.js';
export { onoffFactory, type GpioFactory, type GpioLine, type GpioDirection } from './lines.js';
export { socGpioBase, listGpioChips, readSysfsLevel, SOC_GPIOCHIP_LABELS, DEFAULT_SYSFS_GPIO_ROOT } from './sysfs.js';
