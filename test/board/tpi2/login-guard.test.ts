import assert from 'node:assert/strict';
import { LoginGuard } from '../../../src/board/tpi2/login-guard.js';
import { FakeClock } from '../../../src/util/fake-clock.js';

const YEAR = 365 * 24 * 3_600_000;
const credentials = { bmc: 'https://turingpi.local', username: 'root', password: 'turing!' };

/**
 * The wait between automatic logins when the system clock steps (NTP setting a clock that was
 * ahead, a person setting the date): one minute, not the length of the step.
 */
describe('LoginGuard across a clock step', () => {
  it('allows the next automatic login a minute after a refusal, though the clock stepped back a year', async () => {
    const clock = new FakeClock(Date.UTC(2027, 0, 1));
    const guard = new LoginGuard(clock, credentials);
    await guard.ready();
    await guard.attempting();
    await guard.refused('the BMC refused the login');
    assert.match(guard.refusal(false) ?? '', /^next attempt in 60 s$/);
    clock.step(clock.now() - YEAR);
    await clock.advance(30_000);
    assert.equal(guard.refusal(false), 'next attempt in 30 s');
    assert.match(guard.refusal(false, true) ?? '', /^next attempt at 2026-01-01T00:01:00/, 'retained: the wall time');
    await clock.advance(30_000);
    assert.equal(guard.refusal(), null);
  });

  it('still waits the minute when the clock steps forward', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const guard = new LoginGuard(clock, credentials);
    await guard.ready();
    await guard.attempting();
    await guard.refused('the BMC refused the login');
    clock.step(clock.now() + YEAR);
    assert.equal(guard.refusal(false), 'next attempt in 60 s');
  });
});
