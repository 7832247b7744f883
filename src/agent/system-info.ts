import { execFile } from 'node:child_process';
import { readFile, statfs } from 'node:fs/promises';
import { hostname, uptime } from 'node:os';

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
    // systeminformation runs df, lsb_release and more for these (~55 ms of CPU per sample on
    // a Pi); the kernel answers the three values the agent needs directly.
    fsSize: rootFsUse,
    time: () => ({ uptime: uptime() }),
    osInfo: async () => ({ hostname: hostname() }),
    getThrottled: readFirmwareThrottled,
  };
}

/** Use of the root file system in %, as df computes it (blocks available to users). */
async function rootFsUse(): Promise<{ mount: string; use: number | null }[]> {
  const fs = await statfs('/');
  const used = fs.blocks - fs.bfree;
  const usable = used + fs.bavail;
  return [{ mount: '/', use: usable > 0 ? Math.round((used / usable) * 1000) / 10 : null }];
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
