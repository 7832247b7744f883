import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { checkConfigText, formatProblems } from '../../src/config/index.js';

/**
 * Schedules `validate` took without a word and that then failed, or acted, at every run (a
 * newcomer's walk through docs/schedules.md): each is now a warning placed at its key, or, for a
 * node named twice, a problem.
 */
describe('schedule warnings', () => {
  const schedule = (fields: Record<string, unknown>) => ({
    name: 'night',
    cron: '0 23 * * *',
    timezone: 'UTC',
    action: 'off',
    nodes: [3],
    ...fields,
  });
  const check = (sections: Record<string, unknown>) => {
    const { problems, warnings } = checkConfigText(stringify(sections), 'c.yaml', { env: {} });
    return { problems: formatProblems(problems), warnings: warnings.map((w) => w.replace(/^c\.yaml:\d+:\d+ /, '')) };
  };

  it('a node the schedule cannot act on: disabled, or without an agent for a shutdown', () => {
    const { problems, warnings } = check({
      nodes: { 3: { enabled: false }, 4: { agent: false } },
      schedules: [schedule({ nodes: [3] }), schedule({ name: 'down', action: 'shutdown', nodes: [4] })],
    });
    assert.deepEqual(problems, []);
    assert.deepEqual(warnings, [
      'schedules.0.nodes.0: node 3 is disabled (nodes.3.enabled: false): every run fails for it',
      'schedules.1.nodes.0: node 4 has no agent (nodes.4.agent: false): a shutdown is refused for it at every ' +
        'run; use action: off to cut its power',
    ]);
    // an off, or a node with an agent (or "auto"), is fine
    assert.deepEqual(check({ nodes: { 4: { agent: false } }, schedules: [schedule({ nodes: [4] })] }).warnings, []);
    assert.deepEqual(check({ schedules: [schedule({ action: 'shutdown', nodes: [4] })] }).warnings, []);
  });

  it('a node named twice is a problem', () => {
    assert.deepEqual(check({ schedules: [schedule({ nodes: [3, 3] })] }).problems, [
      'c.yaml:8:9 schedules.0.nodes.1: node 3 is already in this list',
    ]);
  });

  it('a time zone written in another case than its name (it would become another schedule when corrected)', () => {
    assert.deepEqual(check({ schedules: [schedule({ timezone: 'europe/paris' })] }).warnings, [
      'schedules.0.timezone: write it "Europe/Paris", as the zone is named',
    ]);
    assert.deepEqual(check({ schedules: [schedule({ timezone: 'Asia/Kolkata' })] }).warnings, []);
  });

  it('a schedule that cuts power many times a day: a field too many, or seconds', () => {
    // The newcomer meant 23:00 on weekdays; with 6 fields it is :23 past every hour, January to May.
    const [slip] = check({ schedules: [schedule({ cron: '0 23 * * 1-5 *' })] }).warnings;
    assert.match(
      slip ?? '',
      new RegExp(
        '^schedules\\.0\\.cron: "0 23 \\* \\* 1-5 \\*" runs off at least 8 times within a day \\(next, in UTC: ' +
          '\\d{4}-0[1-5]-\\d\\dT\\d\\d:23:00\\.000Z, .*\\): check the fields \\(with 6, the first is seconds\\)$',
      ),
    );
    assert.equal(check({ schedules: [schedule({ cron: '* * * * * *', action: 'reboot' })] }).warnings.length, 1);
    // switching on often is harmless; a daily off is what schedules are for
    assert.deepEqual(check({ schedules: [schedule({ cron: '*/10 * * * *', action: 'on' })] }).warnings, []);
    assert.deepEqual(check({ schedules: [schedule({ cron: '0 23 * * 1-5' })] }).warnings, []);
    assert.deepEqual(check({ schedules: [schedule({ cron: '0 0 30 2 *' })] }).warnings, [
      'schedules.0.cron: "0 0 30 2 *" never matches a date',
    ]);
  });

  it('a policy on a node without an agent: the thermal policy as the watchdog', () => {
    const { warnings } = check({
      nodes: { 2: { agent: false } },
      policies: { thermal: { enabled: true, nodes: [2] }, watchdog: { enabled: true, nodes: [2] } },
    });
    assert.deepEqual(warnings, [
      'policies.watchdog.nodes: node 2 has no agent (nodes.2.agent: false): the watchdog cannot tell whether it hangs',
      'policies.thermal.nodes: node 2 has no agent (nodes.2.agent: false): no temperature comes from it',
    ]);
  });
});
