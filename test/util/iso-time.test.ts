import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { isoTime } from '../../src/util/iso-time.js';

describe('isoTime', () => {
  it('writes what Date.prototype.toISOString writes, for every kind of instant', () => {
    const instants = [
      0,
      Date.UTC(2026, 11, 6, 11, 22, 33, 456),
      Date.UTC(2000, 1, 29, 23, 59, 59, 999),
      Date.UTC(2099, 11, 31, 23, 59, 59),
      -1,
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
      Date.UTC(10000, 0, 1),
      Date.UTC(-1, 0, 1),
      Date.UTC(0, 0, 1) - 1,
      8.64e15,
      -8.64e15,
    ];
    for (let i = 0; i < 2000; i++) instants.push(Math.floor((Math.random() - 0.5) * 2 * 8.64e15));
    for (const ms of instants) assert.equal(isoTime(ms), new Date(ms).toISOString(), `at ${ms}`);
    assert.equal(isoTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6))), '2026-01-02T03:04:05.006Z');
  });

  it('writes the same as toISOString for neighbouring instants, across seconds and in either direction', () => {
    // The text up to the seconds is reused from one call to the next: each instant here shares
    // its second with the one before, or just left it.
    const starts = [Date.UTC(2026, 11, 31, 23, 59, 58, 990), -2010, Date.UTC(-1, 11, 31, 23, 59, 59, 0), 1.5];
    for (const start of starts) {
      for (const step of [1, 7, -3, 0.25]) {
        for (let i = 0; i < 400; i++) {
          const ms = start + i * step;
          assert.equal(isoTime(ms), new Date(ms).toISOString(), `at ${ms}`);
        }
      }
    }
    assert.equal(isoTime(-0.5), new Date(-0.5).toISOString());
  });

  it('throws a RangeError for an invalid time, as toISOString does', () => {
    assert.throws(() => isoTime(Number.NaN), RangeError);
    assert.throws(() => isoTime(8.64e15 + 1), RangeError);
    assert.throws(() => isoTime(Number.POSITIVE_INFINITY), RangeError);
    assert.throws(() => isoTime(new Date('not a date')), RangeError);
  });

  it("does not bring ICU's time-zone data into the process (toISOString does, in node 20)", function () {
    this.timeout(30000);
    const module = new URL('../../src/util/iso-time.js', import.meta.url).href;
    // The host's zone is looked up once per process: each way is measured in nodes of its own,
    // both importing the module, three of each (the median).
    const rss = (call: string): number => {
      const kib = [0, 1, 2].map(() => {
        const script =
          `import { isoTime } from ${JSON.stringify(module)}; ${call};` +
          `import { readFileSync } from 'node:fs';` +
          `console.log(/VmRSS:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);`;
        const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
        return Number(run.stdout.trim());
      });
      return kib.sort((a, b) => a - b)[1] as number;
    };
    const own = rss('isoTime(Date.now())');
    const v8 = rss('new Date().toISOString()');
    assert.ok(own > 0 && v8 > 0, 'both measured');
    assert.ok(v8 - own > 400, `toISOString ${v8} KiB against isoTime ${own} KiB: expected more than 400 KiB apart`);
  });
});
