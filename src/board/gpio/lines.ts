import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TpmError } from '../../util/errors.js';
import { ALLOW_ADDON_SCRIPTS, addonLoadProblem } from '../native-addon.js';
import { DEFAULT_SYSFS_GPIO_ROOT, noSysfsGpio } from './sysfs.js';

/** onoff's directions: 'high' and 'low' make an output starting at that level, glitch-free. */
export type GpioDirection = 'in' | 'out' | 'high' | 'low';

/** The part of onoff's Gpio the driver uses (the library's `deps.gpio(line, direction)`, docs/library.md). */
export interface GpioLine {
  read(): Promise<number> | number;
  write(value: 0 | 1): Promise<void> | void;
  unexport(): void;
}

/** Opens a line by its sysfs number. */
export type GpioFactory = (line: number, direction: GpioDirection) => GpioLine | Promise<GpioLine>;

/** Where onoff exports lines (its Gpio.accessible opens it for writing). */
const SYSFS_EXPORT = join(DEFAULT_SYSFS_GPIO_ROOT, 'export');

interface OnoffModule {
  Gpio: (new (
    gpio: number,
    direction: GpioDirection,
    edge?: 'none',
    options?: { activeLow?: boolean; reconfigureDirection?: boolean },
  ) => GpioLine) & { accessible: boolean };
}

/**
 * The default factory: onoff, imported only when a gpio board is opened
 * (docs/ARCHITECTURE.md, "The parts"), so hosts without its native addon run the other boards.
 *
 * - activeLow false: sysfs inverts nothing; the driver applies `active_low` itself, so
 *   a stale sysfs active_low left by another program cannot flip our view.
 * - reconfigureDirection false: a line already driven as an output is not rewritten when
 *   reopened, so a bridge restart does not touch it.
 *
 * `exportPath` and `load` stand in for sysfs and the onoff module in tests.
 */
export function onoffFactory({
  exportPath = SYSFS_EXPORT,
  load = loadOnoff,
}: { exportPath?: string; load?: () => Promise<OnoffModule> } = {}): GpioFactory {
  let loaded: Promise<OnoffModule> | null = null;
  return async (line, direction) => {
    loaded ??= load();
    const onoff = await loaded;
    if (!onoff.Gpio.accessible) {
      // onoff says false for a missing export file too: a host without sysfs GPIO.
      if (!existsSync(exportPath)) throw noSysfsGpio(`${exportPath} does not exist`);
      // Mostly the gpio group (missing, or not yet given to /sys/class/gpio/export early at boot):
      // a restart may fix it.
      throw new TpmError(
        'PERMISSION',
        'sysfs GPIO is not accessible on this host (onoff: Gpio.accessible is false): run the bridge on the ' +
          'host whose GPIO lines switch the nodes, as a member of the gpio group',
      );
    }
    // Its errors go to the driver, which names the line as the config does (permissionOr).
    return new onoff.Gpio(line, direction, 'none', { activeLow: false, reconfigureDirection: false });
  };
}

async function loadOnoff(): Promise<OnoffModule> {
  try {
    const module = (await import('onoff')) as unknown as OnoffModule & { default?: OnoffModule };
    return module.Gpio ? module : module.default!;
  } catch (error) {
    throw new TpmError(
      'UNSUPPORTED',
      `the onoff GPIO module cannot be loaded (${addonLoadProblem(error)}): install it on the host that ` +
        'switches the nodes (turingpi-mqtt with its optional dependencies, which npm compiles; an npm that skips ' +
        `install scripts needs ${ALLOW_ADDON_SCRIPTS}) and run the bridge as a member of the gpio group`,
      { cause: error },
    );
  }
}
