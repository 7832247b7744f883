import assert from 'node:assert/strict';
import childProcess from 'node:child_process';
import { mkdirSync, mkdtempSync, statfsSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  CpuLoadMeter,
  parseMeminfo,
  parseProcStatCpu,
  parseUptime,
  findHwmonInput,
  readHead,
  readText,
} from '../../src/agent/kernel.js';
import { defaultSystemInfo, type FallbackSource } from '../../src/agent/system-info.js';
import { TelemetrySampler } from '../../src/agent/telemetry.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { silentLogger } from '../../src/util/logger.js';

/** /proc/stat of a 4-CPU Raspberry Pi 4, cut to what matters (jiffies). */
const STAT_BEFORE = `cpu  10000 500 3000 80000 1000 0 200 0 0 0
cpu0 2500 125 750 20000 250 0 50 0 0 0
intr 123456 0 0
ctxt 987654
btime 1764990000
processes 4321
`;
/** 2,000 jiffies later: 500 busy (300 user, 100 system, 100 softirq), 1,500 idle + iowait. */
const STAT_AFTER = `cpu  10300 500 3100 81400 1100 0 300 0 0 0
cpu0 2575 125 775 20350 275 0 75 0 0 0
btime 1764990000
`;

const MEMINFO = `MemTotal:        3884136 kB
MemFree:          312340 kB
MemAvailable:    2913102 kB
Buffers:           62116 kB
Cached:          2305344 kB
SwapCached:            0 kB
Active(anon):     512000 kB
`;

/** A folder laid out as `/`: proc/ and sys/ with the files the agent reads. */
function fakeRoot(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'tpm-root-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const PI_FILES = {
  'proc/stat': STAT_BEFORE,
  'proc/meminfo': MEMINFO,
  'proc/uptime': '3601.52 13200.04\n',
  'sys/class/thermal/thermal_zone0/type': 'cpu-thermal\n',
  'sys/class/thermal/thermal_zone0/temp': '48312\n',
  'sys/devices/platform/soc/soc:firmware/get_throttled': '0x50005\n',
};

/** A fallback that counts how often it was loaded and asked, and answers what nothing else would. */
function countingFallback(): { load: () => Promise<FallbackSource>; loads: number; asked: number } {
  const counter = {
    loads: 0,
    asked: 0,
    load: async (): Promise<FallbackSource> => {
      counter.loads++;
      return {
        cpuTemperature: async () => (counter.asked++, { main: 61 }),
        currentLoad: async () => (counter.asked++, { currentLoad: 42 }),
        mem: async () => (counter.asked++, { total: 1000, active: 250 }),
      };
    },
  };
  return counter;
}

/** Counts every call that would start a process, for as long as `body` runs. */
async function countingSpawns<T>(body: () => Promise<T>): Promise<{ result: T; spawns: string[] }> {
  const cp = childProcess as unknown as Record<string, (...args: unknown[]) => unknown>;
  const names = ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'];
  const originals = new Map(names.map((n) => [n, cp[n]]));
  const spawns: string[] = [];
  for (const name of names) {
    const original = originals.get(name) as (...args: unknown[]) => unknown;
    cp[name] = (...args: unknown[]) => {
      spawns.push(`${name} ${String(args[0])}`);
      return original(...args);
    };
  }
  // The named imports of node:child_process (system-info.ts's execFile) follow the object.
  syncBuiltinESMExports();
  try {
    return { result: await body(), spawns };
  } finally {
    for (const [name, original] of originals) cp[name] = original as (...args: unknown[]) => unknown;
    syncBuiltinESMExports();
  }
}

/** Runs `body` with PATH set to `dir` alone. */
async function withPath<T>(dir: string, body: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = dir;
  try {
    return await body();
  } finally {
    process.env.PATH = saved;
  }
}

