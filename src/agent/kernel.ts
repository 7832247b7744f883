import { closeSync, openSync, readSync, readdirSync, statfsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The node's health read from the kernel's own files (proc(5), sysfs), as `top`, `free` and
 * `df` read them: no process is started for a sample. Every path hangs under a root that
 * tests replace with a folder of fake files. They are read synchronously: the kernel makes
 * their text when asked, from memory, never waiting for a disk, and a read through node's
 * thread pool (open, stat, read, close, each a trip through the event loop) cost the agent
 * about twice the CPU per sample (docs/performance-log.md, idle CPU). Reads go through one buffer
 * and the parsers pick out the few fields they need, so that a sample leaves little garbage
 * behind: what it allocates is what V8's heap grows by between collections (docs/performance-log.md,
 * agent memory after 3,600 samples).
 */

/** Jiffies the CPUs spent busy and in all, from the `cpu` line of /proc/stat. */
export interface CpuTimes {
  busy: number;
  total: number;
}

/**
 * The aggregate `cpu` line: user nice system idle iowait irq softirq steal [guest guest_nice].
 * Idle is idle + iowait (a CPU waiting for the disk could run something else); guest time is
 * already counted in user and nice, so it is not added again.
 */
export function parseProcStatCpu(text: string): CpuTimes | null {
  // The aggregate line comes first; the lines after it (per-CPU, `intr` with a count per
  // interrupt) can be long and are never split.
  const start = lineStart(text, 'cpu ');
  if (start < 0) return null;
  const end = text.indexOf('\n', start);
  const line = text.slice(start, end < 0 ? undefined : end);
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (fields.length < 4 || fields.some((n) => !Number.isFinite(n))) return null;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/** MemTotal and the memory available to programs, in bytes (MemAvailable; older kernels: free + buffers + cached). */
export function parseMeminfo(text: string): { total: number; available: number } | null {
  const total = meminfoKib(text, 'MemTotal:');
  if (!total) return null;
  const available =
    meminfoKib(text, 'MemAvailable:') ??
    (meminfoKib(text, 'MemFree:') ?? 0) + (meminfoKib(text, 'Buffers:') ?? 0) + (meminfoKib(text, 'Cached:') ?? 0);
  return { total: total * 1024, available: available * 1024 };
}

/** The kB figure of the line that starts with `label` (`MemTotal:`), or undefined where there is none. */
function meminfoKib(text: string, label: string): number | undefined {
  const at = lineStart(text, label);
  if (at < 0) return undefined;
  // parseInt skips the padding after the colon and stops at " kB".
  const kib = parseInt(text.slice(at + label.length, at + label.length + 24), 10);
  return Number.isFinite(kib) ? kib : undefined;
}

/** Where the first line that begins with `prefix` begins, or -1 where none does (no split into lines). */
function lineStart(text: string, prefix: string): number {
  if (text.startsWith(prefix)) return 0;
  const newline = text.indexOf(`\n${prefix}`);
  return newline < 0 ? -1 : newline + 1;
}

/** Seconds since boot: the first number of /proc/uptime. */
export function parseUptime(text: string): number | null {
  const seconds = Number(text.trim().split(/\s+/)[0]);
  return text.trim() !== '' && Number.isFinite(seconds) ? seconds : null;
}

/**
 * CPU load in % over the time since the previous reading (two readings' deltas, as `top`
 * computes it). The first reading has no previous one: it gives the average since boot.
 * The counters can fall: the idle time after a resume from suspend, and any of them when a CPU
 * goes offline (the sum then leaves its counts out). Such an interval is not measured (the last
 * figure stands, not a load of 100 % or more); the next one is measured from the reading after
 * the fall, rather than not at all until the counters had made it up.
 */
export class CpuLoadMeter {
  private previous: CpuTimes = { busy: 0, total: 0 };
  private last: number | null = null;

  constructor(private readonly read: () => Promise<CpuTimes | null>) {}

  async percent(): Promise<number | null> {
    const now = await this.read();
    if (!now) return null;
    const total = now.total - this.previous.total;
    const busy = now.busy - this.previous.busy;
    // Asked twice within one clock tick: nothing new to tell, the last figure stands.
    if (total === 0 && busy === 0) return this.last;
    this.previous = now;
    if (busy < 0 || busy > total) return this.last; // busy or idle time fell
    this.last = (busy / total) * 100;
    return this.last;
  }
}

/** Where the kernel's files are, under `root` (`/` on a real node). */
export function kernelPaths(root = '/'): {
  stat: string;
  meminfo: string;
  uptime: string;
  thermal: string;
  hwmon: string;
  throttled: string;
} {
  return {
    stat: join(root, 'proc/stat'),
    meminfo: join(root, 'proc/meminfo'),
    uptime: join(root, 'proc/uptime'),
    thermal: join(root, 'sys/class/thermal'),
    hwmon: join(root, 'sys/class/hwmon'),
    // The kernel's copy of the Raspberry Pi firmware's throttle value (its firmware driver).
    throttled: join(root, 'sys/devices/platform/soc/soc:firmware/get_throttled'),
  };
}

/**
 * One buffer for every read of a kernel file: a sample allocates the text it parses and nothing
 * to read it into (readFileSync allocates a buffer per read, 64 KiB for a /proc file, whose
 * size the kernel reports as 0).
 */
const readBuffer = Buffer.allocUnsafe(4096);

/** A file's text, or null where it does not exist or cannot be read. */
export async function readText(path: string): Promise<string | null> {
  return readKernelFile(path, true);
}

/**
 * The first 4 KiB of a file, or null: for /proc/stat, whose first line is the one read and
 * whose `intr` line runs to kilobytes on a machine with many interrupts.
 */
export async function readHead(path: string): Promise<string | null> {
  return readKernelFile(path, false);
}

function readKernelFile(path: string, whole: boolean): string | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    let text = '';
    for (;;) {
      // A /proc or sysfs file may hand out its text over several reads: only 0 means the end.
      const read = readSync(fd, readBuffer, 0, readBuffer.length, null);
      if (read === 0) return text;
      // latin1: these files are ASCII, and no character can be cut in two between reads.
      text += readBuffer.toString('latin1', 0, read);
      if (!whole) return text;
    }
  } catch {
    // Some sensors answer EINVAL while they are off.
    return null;
  } finally {
    closeSync(fd);
  }
}

