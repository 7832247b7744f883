import { join } from 'node:path';
import { access, constants, readFile, readdir, writeFile } from '../../util/files.js';
import { sleep, type Clock } from '../../util/clock.js';
import { TpmError, errorMessage } from '../../util/errors.js';

/**
 * The sysfs GPIO facts of docs/hardware.md "GPIO-switched clusters": onoff takes sysfs numbers,
 * which on current kernels are the BCM number plus the base of the SoC's gpiochip.
 */
export const DEFAULT_SYSFS_GPIO_ROOT = '/sys/class/gpio';

/**
 * Labels of the chips that carry the 40-pin header's BCM lines, best first: the RP1 on a
 * Pi 5, the SoC's pinctrl on a Pi 4 / 400 / CM4 (bcm2711) and on older Pis (bcm2835).
 * Other chips (the firmware's expander, 'raspberrypi-exp-gpio', or the Pi 5's own SoC pins)
 * are not the header.
 */
const SOC_GPIOCHIP_LABELS = ['pinctrl-rp1', 'pinctrl-bcm2711', 'pinctrl-bcm2835', 'pinctrl-bcm2712'];

export interface GpioChip {
  name: string;
  label: string;
  base: number;
  /** How many lines the chip has (its `ngpio`); null where the kernel does not say. */
  ngpio: number | null;
}

/** A host without sysfs GPIO (`why`: what was not found): no restart fixes it (UNSUPPORTED, exit 2). */
export function noSysfsGpio(why: string, cause?: unknown): TpmError {
  return new TpmError(
    'UNSUPPORTED',
    `sysfs GPIO is not available (${why}); the gpio board needs a kernel with /sys/class/gpio`,
    cause === undefined ? {} : { cause },
  );
}

async function listGpioChips(root = DEFAULT_SYSFS_GPIO_ROOT): Promise<GpioChip[]> {
  let entries: string[];
  try {
    entries = await readdir(root);
  } catch (error) {
    throw noSysfsGpio(`${root}: ${errorMessage(error)}`, error);
  }
  const chips: GpioChip[] = [];
  for (const name of entries.filter((entry) => entry.startsWith('gpiochip')).sort()) {
    try {
      const label = (await readFile(join(root, name, 'label'), 'utf8')).trim();
      const base = Number((await readFile(join(root, name, 'base'), 'utf8')).trim());
      const count = Number((await readFile(join(root, name, 'ngpio'), 'utf8').catch(() => '')).trim() || NaN);
      if (Number.isInteger(base)) chips.push({ name, label, base, ngpio: Number.isInteger(count) ? count : null });
    } catch {
      // a chip without readable label/base is not one we can use
    }
  }
  return chips;
}

/** The sysfs base of the SoC chip that carries the BCM lines. */
export async function socGpioBase(root = DEFAULT_SYSFS_GPIO_ROOT): Promise<GpioChip> {
  const chips = await listGpioChips(root);
  for (const label of SOC_GPIOCHIP_LABELS) {
    const chip = chips.find((c) => c.label === label);
    if (chip) return chip;
  }
  if (chips.length === 1) return chips[0]!;
  const found = chips.map((c) => `${c.name} "${c.label}" base ${c.base}`).join(', ') || 'none';
  throw new TpmError(
    'UNSUPPORTED',
    `cannot tell which gpiochip carries the BCM lines (looked for ${SOC_GPIOCHIP_LABELS.join(', ')}; found ${found})`,
  );
}

/**
 * The physical level of a sysfs line without changing it: exports it if needed (exporting
 * leaves the pin's mode and level alone) and reads `value`, undoing a sysfs `active_low`.
 * For an input this is the level the relay board's pull resistors give it, i.e. what the
 * board sees now; for an output it is what is driven. null when it cannot be read.
 */
export async function readSysfsLevel(
  sysfsLine: number,
  options: { root?: string; clock: Clock; line?: string },
): Promise<0 | 1 | null> {
  const root = options.root ?? DEFAULT_SYSFS_GPIO_ROOT;
  const dir = join(root, `gpio${sysfsLine}`);
  if (!(await exists(join(dir, 'value')))) {
    try {
      await writeFile(join(root, 'export'), String(sysfsLine));
    } catch (error) {
      throw permissionOr(error, sysfsLine, options.line);
    }
    // udev gives the gpio group access a moment after the export: onoff then sets the direction,
    // and on a line we exported it says nothing when it cannot (the driver checks it after).
    for (let attempt = 0; attempt < 20 && !(await writable(join(dir, 'direction'))); attempt++)
      await sleep(options.clock, 50);
  }
  try {
    const value = (await readFile(join(dir, 'value'), 'utf8')).trim();
    const activeLow = (await readFile(join(dir, 'active_low'), 'utf8').catch(() => '0')).trim();
    if (value !== '0' && value !== '1') return null;
    const logical = value === '1' ? 1 : 0;
    return (activeLow === '1' ? 1 - logical : logical) as 0 | 1;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw permissionOr(error, sysfsLine, options.line);
    return null;
  }
}

/** A line's sysfs attribute as sysfs says it (direction: 'in' or 'out'); null when it cannot be read. */
export async function readSysfsAttribute(
  sysfsLine: number,
  attribute: 'direction' | 'active_low',
  root = DEFAULT_SYSFS_GPIO_ROOT,
): Promise<string | null> {
  return readFile(join(root, `gpio${sysfsLine}`, attribute), 'utf8').then(
    (text) => text.trim(),
    () => null,
  );
}

/**
 * An EACCES/EPERM becomes the advice about the gpio group; anything else is passed on. `line`
 * names the line as the config does ("BCM 17, node 1"), with its sysfs number after it.
 */
export function permissionOr(error: unknown, sysfsLine: number, line?: string): TpmError {
  const which = line ? `GPIO ${line} (sysfs ${sysfsLine})` : `GPIO ${sysfsLine} (sysfs)`;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EACCES' || code === 'EPERM') {
    return new TpmError(
      'BUS',
      `no permission to use ${which}: the bridge's user must be in the gpio group (the systemd unit: the ` +
        'gpio.conf drop-in of docs/gpio.md; by hand: sudo usermod -aG gpio <user> and log in again), then ' +
        'restart the bridge',
      { cause: error },
    );
  }
  if (error instanceof TpmError) return error;
  // The kernel refuses to export a line someone has requested: the character device's users
  // hold their lines as long as they run, a device-tree overlay's driver for good.
  if (code === 'EBUSY') {
    return new TpmError(
      'BUS',
      `${which} is held by another program or a kernel driver: a libgpiod tool such as gpioset ` +
        '(/dev/gpiochip*) or a device-tree overlay on that line (w1-gpio, gpio-shutdown, ...); ' +
        `stop it or choose another line (docs/gpio.md) (${errorMessage(error)})`,
      { cause: error },
    );
  }
  // An unexported line's value file is gone: the descriptor the bridge holds answers ENODEV.
  if (code === 'ENODEV') {
    return new TpmError(
      'BUS',
      `${which} was unexported by another program while the bridge ran: the line is an input now, at the ` +
        'level its pull gives it; restart the bridge, which opens it again as an output at that level',
      { cause: error },
    );
  }
  return new TpmError('BUS', `${which}: ${errorMessage(error)}`, { cause: error });
}

async function writable(path: string): Promise<boolean> {
  try {
    await access(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
