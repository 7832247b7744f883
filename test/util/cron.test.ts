import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../src/config/index.js';
import { Scheduler } from '../../src/schedule/scheduler.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { MemoryState } from '../support/memory-state.js';
import { emptySchedulesState } from '../../src/schedule/schedule-state.js';
import { cronProblem, parseCron, timeZoneProblem } from '../../src/util/cron.js';

describe('cron and time-zone checks', () => {
  describe('cronProblem and parseCron', () => {
    it('accepts 5 fields and 6 fields (seconds first)', () => {
      assert.equal(cronProblem('0 23 * * 1-5'), undefined);
      assert.equal(cronProblem('*/10 * * * * *'), undefined);
      assert.equal(parseCron('0 23 * * 1-5').hasSeconds, false);
      assert.equal(parseCron(' 0  0 23 * * 1-5 ').hasSeconds, true);
    });

    it('refuses other field counts, saying how many fields it wants', () => {
      assert.match(cronProblem('0 23 * *') ?? '', /has 4 fields; expected 5 .* or 6/);
      assert.match(cronProblem('0 0 23 * * 1-5 2026') ?? '', /has 7 field/);
      assert.match(cronProblem('') ?? '', /has 0 field/);
      assert.match(cronProblem('@daily') ?? '', /has 1 field;/);
    });

    it('refuses values out of range and unknown words', () => {
      assert.match(cronProblem('61 * * * *') ?? '', /not a valid cron expression: .*minute/);
      assert.match(cronProblem('0 25 * * *') ?? '', /not a valid cron expression/);
      assert.match(cronProblem('0 0 * * FUNDAY') ?? '', /not a valid cron expression/);
      assert.match(cronProblem('0 0 32 * *') ?? '', /not a valid cron expression/);
      assert.throws(() => parseCron('0 25 * * *'), /"0 25 \* \* \*" is not a valid cron expression/);
    });

    it("names the field by its name, as written, with its range (not croner's numbering)", () => {
      const reason = (expression: string): string => (cronProblem(expression) ?? '').replace(/^.*expression: /, '');
      // A newcomer's typo: croner said "configuration entry 5 (MOM-5) contains illegal characters."
      assert.equal(
        reason('0 23 * * MOM-FRI'),
        'the day-of-week field "MOM-FRI" holds something cron does not know (0-7 or SUN-SAT)',
      );
      assert.equal(
        reason('0 0 23 * * FOO'),
        'the day-of-week field "FOO" holds something cron does not know (0-7 or SUN-SAT)',
      );
      // croner said "day: 31" and "month: 12" for these
      assert.equal(reason('0 0 32 * *'), 'the day-of-month field "32" is out of range (1-31)');
      assert.equal(reason('0 0 * 13 *'), 'the month field "13" is out of range (1-12 or JAN-DEC)');
      assert.equal(reason('61 * * * *'), 'the minute field "61" is out of range (0-59)');
      assert.equal(reason('60 0 0 * * *'), 'the seconds field "60" is out of range (0-59)');
      assert.equal(reason('0 0 32W * *'), 'the day-of-month field "32W" is out of range (1-31)');
    });
  });

  describe('timeZoneProblem', () => {
    it('knows IANA names and refuses others', () => {
      assert.equal(timeZoneProblem('Europe/Berlin'), undefined);
      assert.equal(timeZoneProblem('UTC'), undefined);
      assert.match(timeZoneProblem('Mars/Olympus') ?? '', /"Mars\/Olympus" is not a known IANA time zone/);
    });
  });

  describe('the config and the scheduler judge alike', () => {
    const schedule = (cron: string) => ({ name: 'nightly', cron, action: 'off', nodes: [3] });

    for (const cron of ['0 25 * * *', '0 23 * *', '0 0 * * FUNDAY', '1 2 3 4 5 6 7']) {
      it(`"${cron}": the same refusal from both`, () => {
        let configMessage = '';
        try {
          parseConfig({ board: { type: 'simulator' }, schedules: [schedule(cron)] });
        } catch (error) {
          assert.ok(error instanceof ConfigError);
          configMessage = error.message;
        }
        const expected = cronProblem(cron) ?? 'no problem?';
        assert.ok(configMessage.includes(expected), configMessage);
        const config = parseConfig({ board: { type: 'simulator' }, schedules: [schedule('0 23 * * *')] });
        const bad = { ...config.schedules[0]!, cron };
        assert.throws(
          () =>
            new Scheduler({
              schedules: [bad],
              clock: new FakeClock(Date.parse('2026-01-10T12:00:00Z')),
              logger: silentLogger(),
              store: new MemoryState(emptySchedulesState()),
              buildTime: 0,
              runAction: async () => ({ result: 'ok' }),
            }),
          (error: Error) => error.message === `schedule "nightly": ${expected}`,
        );
      });
    }

    it('what the config accepts, the scheduler runs', () => {
      const config = parseConfig({ board: { type: 'simulator' }, schedules: [schedule('*/5 0 L * ?')] });
      assert.doesNotThrow(() => parseCron(config.schedules[0]!.cron));
    });
  });
});
