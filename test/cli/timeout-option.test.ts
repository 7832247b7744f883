import assert from 'node:assert/strict';
import { MAX_TIMEOUT_SECONDS, parseTimeoutOption } from '../../src/cli/timeout-option.js';
import { TpmError } from '../../src/util/errors.js';

describe('--timeout S', () => {
  it('is milliseconds, or undefined where it was not given', () => {
    assert.equal(parseTimeoutOption(undefined), undefined);
    assert.equal(parseTimeoutOption('30'), 30_000);
    assert.equal(parseTimeoutOption('1.5'), 1500);
    assert.equal(parseTimeoutOption(String(MAX_TIMEOUT_SECONDS)), MAX_TIMEOUT_SECONDS * 1000);
  });

  it('refuses what could not be waited for: under a second, over a day (node would fire it at once), words', () => {
    // 99999999 s is beyond node's timers (2^31-1 ms): the wait ended in a millisecond, the action went on.
    for (const text of ['0', '0.0', '0.4', '86400.5', '99999999', '-5', '1e3', 'ten', '', ' 5']) {
      assert.throws(
        () => parseTimeoutOption(text),
        (error: unknown) =>
          error instanceof TpmError &&
          error.code === 'USAGE' &&
          error.message === `--timeout takes seconds from 1 to 86400, not "${text}"`,
        text,
      );
    }
  });
});
