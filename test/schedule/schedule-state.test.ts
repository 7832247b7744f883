import assert from 'node:assert/strict';
import { emptyScheduleRecord, parseSchedulesState } from '../../src/schedule/schedule-state.js';

describe('schedules.json: the check of the state file', () => {
  it('takes a full record as written, and drops keys it does not know', () => {
    const record = {
      enabled: { value: false, config_enabled: true },
      last_run: '2026-12-06T08:00:00+01:00',
      last_result: 'skipped',
      done: ['2026-12-06T07:00Z', '2026-12-06T08:00Z'],
      latest_at: 1765004400000,
      armed_at: 1764990000000,
      armed_for: 'cron|zone|action',
    };
    const parsed = parseSchedulesState({ version: 1, schedules: { nightly: { ...record, extra: 1 } }, other: true });
    assert.deepEqual(parsed, { version: 1, schedules: { nightly: record } });
  });

  it('fills what an older file lacks with the defaults', () => {
    assert.deepEqual(parseSchedulesState({ version: 1 }), { version: 1, schedules: {} });
    assert.deepEqual(parseSchedulesState({ version: 1, schedules: { a: {} } }), {
      version: 1,
      schedules: { a: emptyScheduleRecord() },
    });
    assert.deepEqual(parseSchedulesState({ version: 1, schedules: { a: { enabled: null, done: [] } } }).schedules.a, {
      ...emptyScheduleRecord(),
    });
  });

  it('refuses what is not ours, saying where', () => {
    const bad: [unknown, RegExp][] = [
      [null, /document: expected an object/],
      [[], /document: expected an object/],
      [{ version: 2 }, /version: expected 1, got 2/],
      [{ version: 1, schedules: [] }, /schedules: expected an object/],
      [{ version: 1, schedules: { a: 'x' } }, /schedules\.a: expected an object/],
      [{ version: 1, schedules: { a: { enabled: { value: 'yes', config_enabled: true } } } }, /enabled\.value/],
      [{ version: 1, schedules: { a: { enabled: { value: true } } } }, /enabled\.config_enabled/],
      [{ version: 1, schedules: { a: { last_result: 'maybe' } } }, /last_result: expected one of ok, error, skipped/],
      [{ version: 1, schedules: { a: { done: ['x', 1] } } }, /done: expected an array of strings/],
      [{ version: 1, schedules: { a: { done: 'x' } } }, /done: expected an array of strings/],
      [{ version: 1, schedules: { a: { latest_at: '12' } } }, /latest_at: expected a number/],
      [{ version: 1, schedules: { a: { armed_at: Number.POSITIVE_INFINITY } } }, /armed_at: expected a number/],
      [{ version: 1, schedules: { a: { last_run: 5 } } }, /last_run: expected a string/],
      [{ version: 1, schedules: { a: { armed_for: false } } }, /armed_for: expected a string/],
    ];
    for (const [raw, reason] of bad) assert.throws(() => parseSchedulesState(raw), reason, JSON.stringify(raw));
  });

  it('hands back arrays of its own: changing the result never changes the input', () => {
    const raw = { version: 1, schedules: { a: { done: ['k'] } } };
    const parsed = parseSchedulesState(raw);
    parsed.schedules.a?.done.push('k2');
    assert.deepEqual(raw.schedules.a.done, ['k']);
  });
});
