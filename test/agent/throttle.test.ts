import assert from 'node:assert/strict';
import { decodeThrottled, parseThrottled } from '../../src/agent/throttle.js';

describe('Raspberry Pi throttle flags', () => {
  it('reads vcgencmd output, 0x hex and the bare hex of the sysfs file alike', () => {
    assert.equal(parseThrottled('throttled=0x50005\n'), 0x50005);
    assert.equal(parseThrottled('0x80008'), 0x80008);
    assert.equal(parseThrottled('50005\n'), 0x50005); // sysfs prints "%x"
    assert.equal(parseThrottled('0'), 0);
  });

  it('refuses text that is not a throttle value', () => {
    assert.equal(parseThrottled(''), undefined);
    assert.equal(parseThrottled('error=1 error_msg="Command not registered"'), undefined);
    assert.equal(parseThrottled('throttled=0xZZ'), undefined);
  });

  it('decodes the "now" bits 0-3 and the "since boot" bits 16-19', () => {
    const flags = decodeThrottled(0x50005);
    assert.equal(flags.raw, '0x50005');
    assert.deepEqual(
      [flags.under_voltage, flags.frequency_capped, flags.throttled, flags.soft_temperature_limit],
      [true, false, true, false],
    );
    assert.deepEqual(
      [
        flags.under_voltage_occurred,
        flags.frequency_capped_occurred,
        flags.throttled_occurred,
        flags.soft_temperature_limit_occurred,
      ],
      [true, false, true, false],
    );
    const soft = decodeThrottled(0x80008);
    assert.equal(soft.soft_temperature_limit, true);
    assert.equal(soft.soft_temperature_limit_occurred, true);
    assert.equal(soft.under_voltage, false);
  });
});
