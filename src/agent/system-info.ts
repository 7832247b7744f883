import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/**
 * Where the agent reads the node's health: the subset of `systeminformation` it uses, so
 * that the module itself can be passed (`createAgent(config, { systemInfo: si })`) and
 * tests can pass a plain object. `getThrottled` is ours: the Raspberry Pi firmware's
 * throttle value as text (`throttled=0x50005` or bare hex), or null where there is none.
 */
export interface SystemInfoSource {
  cpuTemperature(): Promise<{ main: number | null }>;
  currentLoad(): Promise<{ currentLoad: number }>;
  mem(): Promise<{ total: number; active: number }>;
  fsSize(): Promise<{ mount: string; use: number | null }[]>;
  time(): { uptime: number } | Promise<{ uptime: number }>;
  osInfo(): Promise<{ hostname: string }>;
  getThrottled?(): Promise<string | null>;
}

/** The kernel's copy of the firmware's throttle value (HARDWARE: Raspberry Pi firmware driver). */
export const THROTTLED_SYSFS = '/sys/devices/platform/soc/soc:firmware/get_throttled';

/**
 * The real source: `systeminformation`, imported only when the agent runs (the bridge never
 * loads it), plus the throttle value from sysfs or `vcgencmd`.
 */
export async function defaultSystemInfo(): Promise<SystemInfoSource> {
  const si = await import('systeminformation');
  return {
    cpuTemperature: () => si.cpuTemperature(),
    currentLoad: () => si.currentLoad(),
    mem: () => si.mem(),
    fsSize: () => si.fsSize(),
    time: () => si.time(),
    osInfo: () => si.osInfo(),
    getThrottled: readFirmwareThrottled,
  };
}

/** The throttle value as text, or null on a machine that is not a Raspberry Pi. */
export async function readFirmwareThrottled(): Promise<string | null> {
  try {
    return (await readFile(THROTTLED_SYSFS, 'utf8')).trim();
  } catch {
    // Older kernels or containers without the sysfs file: ask the firmware tool.
  }
  return new Promise((resolve) => {
    execFile('vcgencmd', ['get_throttled'], { timeout: 2000 }, (error, stdout) => {
      resolve(error ? null : stdout.trim());
    });
  });
}
