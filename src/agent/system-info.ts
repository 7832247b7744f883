import { hostname, uptime } from 'node:os';
import { delimiter, join } from 'node:path';
import { monotonicMs } from '../util/clock.js';
import { access, constants } from '../util/files.js';
import {
  CpuLoadMeter,
  findHwmonInput,
  findThermalZone,
  fsUse,
  kernelPaths,
  parseMeminfo,
  parseProcStatCpu,
  parseUptime,
  readCelsius,
  readHead,
  readText,
} from './kernel.js';

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

/** What the fallback (systeminformation) is asked for, where the kernel's files are missing. */
export type FallbackSource = Pick<SystemInfoSource, 'cpuTemperature' | 'currentLoad' | 'mem'>;

/** The kernel's copy of the Raspberry Pi firmware's throttle value (its firmware driver). */
const THROTTLED_SYSFS = kernelPaths().throttled;

/** The kernel's thermal zones (a Raspberry Pi has one, of type `cpu-thermal`). */
const THERMAL_ZONES = kernelPaths().thermal;

/** How long a source that found no sensor is left alone before it is asked again. */
const NO_SENSOR_RETRY_MS = 60 * 60 * 1000;

export interface DefaultSystemInfoOptions {
  /** Where proc/ and sys/ are; `/` on a node, a folder of fake files in tests. */
  root?: string;
  /** Loads the fallback; default: systeminformation, imported only when first needed. */
  loadFallback?: () => Promise<FallbackSource>;
  now?: () => number;
}

/** systeminformation, loaded the first time the kernel's files do not answer (on a system without /proc). */
async function loadSystemInformation(): Promise<FallbackSource> {
  const loaded = (await import('systeminformation')) as typeof import('systeminformation') & {
    default?: typeof import('systeminformation');
  };
  return loaded.default ?? loaded;
}

/**
 * The real source: the kernel's files (/proc/stat, /proc/meminfo, /proc/uptime, statfs of
 * `/`, the thermal zones, the firmware's throttle value in sysfs), read in this process.
 * No process is started for a sample: systeminformation (which starts shells for CPU load
 * and temperature) is only the fallback on a system without /proc, loaded then.
 */
export function defaultSystemInfo(options: DefaultSystemInfoOptions = {}): SystemInfoSource {
  const paths = kernelPaths(options.root);
  const load = options.loadFallback ?? loadSystemInformation;
  let fallback: Promise<FallbackSource> | undefined;
  const fallbackSource = (): Promise<FallbackSource> => (fallback ??= load());
  const cpu = new CpuLoadMeter(async () => {
    const text = await readHead(paths.stat);
    return text === null ? null : parseProcStatCpu(text);
  });
  // A Linux kernel has told all it knows through thermal zones and hwmon: systeminformation
  // (shells, `sensors`) is asked only on a system without /proc.
  const noSensor = { main: null };
  const otherSystems = async (): Promise<{ main: number | null }> =>
    (await readHead(paths.stat)) !== null ? noSensor : (await fallbackSource()).cpuTemperature();
  return {
    cpuTemperature: kernelFirstTemperature(otherSystems, { dir: paths.thermal, hwmon: paths.hwmon, now: options.now }),
    currentLoad: async () => {
      const load = await cpu.percent();
      return load !== null ? { currentLoad: load } : (await fallbackSource()).currentLoad();
    },
    mem: async () => {
      const text = await readText(paths.meminfo);
      const mem = text === null ? null : parseMeminfo(text);
      // Active as systeminformation and `free` count it: what programs hold, not the page cache.
      return mem ? { total: mem.total, active: mem.total - mem.available } : (await fallbackSource()).mem();
    },
    fsSize: async () => [{ mount: '/', use: await fsUse(options.root ?? '/') }],
    time: async () => {
      const text = await readText(paths.uptime);
      return { uptime: (text === null ? null : parseUptime(text)) ?? uptime() };
    },
    osInfo: async () => ({ hostname: hostname() }),
    // Not a Pi (no sysfs file, no vcgencmd): not every sample an attempt to start vcgencmd.
    getThrottled: quietAfterNothing(() => readFirmwareThrottled(paths.throttled), options.now),
  };
}

/**
 * The throttle value as text, or null on a machine that is not a Raspberry Pi. `path`: where
 * to look for vcgencmd (default: PATH).
 */
async function readFirmwareThrottled(sysfs = THROTTLED_SYSFS, path = process.env.PATH ?? ''): Promise<string | null> {
  const text = await readText(sysfs);
  if (text !== null) return text.trim();
  // Older kernels or containers without the sysfs file: ask the firmware tool, where there is
  // one. Elsewhere (a Turing Pi 2's RK1 or Jetson) node's child_process is not even loaded.
  const vcgencmd = await findExecutable('vcgencmd', path);
  if (vcgencmd === null) return null;
  const { execFile } = await import('node:child_process');
  return new Promise((resolve) => {
    execFile(vcgencmd, ['get_throttled'], { timeout: 2000 }, (error, stdout) => {
      resolve(error ? null : stdout.trim());
    });
  });
}

/** The first executable `name` in the directories of `path` (as a shell would find it), or null. */
async function findExecutable(name: string, path: string): Promise<string | null> {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      await access(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Reads the thermal zones, then hwmon; only where they give nothing asks `fallback`, itself
 * quiet for an hour after it found nothing (see quietAfterNothing). The sensor found is read
 * directly on later samples (one file, no folder listed); the folders are searched again when
 * it stops reading, and, where they held no sensor, an hour after that search.
 */
export function kernelFirstTemperature(
  fallback: () => Promise<{ main: number | null }>,
  options: { dir?: string; hwmon?: string; now?: (() => number) | undefined } = {},
): () => Promise<{ main: number | null }> {
  const quietFallback = quietAfterNothing(async () => {
    const { main } = await fallback();
    return main !== null && Number.isFinite(main) ? main : null;
  }, options.now);
  const search = quietAfterNothing(
    async () =>
      (await findThermalZone(options.dir ?? THERMAL_ZONES)) ??
      (await findHwmonInput(options.hwmon ?? kernelPaths().hwmon)),
    options.now,
  );
  let sensor: string | null = null;
  return async () => {
    const known = sensor === null ? null : await readCelsius(sensor);
    if (known !== null) return { main: known };
    const found = await search();
    // A search that found nothing keeps the known file: a sensor that fails one read (EAGAIN,
    // a glitch) is read again next sample, not after the hour the search then stays quiet.
    if (found) sensor = found.file;
    return { main: found?.celsius ?? (await quietFallback()) };
  };
}

/**
 * `read`, asked again only NO_SENSOR_RETRY_MS after it last found nothing: each try of the
 * fallbacks wrapped so starts processes (shells, `sensors`, `vcgencmd`), and on a machine
 * without the sensor they would start every sample for the same null.
 */
export function quietAfterNothing<T>(
  read: () => Promise<T | null>,
  // Monotonic: a system clock set back (NTP on a Pi without a real-time clock) must not keep a
  // sensor that was not ready at boot unread for as long as the step.
  now: () => number = monotonicMs,
): () => Promise<T | null> {
  let quietUntil = Number.NEGATIVE_INFINITY;
  return async () => {
    if (now() < quietUntil) return null;
    const value = await read();
    if (value === null) quietUntil = now() + NO_SENSOR_RETRY_MS;
    return value;
  };
}
