import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { onoffFactory } from '../../../src/board/gpio/lines.js';
import { TpmError } from '../../../src/util/errors.js';

describe('onoffFactory', () => {
  // A host whose sysfs GPIO the bridge cannot write: onoff says so (Gpio.accessible). Often a
  // permission (the gpio group; at boot, before udev has given it /sys/class/gpio/export), which a
  // restart can fix: PERMISSION, not UNSUPPORTED, which exits 2 and is never restarted.
  it('refuses with PERMISSION where sysfs GPIO is not writable, naming the gpio group', async function () {
    if (existsSync('/sys/class/gpio/export')) this.skip(); // this host has it: the case cannot happen here
    const open = onoffFactory();
    await assert.rejects(
      async () => open(17, 'out'),
      (error: unknown) => {
        assert.ok(error instanceof TpmError, String(error));
        assert.equal(error.code, 'PERMISSION');
        assert.match(error.message, /gpio group/);
        return true;
      },
    );
  });
});
