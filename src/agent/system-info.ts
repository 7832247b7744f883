import { execFile } from 'node:child_process';
import { readFile, readdir, statfs } from 'node:fs/promises';
import { hostname, uptime } from 'node:os';
import { join } from 'node:path';

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
    // systeminformation starts two or three shells for this on every call (one of them with
    // execSync, which stops the agent meanwhile), to reach the same sysfs files on a Pi.
    cpuTemperature: kernelFirstTemperature(() => si.cpuTemperature()),
    currentLoad: () => si.currentLoad(),
    mem: () => si.mem(),
    // systeminformation runs df, lsb_release and more for these (~55 ms of CPU per sample on
    // a Pi); the kernel answers the three values the agent needs directly.
    fsSize: rootFsUse,
    time: () => ({ uptime: uptime() }),
    osInfo: async () => ({ hostname: hostname() }),
    // Not a Pi (no sysfs file, no vcgencmd): not every sample an attempt to start vcgencmd.
    getThrottled: quietAfterNothing(readFirmwareThrottled),
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

/** The kernel's thermal zones (a Raspberry Pi has one, of type `cpu-thermal`). */
export const THERMAL_ZONES = '/sys/class/thermal';

/** How long a source that found no sensor is left alone before it is asked again. */
export const NO_SENSOR_RETRY_MS = 60 * 60 * 1000;

/**
 * The CPU temperature in °C from the kernel's thermal zones: the first zone whose type names
 * the CPU (`cpu-thermal` on a Pi, `x86_pkg_temp` on Intel), else the first that reads; null
 * where no zone reads. A zone that fails to read (some report EINVAL while their sensor is
 * off) is skipped.
 */
export async function readThermalZones(dir = THERMAL_ZONES): Promise<number | null> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => /^thermal_zone\d+$/.test(name)).sort((a, b) => zoneNumber(a) - zoneNumber(b));
  } catch {
    return null;
  }
  const zones = await Promise.all(
    names.map(async (name) => {
      try {
        const [type, temp] = await Promise.all([readFile(join(dir, name, 'type'), 'utf8'), readFile(join(dir, name, 'temp'), 'utf8')]);
        const text = temp.trim();
        const milli = Number(text);
        return text !== '' && Number.isFinite(milli) ? { type: type.trim().toLowerCase(), celsius: milli / 1000 } : null;
      } catch {
        return null;
      }
    }),
  );
  const readable = zones.filter((z): z is { type: string; celsius: number } => z !== null);
  const cpu = readable.find((z) => z.type.includes('cpu') || z.type.includes('pkg'));
  return (cpu ?? readable[0])?.celsius ?? null;
}

function zoneNumber(name: string): number {
  return Number(name.slice('thermal_zone'.length));
}

/**
 * Reads the thermal zones; only where they give nothing asks `fallback` (systeminformation,
 * which also knows hwmon labels and `sensors`), itself quiet for an hour after it found
 * nothing (see quietAfterNothing).
 */
export function kernelFirstTemperature(
  fallback: () => Promise<{ main: number | null }>,
  options: { dir?: string; now?: () => number } = {},
): () => Promise<{ main: number | null }> {
  const quietFallback = quietAfterNothing(async () => {
    const { main } = await fallback();
    return main !== null && Number.isFinite(main) ? main : null;
  }, options.now);
  return async () => {
    const celsius = await readThermalZones(options.dir);
    return { main: celsius ?? (await quietFallback()) };
  };
}

/**
 * `read`, asked again only NO_SENSOR_RETRY_MS after it last found nothing: each try of the
 * fallbacks wrapped so starts processes (shells, `sensors`, `vcgencmd`), and on a machine
 * without the sensor they would start every sample for the same null.
 */
export function quietAfterNothing<T>(read: () => Promise<T | null>, now: () => number = Date.now): () => Promise<T | null> {
  let quietUntil = Number.NEGATIVE_INFINITY;
  return async () => {
    if (now() < quietUntil) return null;
    const value = await read();
    if (value === null) quietUntil = now() + NO_SENSOR_RETRY_MS;
    return value;
  };
}
