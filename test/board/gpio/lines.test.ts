import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onoffFactory } from '../../../src/board/gpio/lines.js';
import { TpmError } from '../../../src/util/errors.js';

/** onoff as a host whose sysfs GPIO the process may not write sees it: Gpio.accessible false. */
const inaccessible = async () => ({ Gpio: Object.assign(class {}, { accessible: false }) }) as never;

function refusedWith(code: string, pattern: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof TpmError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return true;
  };
}

describe('onoffFactory', () => {
  // Sysfs GPIO the bridge cannot write: often a permission (the gpio group; at boot, before udev
  // has given it /sys/class/gpio/export), which a restart can fix: PERMISSION, not UNSUPPORTED,
  // which exits 2 and is never restarted.
  it('refuses with PERMISSION where sysfs GPIO is there but not writable, naming the gpio group', async () => {
    const exportPath = join(mkdtempSync(join(tmpdir(), 'tpm-gpio-')), 'export');
    writeFileSync(exportPath, '');
    const open = onoffFactory({ exportPath, load: inaccessible });
    await assert.rejects(async () => open(17, 'out'), refusedWith('PERMISSION', /gpio group/));
  });

  // onoff's Gpio.accessible is false without /sys/class/gpio too: no restart brings it.
  it('refuses with UNSUPPORTED on a host without sysfs GPIO', async () => {
    const exportPath = join(mkdtempSync(join(tmpdir(), 'tpm-gpio-')), 'export');
    const open = onoffFactory({ exportPath, load: inaccessible });
    await assert.rejects(async () => open(17, 'out'), refusedWith('UNSUPPORTED', /\/sys\/class\/gpio/));
  });

  it('refuses with UNSUPPORTED on this host if it has no sysfs GPIO (onoff itself)', async function () {
    if (existsSync('/sys/class/gpio/export')) this.skip(); // this host has it: the case cannot happen here
    const open = onoffFactory();
    await assert.rejects(async () => open(17, 'out'), refusedWith('UNSUPPORTED', /\/sys\/class\/gpio/));
  });
});