/**
 * Use of the file system holding `path` in %, as df computes it (blocks available to users).
 * Synchronous on purpose: the async statfs runs in libuv's threads, and each got a malloc arena
 * of its own (docs/agent.md, telemetry).
 */
export async function fsUse(path = '/'): Promise<number | null> {
  const fs = statfsSync(path);
  const used = fs.blocks - fs.bfree;
  const usable = used + fs.bavail;
  return usable > 0 ? Math.round((used / usable) * 1000) / 10 : null;
}

/** A temperature sensor's file (millidegrees Celsius) and what it read. */
export interface SensorReading {
  file: string;
  celsius: number;
}

/**
 * Where a reading can lie: no node runs outside it. A sensor that reads beyond has failed, as a
 * Raspberry Pi's zone now and then reads a large negative number (raspberrypi/firmware#133), or
 * marks "no value" (the kernel's THERMAL_TEMP_INVALID is -274 °C); published, it would stand in
 * the history and trip a thermal policy. The top lies above any max_celsius the config allows.
 */
const PLAUSIBLE_CELSIUS = { min: -100, max: 200 } as const;

/** A sensor file's temperature in °C, or null where it does not read as a plausible number. */
export async function readCelsius(file: string): Promise<number | null> {
  const text = (await readText(file))?.trim() ?? '';
  const celsius = Number(text) / 1000;
  const plausible = celsius >= PLAUSIBLE_CELSIUS.min && celsius <= PLAUSIBLE_CELSIUS.max;
  return text !== '' && plausible ? celsius : null;
}

/**
 * The CPU temperature from the kernel's thermal zones, with the zone's `temp` file (read again
 * without a search on later samples): the first zone whose type names the CPU (`cpu-thermal` on
 * a Pi, `x86_pkg_temp` on Intel), else the first that reads; null where no zone reads. A zone
 * that fails to read (some report EINVAL while their sensor is off) is skipped.
 */
export async function findThermalZone(dir: string): Promise<SensorReading | null> {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((name) => /^thermal_zone\d+$/.test(name))
      .sort((a, b) => zoneNumber(a) - zoneNumber(b));
  } catch {
    return null;
  }
  const zones = await Promise.all(
    names.map(async (name) => {
      const file = join(dir, name, 'temp');
      const [type, celsius] = await Promise.all([readText(join(dir, name, 'type')), readCelsius(file)]);
      return type !== null && celsius !== null ? { type: type.trim().toLowerCase(), file, celsius } : null;
    }),
  );
  const readable = zones.filter((z): z is { type: string; file: string; celsius: number } => z !== null);
  const zone = readable.find((z) => z.type.includes('cpu') || z.type.includes('pkg')) ?? readable[0];
  return zone ? { file: zone.file, celsius: zone.celsius } : null;
}

function zoneNumber(name: string): number {
  return Number(name.slice('thermal_zone'.length));
}

/** hwmon drivers that measure the CPU (Intel, AMD, and the names Arm SoCs register). */
const CPU_HWMON = /^(coretemp|k10temp|zenpower|cpu[-_]thermal|soc[-_]thermal|cpu)$/;

/**
 * The CPU temperature from hwmon (`/sys/class/hwmon`), with its file, for machines whose kernel
 * has no thermal zone for it: the lowest-numbered `tempN_input` of the first CPU driver that reads.
 */
export async function findHwmonInput(dir: string): Promise<SensorReading | null> {
  let devices: string[];
  try {
    devices = readdirSync(dir)
      .filter((name) => /^hwmon\d+$/.test(name))
      .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  } catch {
    return null;
  }
  for (const device of devices) {
    const name = (await readText(join(dir, device, 'name')))?.trim() ?? '';
    if (!CPU_HWMON.test(name)) continue;
    let inputs: string[];
    try {
      inputs = readdirSync(join(dir, device))
        .filter((f) => /^temp\d+_input$/.test(f))
        .sort((a, b) => parseInt(a.slice(4), 10) - parseInt(b.slice(4), 10));
    } catch {
      continue;
    }
    for (const input of inputs) {
      const file = join(dir, device, input);
      const celsius = await readCelsius(file);
      if (celsius !== null) return { file, celsius };
    }
  }
  return null;
}