describe("agent readings from the kernel's files", () => {
  it('parses the cpu line of /proc/stat: idle and iowait idle, guest time not counted twice', () => {
    assert.deepEqual(parseProcStatCpu(STAT_BEFORE), { busy: 13700, total: 94700 });
    assert.deepEqual(parseProcStatCpu('cpu  10 0 10 80 0 0 0 0 5 0\n'), { busy: 20, total: 100 });
    assert.equal(parseProcStatCpu('intr 1 2 3\n'), null);
    assert.equal(parseProcStatCpu('cpu  x y z\n'), null);
  });

  it('parses /proc/meminfo in bytes, MemAvailable first, free + buffers + cached on kernels without it', () => {
    assert.deepEqual(parseMeminfo(MEMINFO), { total: 3884136 * 1024, available: 2913102 * 1024 });
    const old = MEMINFO.replace(/^MemAvailable.*\n/m, '');
    assert.deepEqual(parseMeminfo(old), { total: 3884136 * 1024, available: (312340 + 62116 + 2305344) * 1024 });
    assert.equal(parseMeminfo('MemFree: 5 kB\n'), null);
  });

  it('reads the cpu line from the head of /proc/stat, and meminfo fields wherever they are', () => {
    const manyInterrupts = `${STAT_BEFORE.split('\n')[0]}\nintr ${' 0'.repeat(5000)}\n`;
    assert.deepEqual(parseProcStatCpu(manyInterrupts.slice(0, 4096)), { busy: 13700, total: 94700 });
    assert.deepEqual(parseProcStatCpu(`intr 1\n${STAT_BEFORE}`), { busy: 13700, total: 94700 });
    const reordered = 'Cached: 30 kB\nMemFree:    10 kB\nBuffers: 20 kB\nMemTotal: 100 kB\n';
    assert.deepEqual(parseMeminfo(reordered), { total: 100 * 1024, available: 60 * 1024 });
    assert.equal(parseMeminfo('SwapMemTotal: 5 kB\n'), null, 'a label is matched at the start of a line only');
  });

  it('reads a whole file through its one buffer, the head alone where asked, null where there is none', async () => {
    const long = `${'x'.repeat(4095)}\n${'y'.repeat(5000)}\nend\n`;
    const root = fakeRoot({ 'proc/long': long, 'proc/short': 'cpu  1 2 3 4\n' });
    assert.equal(await readText(join(root, 'proc/long')), long);
    assert.equal(await readText(join(root, 'proc/short')), 'cpu  1 2 3 4\n');
    assert.equal(await readHead(join(root, 'proc/long')), long.slice(0, 4096));
    assert.equal(await readText(join(root, 'proc/missing')), null);
    assert.equal(await readText(join(root, 'proc')), null, 'a folder does not read');
  });

  it('parses /proc/uptime', () => {
    assert.equal(parseUptime('3601.52 13200.04\n'), 3601.52);
    assert.equal(parseUptime(''), null);
  });

  it("computes CPU load from two readings' deltas; the first reading is the average since boot", async () => {
    const readings = [parseProcStatCpu(STAT_BEFORE), parseProcStatCpu(STAT_AFTER), parseProcStatCpu(STAT_AFTER)];
    let i = 0;
    const meter = new CpuLoadMeter(async () => readings[i++] ?? null);
    assert.equal(Math.round(((await meter.percent()) ?? 0) * 10) / 10, 14.5); // 13700 / 94700
    assert.equal(await meter.percent(), 25); // 500 of 2000
    assert.equal(await meter.percent(), 25, 'no tick between two readings: the last figure stands');
    assert.equal(await meter.percent(), null, 'unreadable: null');
  });

  it('counters that go backwards (a suspend, a CPU unplugged) restart the measure instead of freezing it', async () => {
    // After a resume the idle counter fell by thousands of seconds (giampaolo/psutil#2172).
    const times = [
      { busy: 20_000, total: 400_000 },
      { busy: 20_100, total: 50_000 }, // idle fell by 350,000 jiffies
      { busy: 20_200, total: 51_000 }, // 100 busy of 1,000
      { busy: 20_800, total: 52_000 }, // 600 busy of 1,000
    ];
    let i = 0;
    const meter = new CpuLoadMeter(async () => times[i++] ?? null);
    assert.equal(await meter.percent(), 5);
    assert.equal(await meter.percent(), 5, 'an interval whose counters went backwards says nothing: the last figure');
    assert.equal(await meter.percent(), 10, 'measured from the reading after the fall, not frozen until it is made up');
    assert.equal(await meter.percent(), 60);
  });

  it('an idle counter that fell while busy time grew is no 100 % load', async () => {
    const times = [
      { busy: 1_000, total: 10_000 },
      { busy: 1_100, total: 10_050 }, // busy +100, idle -50: "200 %" of 50 jiffies
      { busy: 1_300, total: 10_550 }, // 200 of 500
    ];
    let i = 0;
    const meter = new CpuLoadMeter(async () => times[i++] ?? null);
    assert.equal(await meter.percent(), 10);
    assert.equal(await meter.percent(), 10, 'not measured: the last figure stands');
    assert.equal(await meter.percent(), 40);
  });

  it(
    'reads the CPU temperature from hwmon where there is no thermal zone: the CPU driver, its first ' + 'input',
    async () => {
      const root = fakeRoot({
        'sys/class/hwmon/hwmon0/name': 'nvme\n',
        'sys/class/hwmon/hwmon0/temp1_input': '38850\n',
        'sys/class/hwmon/hwmon2/name': 'coretemp\n',
        'sys/class/hwmon/hwmon2/temp10_input': '59000\n',
        'sys/class/hwmon/hwmon2/temp2_input': '57000\n',
        'sys/class/hwmon/hwmon2/temp1_input': '61000\n',
      });
      assert.equal((await findHwmonInput(join(root, 'sys/class/hwmon')))?.celsius, 61);
      const fallback = countingFallback();
      const source = defaultSystemInfo({ root, loadFallback: fallback.load });
      assert.deepEqual(await source.cpuTemperature(), { main: 61 });
      assert.equal(
        await findHwmonInput(
          join(
            fakeRoot({ 'sys/class/hwmon/hwmon0/name': 'nvme\n', 'sys/class/hwmon/hwmon0/temp1_input': '1\n' }),
            'sys/class/hwmon',
          ),
        ),
        null,
      );
      assert.equal(fallback.loads, 0);
    },
  );

  it('samples a fake Raspberry Pi root: every figure from its files, nothing from the fallback', async () => {
    const root = fakeRoot(PI_FILES);
    const fallback = countingFallback();
    const clock = new FakeClock(Date.parse('2026-12-06T07:00:00Z'));
    const sampler = new TelemetrySampler(
      defaultSystemInfo({ root, loadFallback: fallback.load }),
      clock,
      silentLogger(),
    );
    const first = await sampler.sample();
    writeFileSync(join(root, 'proc/stat'), STAT_AFTER);
    writeFileSync(join(root, 'sys/class/thermal/thermal_zone0/temp'), '51049\n');
    const second = await sampler.sample();
    const fs = statfsSync(root);
    const used = fs.blocks - fs.bfree;
    const disk = Math.round((used / (used + fs.bavail)) * 1000) / 10;
    assert.deepEqual(
      { ...first, throttled: first.throttled?.raw, disk_used: first.disk_used },
      {
        temperature: 48.3,
        cpu_load: 14.5,
        memory_used: 25,
        disk_used: Math.round(disk * 10) / 10,
        uptime: 3601,
        boot_time: '2026-12-06T05:59:59Z',
        hostname: first.hostname,
        throttled: '0x50005',
      },
    );
    assert.equal(second.cpu_load, 25);
    assert.equal(second.temperature, 51);
    assert.ok(first.hostname, "the hostname is the machine's");
    assert.equal(fallback.loads, 0, 'systeminformation is never loaded where the kernel has the files');
  });

  it(
    'falls back to systeminformation (loaded once, when first needed) where /proc and the thermal zones are ' +
      'missing',
    async () => {
      const root = fakeRoot({ 'proc/uptime': '10.5 20.1\n' });
      const fallback = countingFallback();
      const sampler = new TelemetrySampler(
        defaultSystemInfo({ root, loadFallback: fallback.load }),
        new FakeClock(0),
        silentLogger(),
      );
      assert.equal(fallback.loads, 0, 'not loaded before a sample needs it');
      const telemetry = await sampler.sample();
      await sampler.sample();
      assert.equal(telemetry.cpu_load, 42);
      assert.equal(telemetry.memory_used, 25);
      assert.equal(telemetry.temperature, 61);
      assert.equal(telemetry.uptime, 10);
      assert.equal(fallback.loads, 1);
    },
  );

  it('starts no process per sample where the kernel has the files', async function () {
    this.timeout(20_000);
    const root = fakeRoot(PI_FILES);
    const fallback = countingFallback();
    const sampler = new TelemetrySampler(
      defaultSystemInfo({ root, loadFallback: fallback.load }),
      new FakeClock(0),
      silentLogger(),
    );
    const { spawns } = await countingSpawns(async () => {
      for (let i = 0; i < 20; i++) await sampler.sample();
    });
    assert.deepEqual(spawns, []);
    assert.equal(fallback.loads, 0);
  });

  it('no throttle file, no sensor: asks the vcgencmd on PATH once, then nothing for an hour', async function () {
    this.timeout(20_000);
    const root = fakeRoot({ 'proc/stat': STAT_BEFORE, 'proc/meminfo': MEMINFO, 'proc/uptime': '5 5\n' });
    // An older kernel on a Pi: no sysfs file, the firmware tool on PATH.
    const bin = mkdtempSync(join(tmpdir(), 'tpm-bin-'));
    writeFileSync(join(bin, 'vcgencmd'), '#!/bin/sh\necho throttled=0x50005\n', { mode: 0o755 });
    const fallback = countingFallback();
    let now = 0;
    const sampler = new TelemetrySampler(
      defaultSystemInfo({ root, loadFallback: fallback.load, now: () => now }),
      new FakeClock(0),
      silentLogger(),
    );
    const first = await withPath(bin, () => countingSpawns(() => sampler.sample()));
    assert.deepEqual(first.spawns, [`execFile ${join(bin, 'vcgencmd')}`]);
    assert.equal(first.result.throttled?.raw, '0x50005');
    writeFileSync(join(bin, 'vcgencmd'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    now += 15_000;
    const failed = await withPath(bin, () => countingSpawns(() => sampler.sample()));
    assert.equal(failed.spawns.length, 1, 'asked again while it answered');
    const later = await withPath(bin, () =>
      countingSpawns(async () => {
        for (let i = 0; i < 20; i++) {
          now += 15_000;
          await sampler.sample();
        }
      }),
    );
    assert.deepEqual(later.spawns, [], 'after a null, quiet for an hour');
    assert.equal(fallback.loads, 0, 'a Linux kernel without a sensor: null, systeminformation is not asked');
  });

  it('without the throttle file and without vcgencmd (not a Pi): starts no process at all', async function () {
    this.timeout(20_000);
    const root = fakeRoot({ 'proc/stat': STAT_BEFORE, 'proc/meminfo': MEMINFO, 'proc/uptime': '5 5\n' });
    const emptyBin = mkdtempSync(join(tmpdir(), 'tpm-bin-'));
    let now = 0;
    const sampler = new TelemetrySampler(
      defaultSystemInfo({ root, loadFallback: countingFallback().load, now: () => now }),
      new FakeClock(0),
      silentLogger(),
    );
    const { spawns, result } = await withPath(emptyBin, () =>
      countingSpawns(async () => {
        const telemetry = await sampler.sample();
        now += 2 * 60 * 60 * 1000;
        await sampler.sample();
        return telemetry;
      }),
    );
    assert.deepEqual(spawns, []);
    assert.equal(result.throttled, null);
  });

  it('on this machine (the real files under /), later samples start no process', async function () {
    this.timeout(30_000);
    if (process.platform !== 'linux') this.skip();
    const sampler = new TelemetrySampler(defaultSystemInfo(), new FakeClock(Date.now()), silentLogger());
    const first = await sampler.sample();
    assert.ok(
      first.cpu_load !== null && first.memory_used !== null && first.uptime !== null && first.disk_used !== null,
    );
    const { spawns } = await countingSpawns(async () => {
      for (let i = 0; i < 10; i++) await sampler.sample();
    });
    assert.deepEqual(spawns, []);
  });
});
