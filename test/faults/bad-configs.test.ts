import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { runCli, STACK_LINE } from '../support/cli.js';
import { repoPath } from '../support/paths.js';

/**
 * Issue 6, item 3 (configs): each broken file of test/fixtures/bad-configs is answered by the
 * BUILT `validate -c FILE` with exit 2, its first problem at the LINE:COL and key path a person
 * must look at, and no stack trace.
 */
const EXPECTED: Record<string, { at: string; path: string; message: RegExp }> = {
  '01-tab-indent.yaml': { at: '3:1', path: '', message: /Tabs are not allowed/ },
  '02-unclosed-quote.yaml': { at: '2:8', path: '', message: /Missing closing "quote/ },
  '03-bad-indent.yaml': { at: '2:9', path: '', message: /Nested mappings are not allowed/ },
  '04-duplicate-key.yaml': { at: '3:3', path: 'mqtt.base_topic', message: /written twice in its map/ },
  '05-wrong-type-number.yaml': { at: '3:14', path: 'mqtt.keepalive', message: /expected a number, got a string/ },
  '06-wrong-type-boolean.yaml': { at: '2:12', path: 'homeassistant.enabled', message: /expected a boolean/ },
  '07-unknown-top-key.yaml': { at: '3:1', path: 'mqttt', message: /unknown key "mqttt" \(did you mean "mqtt"\?\)/ },
  '08-unknown-nested-key.yaml': { at: '3:3', path: 'power.rebootmode', message: /did you mean "reboot_mode"/ },
  '09-bad-cron-minute.yaml': { at: '3:11', path: 'schedules.0.cron', message: /the minute field "61" is out of range/ },
  '10-bad-cron-fields.yaml': { at: '3:11', path: 'schedules.0.cron', message: /has 3 fields; expected 5/ },
  '11-bad-duration.yaml': { at: '3:18', path: 'board.poll_interval', message: /"5 minutes" is not a duration/ },
  '12-duration-out-of-range.yaml': { at: '2:20', path: 'power.reboot_off_time', message: /between 500ms and 30s/ },
  // An unset ${VAR} is only a warning in validate (it may be set where the service runs: see
  // test/integration/examples.test.ts); a password with a default is broken everywhere.
  '13-password-env-default.yaml': {
    at: '4:13',
    path: 'mqtt.password',
    message: /TPM_FAULTS_UNSET_PASSWORD:-\.\.\.\} gives a password a default/,
  },
  '14-env-in-flow-sequence.yaml': { at: '5:14', path: '', message: /quote a \$\{VAR\}/ },
  '15-protected-node-in-off-schedule.yaml': { at: '7:16', path: 'schedules.0.nodes.1', message: /node 1 is protected/ },
  '16-bad-url.yaml': { at: '2:8', path: 'mqtt.url', message: /must be mqtt:\/\// },
  '17-unknown-board-type.yaml': { at: '2:9', path: 'board.type', message: /not "tpi3"/ },
  '18-wildcard-base-topic.yaml': { at: '2:15', path: 'mqtt.base_topic', message: /must not contain #, \+/ },
  '19-unknown-time-zone.yaml': { at: '4:15', path: 'schedules.0.timezone', message: /not a known IANA time zone/ },
  '20-node-key-leading-zero.yaml': { at: '2:3', path: 'nodes.02', message: /write the node number as 2/ },
  '21-node-does-not-exist.yaml': { at: '7:16', path: 'schedules.0.nodes.1', message: /node 9 does not exist/ },
  '22-unclosed-single-quote.yaml': { at: '2:9', path: '', message: /Missing closing 'quote/ },
};

describe('faults: a corpus of broken config files through the built CLI', function () {
  this.timeout(60_000);
  const dir = repoPath('test', 'fixtures', 'bad-configs');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort();

  it('has an expectation for every file of the corpus, and at least 15 of them', () => {
    assert.deepEqual(files, Object.keys(EXPECTED).sort());
    assert.ok(files.length >= 15);
  });

  it('answers each with exit 2, the right LINE:COL and key, and no stack trace', async () => {
    // Whatever the caller's environment holds, these two are unset for the CLI.
    const env = { TPM_FAULTS_UNSET_PASSWORD: undefined, TPM_FAULTS_NODE: undefined };
    const started = Date.now();
    // Four at a time: each is a node process of its own.
    const results: { file: string; code: number | null; output: string }[] = [];
    for (let i = 0; i < files.length; i += 4) {
      const chunk = files.slice(i, i + 4);
      results.push(
        ...(await Promise.all(
          chunk.map(async (file) => {
            const { code, stdout, stderr } = await runCli(['validate', '-c', file], { cwd: dir, env });
            return { file, code, output: stdout + stderr };
          }),
        )),
      );
    }
    const wrong: string[] = [];
    for (const { file, code, output } of results) {
      const expected = EXPECTED[file]!;
      const first = output.split('\n')[0] ?? '';
      const prefix = `${file}:${expected.at}${expected.path ? ` ${expected.path}` : ''}: `;
      if (code !== 2) wrong.push(`${file}: exit ${code}`);
      if (!first.startsWith(prefix))
        wrong.push(`${file}: first line ${JSON.stringify(first)}, expected it to start with ${JSON.stringify(prefix)}`);
      if (!expected.message.test(first))
        wrong.push(`${file}: ${JSON.stringify(first)} does not match ${expected.message}`);
      if (STACK_LINE.test(output)) wrong.push(`${file}: a stack trace:\n${output}`);
    }
    assert.deepEqual(wrong, []);
    console.log(
      `      bad configs: ${files.length} broken files, ${results.filter((r) => r.code === 2).length} exit 2 ` +
        `at the right line:col, 0 stack traces (${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
  });
});
