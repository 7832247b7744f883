/**
 * Raspberry Pi firmware throttle flags (the `get_throttled` mailbox value).
 *
 * Sources: `vcgencmd get_throttled` prints `throttled=0x50005`; the kernel's
 * /sys/devices/platform/soc/soc:firmware/get_throttled prints the same value as bare hex
 * (drivers/firmware/raspberrypi.c: `sprintf(buf, "%x\n", value)`). Bit meanings follow the
 * Raspberry Pi documentation of `get_throttled`: bits 0-3 are "now", bits 16-19 "since boot".
 */
export interface ThrottleFlags {
  /** The raw value as the firmware reports it, e.g. "0x50005". */
  raw: string;
  under_voltage: boolean;
  frequency_capped: boolean;
  throttled: boolean;
  soft_temperature_limit: boolean;
  under_voltage_occurred: boolean;
  frequency_capped_occurred: boolean;
  throttled_occurred: boolean;
  soft_temperature_limit_occurred: boolean;
}

/**
 * The number in `throttled=0x50005`, `0x50005` or `50005` (always hex, as both sources
 * print it), or undefined when the text is not such a value.
 */
export function parseThrottled(text: string): number | undefined {
  const match = /^(?:throttled=)?(?:0x)?([0-9a-f]{1,8})$/i.exec(text.trim());
  if (!match?.[1]) return undefined;
  return Number.parseInt(match[1], 16);
}

export function decodeThrottled(value: number): ThrottleFlags {
  const bit = (n: number): boolean => (value & (1 << n)) !== 0;
  return {
    raw: `0x${value.toString(16)}`,
    under_voltage: bit(0),
    frequency_capped: bit(1),
    throttled: bit(2),
    soft_temperature_limit: bit(3),
    under_voltage_occurred: bit(16),
    frequency_capped_occurred: bit(17),
    throttled_occurred: bit(18),
    soft_temperature_limit_occurred: bit(19),
  };
}
