import assert from 'node:assert/strict';
import { latestOccurrence, nextOccurrence } from '../../src/schedule/cron.js';
import { occurrencesBetween } from '../support/occurrences.js';
import { formatInstant, instantOfWallTime, wallTimeOf } from '../../src/schedule/time-zone.js';

/** The next `count` firing instants (UTC ISO) strictly after `fromIso`. */
function fires(expression: string, timeZone: string, fromIso: string, count: number): string[] {
  const out: string[] = [];
  let after = Date.parse(fromIso);
  for (let i = 0; i < count; i++) {
    const next = nextOccurrence(expression, timeZone, after);
    if (!next) break;
    out.push(new Date(next.at).toISOString().replace('.000Z', 'Z'));
    after = next.at;
  }
  return out;
}

/** Firing instants in (from, to] as local times with offset in the zone. */
function localFires(expression: string, timeZone: string, fromIso: string, toIso: string): string[] {
  return occurrencesBetween(expression, timeZone, Date.parse(fromIso), Date.parse(toIso)).map((o) =>
    formatInstant(o.at, timeZone),
  );
}

describe('cron expressions', () => {
  describe('field shapes (UTC, so only the fields matter)', () => {
    const from = '2026-01-01T00:00:00Z'; // a Thursday

    it('a single minute and hour: every day at that time', () => {
      assert.deepEqual(fires('30 6 * * *', 'UTC', from, 3), [
        '2026-01-01T06:30:00Z',
        '2026-01-02T06:30:00Z',
        '2026-01-03T06:30:00Z',
      ]);
    });

    it('lists', () => {
      assert.deepEqual(fires('0,15,45 8 * * *', 'UTC', from, 4), [
        '2026-01-01T08:00:00Z',
        '2026-01-01T08:15:00Z',
        '2026-01-01T08:45:00Z',
        '2026-01-02T08:00:00Z',
      ]);
    });

    it('ranges', () => {
      assert.deepEqual(fires('0 22-23 * * *', 'UTC', from, 3), [
        '2026-01-01T22:00:00Z',
        '2026-01-01T23:00:00Z',
        '2026-01-02T22:00:00Z',
      ]);
    });

    it('steps over the whole field and over a range', () => {
      assert.deepEqual(fires('*/20 * * * *', 'UTC', from, 4), [
        '2026-01-01T00:20:00Z',
        '2026-01-01T00:40:00Z',
        '2026-01-01T01:00:00Z',
        '2026-01-01T01:20:00Z',
      ]);
      assert.deepEqual(fires('0 8-18/5 * * *', 'UTC', from, 4), [
        '2026-01-01T08:00:00Z',
        '2026-01-01T13:00:00Z',
        '2026-01-01T18:00:00Z',
        '2026-01-02T08:00:00Z',
      ]);
    });

    it('weekday ranges: Monday to Friday skips the weekend', () => {
      assert.deepEqual(fires('0 23 * * 1-5', 'UTC', from, 4), [
        '2026-01-01T23:00:00Z', // Thu
        '2026-01-02T23:00:00Z', // Fri
        '2026-01-05T23:00:00Z', // Mon
        '2026-01-06T23:00:00Z', // Tue
      ]);
    });

    it('day and month names, case-insensitive, and 7 for Sunday', () => {
      assert.deepEqual(fires('0 12 * * SAT,sun', 'UTC', from, 3), [
        '2026-01-03T12:00:00Z',
        '2026-01-04T12:00:00Z',
        '2026-01-10T12:00:00Z',
      ]);
      assert.deepEqual(fires('0 12 * * 7', 'UTC', from, 1), ['2026-01-04T12:00:00Z']);
      assert.deepEqual(fires('0 0 1 MAR-APR,dec *', 'UTC', from, 3), [
        '2026-03-01T00:00:00Z',
        '2026-04-01T00:00:00Z',
        '2026-12-01T00:00:00Z',
      ]);
    });

    it('day of month and day of week both restricted: either one matches (Vixie cron)', () => {
      // The 13th, and every Friday.
      assert.deepEqual(fires('0 0 13 * FRI', 'UTC', from, 4), [
        '2026-01-02T00:00:00Z',
        '2026-01-09T00:00:00Z',
        '2026-01-13T00:00:00Z',
        '2026-01-16T00:00:00Z',
      ]);
    });

    it('only one of day of month and day of week restricted: that one decides', () => {
      assert.deepEqual(fires('0 0 13 * *', 'UTC', from, 2), ['2026-01-13T00:00:00Z', '2026-02-13T00:00:00Z']);
      assert.deepEqual(fires('0 0 * * FRI', 'UTC', from, 2), ['2026-01-02T00:00:00Z', '2026-01-09T00:00:00Z']);
    });

    it('six fields: seconds first', () => {
      assert.deepEqual(fires('*/15 * * * * *', 'UTC', from, 5), [
        '2026-01-01T00:00:15Z',
        '2026-01-01T00:00:30Z',
        '2026-01-01T00:00:45Z',
        '2026-01-01T00:01:00Z',
        '2026-01-01T00:01:15Z',
      ]);
      assert.deepEqual(fires('30 0 7 * * *', 'UTC', from, 2), ['2026-01-01T07:00:30Z', '2026-01-02T07:00:30Z']);
    });

    it('"?" in a day field means any, as in Quartz-style expressions', () => {
      assert.deepEqual(fires('0 0 ? * MON', 'UTC', from, 2), ['2026-01-05T00:00:00Z', '2026-01-12T00:00:00Z']);
    });

    it('the last day of the month (L)', () => {
      assert.deepEqual(fires('0 0 L * *', 'UTC', from, 3), [
        '2026-01-31T00:00:00Z',
        '2026-02-28T00:00:00Z',
        '2026-03-31T00:00:00Z',
      ]);
    });

    it('29 February waits for a leap year; 30 February never comes', () => {
      assert.deepEqual(fires('0 0 29 2 *', 'UTC', from, 2), ['2028-02-29T00:00:00Z', '2032-02-29T00:00:00Z']);
      assert.equal(nextOccurrence('0 0 30 2 *', 'UTC', Date.parse(from)), null);
    });

    it('the next occurrence is strictly after the given instant', () => {
      assert.deepEqual(fires('0 6 * * *', 'UTC', '2026-01-01T06:00:00Z', 1), ['2026-01-02T06:00:00Z']);
      assert.deepEqual(fires('0 6 * * *', 'UTC', '2026-01-01T05:59:59.999Z', 1), ['2026-01-01T06:00:00Z']);
    });
  });

  describe('time zones', () => {
    it('fires at the wall-clock time of its zone, winter and summer', () => {
      assert.deepEqual(fires('0 23 * * *', 'Europe/Berlin', '2026-01-10T00:00:00Z', 1), ['2026-01-10T22:00:00Z']);
      assert.deepEqual(fires('0 23 * * *', 'Europe/Berlin', '2026-07-10T00:00:00Z', 1), ['2026-07-10T21:00:00Z']);
      assert.deepEqual(fires('0 7 * * *', 'America/New_York', '2026-01-10T00:00:00Z', 1), ['2026-01-10T12:00:00Z']);
      assert.deepEqual(fires('0 7 * * *', 'Asia/Kolkata', '2026-01-10T00:00:00Z', 1), ['2026-01-10T01:30:00Z']);
    });

    it('weekdays are those of the zone, not of UTC', () => {
      // Monday 00:30 in Berlin is Sunday 23:30 UTC.
      assert.deepEqual(fires('30 0 * * MON', 'Europe/Berlin', '2026-01-01T00:00:00Z', 1), ['2026-01-04T23:30:00Z']);
    });

    it('formats instants with the zone offset', () => {
      assert.equal(formatInstant(Date.parse('2026-03-29T01:00:00Z'), 'Europe/Berlin'), '2026-03-29T03:00:00+02:00');
      assert.equal(formatInstant(Date.parse('2026-01-01T12:00:00Z'), 'America/New_York'), '2026-01-01T07:00:00-05:00');
      assert.equal(formatInstant(Date.parse('2026-01-01T12:00:00Z'), 'Asia/Kolkata'), '2026-01-01T17:30:00+05:30');
    });
  });

  describe('daylight saving, Europe/Berlin (docs/schedules.md)', () => {
    const zone = 'Europe/Berlin';

    it('spring-forward: 02:30 on 2026-03-29 does not exist and fires once at 03:00 local (01:00Z)', () => {
      assert.deepEqual(fires('30 2 * * *', zone, '2026-03-28T12:00:00Z', 3), [
        '2026-03-29T01:00:00Z',
        '2026-03-30T00:30:00Z',
        '2026-03-31T00:30:00Z',
      ]);
      const occurrence = nextOccurrence('30 2 * * *', zone, Date.parse('2026-03-28T12:00:00Z'));
      assert.equal(occurrence?.key, '2026-03-29T02:30:00[Europe/Berlin]');
      assert.equal(formatInstant(occurrence?.at ?? 0, zone), '2026-03-29T03:00:00+02:00');
    });

    it('fall-back: 02:30 on 2026-10-25 happens twice and fires once, at the first (00:30Z)', () => {
      assert.deepEqual(localFires('30 2 * * *', zone, '2026-10-24T12:00:00Z', '2026-10-26T12:00:00Z'), [
        '2026-10-25T02:30:00+02:00',
        '2026-10-26T02:30:00+01:00',
      ]);
    });

    it('fall-back: asked from inside the repeated hour, the repeated time is not offered again', () => {
      // 01:45Z is 02:45 CET, the second pass; 02:30 already fired at 00:30Z.
      const next = nextOccurrence('30 2 * * *', zone, Date.parse('2026-10-25T01:45:00Z'));
      assert.equal(next?.key, '2026-10-26T02:30:00[Europe/Berlin]');
    });

    it('hourly across spring-forward: the missing 02:00 fires at 03:00, and 03:00 is not doubled', () => {
      assert.deepEqual(localFires('0 * * * *', zone, '2026-03-28T23:30:00Z', '2026-03-29T03:30:00Z'), [
        '2026-03-29T01:00:00+01:00',
        '2026-03-29T03:00:00+02:00',
        '2026-03-29T04:00:00+02:00',
        '2026-03-29T05:00:00+02:00',
      ]);
    });

    it('hourly across fall-back: 02:00 fires once, at its first occurrence', () => {
      assert.deepEqual(localFires('0 * * * *', zone, '2026-10-24T22:30:00Z', '2026-10-25T03:30:00Z'), [
        '2026-10-25T01:00:00+02:00',
        '2026-10-25T02:00:00+02:00',
        '2026-10-25T03:00:00+01:00',
        '2026-10-25T04:00:00+01:00',
      ]);
    });

    it('every 15 minutes across spring-forward: the skipped quarter hours fire once, together, at 03:00', () => {
      assert.deepEqual(localFires('*/15 * * * *', zone, '2026-03-29T00:40:00Z', '2026-03-29T01:20:00Z'), [
        '2026-03-29T01:45:00+01:00',
        '2026-03-29T03:00:00+02:00',
        '2026-03-29T03:15:00+02:00',
      ]);
    });

    it('every 15 minutes across fall-back: the repeated hour is not run a second time', () => {
      const local = localFires('*/15 * * * *', zone, '2026-10-24T23:50:00Z', '2026-10-25T02:20:00Z');
      assert.deepEqual(local, [
        '2026-10-25T02:00:00+02:00',
        '2026-10-25T02:15:00+02:00',
        '2026-10-25T02:30:00+02:00',
        '2026-10-25T02:45:00+02:00',
        '2026-10-25T03:00:00+01:00',
        '2026-10-25T03:15:00+01:00',
      ]);
    });

    it('every occurrence across a whole year has a distinct key and a later instant than the one before', () => {
      const all = occurrencesBetween(
        '*/30 * * * *',
        zone,
        Date.parse('2026-01-01T00:00:00Z'),
        Date.parse('2027-01-01T00:00:00Z'),
        100000,
      );
      // 365 days x 48 wall times. In March the 02:00 and 02:30 slots do not exist and fire
      // together with 03:00, as one occurrence (minus 2); in October the repeated 02:00 and
      // 02:30 are one wall time each, fired once (no change).
      assert.equal(all.length, 365 * 48 - 2);
      assert.equal(new Set(all.map((o) => o.key)).size, all.length);
      for (let i = 1; i < all.length; i++) assert.ok(all[i]!.at > all[i - 1]!.at);
    });
  });

  describe('daylight saving, America/New_York', () => {
    const zone = 'America/New_York';

    it('spring-forward 2026-03-08: 02:30 fires at 03:00 EDT (07:00Z)', () => {
      assert.deepEqual(localFires('30 2 * * *', zone, '2026-03-07T12:00:00Z', '2026-03-09T12:00:00Z'), [
        '2026-03-08T03:00:00-04:00',
        '2026-03-09T02:30:00-04:00',
      ]);
    });

    it('fall-back 2026-11-01: 01:30 fires once, at 01:30 EDT (05:30Z)', () => {
      assert.deepEqual(fires('30 1 * * *', zone, '2026-10-31T12:00:00Z', 2), [
        '2026-11-01T05:30:00Z',
        '2026-11-02T06:30:00Z',
      ]);
    });

    it('hourly across both changes', () => {
      assert.deepEqual(localFires('0 * * * *', zone, '2026-03-08T05:30:00Z', '2026-03-08T08:30:00Z'), [
        '2026-03-08T01:00:00-05:00',
        '2026-03-08T03:00:00-04:00',
        '2026-03-08T04:00:00-04:00',
      ]);
      assert.deepEqual(localFires('0 * * * *', zone, '2026-11-01T04:30:00Z', '2026-11-01T08:30:00Z'), [
        '2026-11-01T01:00:00-04:00',
        '2026-11-01T02:00:00-05:00',
        '2026-11-01T03:00:00-05:00',
      ]);
    });

    it('six fields in the gap: 02:00:30 fires at the first valid instant, 03:00:00', () => {
      assert.deepEqual(localFires('30 0 2 * * *', zone, '2026-03-07T12:00:00Z', '2026-03-08T12:00:00Z'), [
        '2026-03-08T03:00:00-04:00',
      ]);
    });
  });

  describe('wall time to instant', () => {
    it('maps a skipped wall time to the moment of the change, a repeated one to its first instant', () => {
      const wall = (iso: string): number => Date.parse(`${iso}Z`);
      assert.equal(instantOfWallTime(wall('2026-03-29T02:30:00'), 'Europe/Berlin'), Date.parse('2026-03-29T01:00:00Z'));
      assert.equal(instantOfWallTime(wall('2026-10-25T02:30:00'), 'Europe/Berlin'), Date.parse('2026-10-25T00:30:00Z'));
      assert.equal(instantOfWallTime(wall('2026-07-01T12:00:00'), 'Europe/Berlin'), Date.parse('2026-07-01T10:00:00Z'));
      // Lord Howe Island moves by 30 minutes.
      assert.equal(
        instantOfWallTime(wall('2026-10-04T02:15:00'), 'Australia/Lord_Howe'),
        Date.parse('2026-10-03T15:30:00Z'),
      );
    });

    it('reads an instant as the wall time of its zone', () => {
      assert.equal(wallTimeOf(Date.parse('2026-10-25T01:30:00Z'), 'Europe/Berlin'), Date.parse('2026-10-25T02:30:00Z'));
    });
  });

  describe('occurrences in a window (for catch-up)', () => {
    it('lists occurrences in (from, to], oldest first', () => {
      const list = occurrencesBetween(
        '0 */6 * * *',
        'UTC',
        Date.parse('2026-01-01T00:00:00Z'),
        Date.parse('2026-01-01T18:00:00Z'),
      );
      assert.deepEqual(
        list.map((o) => o.key),
        ['2026-01-01T06:00:00[UTC]', '2026-01-01T12:00:00[UTC]', '2026-01-01T18:00:00[UTC]'],
      );
    });

    it('finds the latest occurrence, and none when the window holds none', () => {
      const from = Date.parse('2026-01-01T00:00:00Z');
      assert.equal(
        latestOccurrence('0 */6 * * *', 'UTC', from, Date.parse('2026-01-01T17:59:59Z'))?.key,
        '2026-01-01T12:00:00[UTC]',
      );
      assert.equal(latestOccurrence('0 */6 * * *', 'UTC', from, Date.parse('2026-01-01T05:59:59Z')), null);
      // Far back in a long window, found by the widening search.
      assert.equal(
        latestOccurrence('0 0 1 1 *', 'UTC', from - 1, Date.parse('2026-12-31T00:00:00Z'))?.key,
        '2026-01-01T00:00:00[UTC]',
      );
      // Every second over a day is still quick, and exact.
      assert.equal(
        latestOccurrence('* * * * * *', 'UTC', from, Date.parse('2026-01-02T00:00:00.500Z'))?.key,
        '2026-01-02T00:00:00[UTC]',
      );
    });
  });
});
