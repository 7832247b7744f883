import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findThermalZone } from '../../src/agent/kernel.js';
import { kernelFirstTemperature, quietAfterNothing } from '../../src/agent/system-info.js';

/** A node without a temperature sensor is asked again after an hour. */
const NO_SENSOR_RETRY_MS = 60 * 60 * 1000;

/** A fake /sys/class/thermal: zones given as [type, temp file content or undefined for none]. */
function thermalDir(zones: Record<string, [string, string | undefined]>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tpm-thermal-'));
  mkdirSync(join(dir, 'cooling_device0'));
  for (const [name, [type, temp]] of Object.entries(zones)) {
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, 'type'), `${type}\n`);
    if (temp !== undefined) writeFileSync(join(dir, name, 'temp'), `${temp}\n`);
  }
  return dir;
}

const NO_HWMON = join(tmpdir(), 'tpm-no-such-hwmon-dir');

describe('agent temperature from the kernel', () => {
  it("reads a Raspberry Pi's cpu-thermal zone in °C", async () => {
    assert.equal((await findThermalZone(thermalDir({ thermal_zone0: ['cpu-thermal', '48312'] })))?.celsius, 48.312);
  });

  it('prefers the zone that names the CPU over the ones before it', async () => {
    const dir = thermalDir({
      thermal_zone0: ['acpitz', '27800'],
      thermal_zone1: ['INT3400 Thermal', '20000'],
      thermal_zone2: ['x86_pkg_temp', '55000'],
    });
    assert.equal((await findThermalZone(dir))?.celsius, 55);
  });

  it('takes the first readable zone in number order when none names the CPU, skipping unreadable ones', async () => {
    const dir = thermalDir({
      thermal_zone10: ['soc', '61000'],
      thermal_zone2: ['gpu', '40500'],
      thermal_zone1: ['board', undefined],
      thermal_zone0: ['ddr', 'n/a'],
    });
    assert.equal((await findThermalZone(dir))?.celsius, 40.5);
  });

  it('is null where there are no zones, or no such folder', async () => {
    assert.equal(await findThermalZone(thermalDir({})), null);
    assert.equal(await findThermalZone(join(tmpdir(), 'tpm-no-such-thermal-dir')), null);
  });

  it('asks the fallback (systeminformation) only where the kernel has no zone', async () => {
    let asked = 0;
    const fallback = async () => {
      asked++;
      return { main: 70 };
    };
    const withZone = kernelFirstTemperature(fallback, {
      dir: thermalDir({ thermal_zone0: ['cpu-thermal', '45000'] }),
      hwmon: NO_HWMON,
    });
    assert.deepEqual(await withZone(), { main: 45 });
    assert.equal(asked, 0);
    const withoutZone = kernelFirstTemperature(fallback, { dir: thermalDir({}), hwmon: NO_HWMON });
    assert.deepEqual(await withoutZone(), { main: 70 });
    assert.deepEqual(await withoutZone(), { main: 70 });
    assert.equal(asked, 2, 'a fallback that finds a sensor is asked every time');
  });

  it('leaves a fallback that found nothing alone for an hour, then asks again', async () => {
    let asked = 0;
    let now = 1_000_000;
    const temperature = kernelFirstTemperature(
      async () => {
        asked++;
        return { main: null };
      },
      { dir: thermalDir({}), hwmon: NO_HWMON, now: () => now },
    );
    assert.deepEqual(await temperature(), { main: null });
    now += NO_SENSOR_RETRY_MS - 1;
    assert.deepEqual(await temperature(), { main: null });
    assert.equal(asked, 1);
    now += 1;
    await temperature();
    assert.equal(asked, 2);
  });

  it('reads the sensor it found directly on later samples, and searches again when it stops reading', async () => {
    const dir = thermalDir({ thermal_zone0: ['soc-thermal', '45000'] });
    const temperature = kernelFirstTemperature(async () => ({ main: null }), { dir, hwmon: NO_HWMON });
    assert.deepEqual(await temperature(), { main: 45 });
    // A zone that names the CPU, added after the search, would win a new one: it is not looked for.
    mkdirSync(join(dir, 'thermal_zone1'));
    writeFileSync(join(dir, 'thermal_zone1', 'type'), 'cpu-thermal\n');
    writeFileSync(join(dir, 'thermal_zone1', 'temp'), '52000\n');
    writeFileSync(join(dir, 'thermal_zone0', 'temp'), '46000\n');
    assert.deepEqual(await temperature(), { main: 46 }, 'the known file, read without listing the folder');
    rmSync(join(dir, 'thermal_zone0'), { recursive: true });
    assert.deepEqual(await temperature(), { main: 52 }, 'the known file gone: the folder searched again');
  });

  it('takes an impossible reading (a Pi firmware glitch) for no reading: skipped, never published', async () => {
    // raspberrypi/firmware#133: thermal_zone0 now and then reads a large negative value.
    const dir = thermalDir({
      thermal_zone0: ['cpu-thermal', '-650788984'],
      thermal_zone1: ['gpu-thermal', '48000'],
    });
    assert.deepEqual(await findThermalZone(dir), { file: join(dir, 'thermal_zone1', 'temp'), celsius: 48 });
    const broken = thermalDir({ thermal_zone0: ['cpu-thermal', '2147483647'] });
    assert.equal(await findThermalZone(broken), null);
    const cold = thermalDir({ thermal_zone0: ['cpu-thermal', '-274000'] });
    assert.equal(await findThermalZone(cold), null, 'below absolute zero');
    const winter = thermalDir({ thermal_zone0: ['cpu-thermal', '-25000'] });
    assert.equal((await findThermalZone(winter))?.celsius, -25, 'a cold but possible reading stands');
  });

  it('reads the one sensor again on the next sample after a failed read, not an hour later', async () => {
    let now = 5_000_000;
    const dir = thermalDir({ thermal_zone0: ['cpu-thermal', '45000'] });
    const temperature = kernelFirstTemperature(async () => ({ main: null }), { dir, hwmon: NO_HWMON, now: () => now });
    assert.deepEqual(await temperature(), { main: 45 });
    // A sensor that answers nothing for a moment (some answer EINVAL or EAGAIN while busy).
    writeFileSync(join(dir, 'thermal_zone0', 'temp'), '\n');
    now += 15_000;
    assert.deepEqual(await temperature(), { main: null });
    writeFileSync(join(dir, 'thermal_zone0', 'temp'), '46000\n');
    now += 15_000;
    assert.deepEqual(await temperature(), { main: 46 }, 'the known file read again');
  });

  it('lists folders that held no sensor again only after an hour', async () => {
    let now = 5_000_000;
    const dir = thermalDir({});
    const temperature = kernelFirstTemperature(async () => ({ main: null }), { dir, hwmon: NO_HWMON, now: () => now });
    assert.deepEqual(await temperature(), { main: null });
    mkdirSync(join(dir, 'thermal_zone0'));
    writeFileSync(join(dir, 'thermal_zone0', 'type'), 'cpu-thermal\n');
    writeFileSync(join(dir, 'thermal_zone0', 'temp'), '39000\n');
    now += NO_SENSOR_RETRY_MS - 1;
    assert.deepEqual(await temperature(), { main: null }, 'within the hour: not listed again');
    now += 1;
    assert.deepEqual(await temperature(), { main: 39 });
  });

  it('keeps asking a source that answers, and one that found nothing again only after an hour', async () => {
    let now = 0;
    const answers: (string | null)[] = ['throttled=0x0', null, 'throttled=0x50005'];
    let asked = 0;
    const throttled = quietAfterNothing(
      async () => answers[asked++] ?? null,
      () => now,
    );
    assert.equal(await throttled(), 'throttled=0x0');
    assert.equal(await throttled(), null);
    assert.equal(await throttled(), null, 'quiet: not asked');
    assert.equal(asked, 2);
    now += NO_SENSOR_RETRY_MS;
    assert.equal(await throttled(), 'throttled=0x50005');
    assert.equal(asked, 3);
  });

  it('asks a source that found nothing again after an hour, though the clock stepped back meanwhile', async () => {
    const wallClock = Date.now;
    // The monotonic clock (src/util/clock.ts monotonicMs) reads process.hrtime.
    const elapsed = process.hrtime.bigint;
    let asked = 0;
    const throttled = quietAfterNothing(async () => (asked++ === 0 ? null : 'temp=41.2'));
    try {
      assert.equal(await throttled(), null);
      // NTP sets right a clock that was a year ahead, and an hour passes.
      Date.now = () => wallClock() - 365 * 24 * 3_600_000;
      process.hrtime.bigint = () => elapsed() + BigInt(NO_SENSOR_RETRY_MS) * 1_000_000n;
      assert.equal(await throttled(), 'temp=41.2');
    } finally {
      Date.now = wallClock;
      process.hrtime.bigint = elapsed;
    }
  });
});
