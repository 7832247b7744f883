import assert from 'node:assert/strict';
import path from 'node:path';
import { STACK_LINE, runCli, tempDir, writeConfig } from '../support/cli.js';
import { freePort } from '../support/ports.js';

/**
 * The command line as a user meets it: arguments and options a command does not take, and a
 * config of the other role, are refused (exit 2, one line, nothing run) instead of ignored.
 */
describe('turingpi-mqtt command line: what a command does not take', function () {
  this.timeout(30_000);

  function usageError(result: { code: number | null; stdout: string; stderr: string }, reason: RegExp): void {
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stderr, reason);
    assert.doesNotMatch(result.stderr, STACK_LINE);
    assert.doesNotMatch(result.stdout, /valid/);
  }

  it('validate refuses an extra argument instead of checking the file and saying "valid"', async () => {
    const dir = tempDir('tpm-usage-');
    const file = writeConfig(dir, { board: { type: 'simulator' } });
    // `validate -c a.yaml b.yaml` checked a.yaml alone and said it was valid: b.yaml went unchecked.
    usageError(await runCli(['validate', '-c', file, 'other.yaml']), /unexpected argument "other\.yaml"/);
  });

  it('refuses --json and --timeout where the command takes neither, and -c for the add-on', async () => {
    const dir = tempDir('tpm-usage-');
    const file = writeConfig(dir, { board: { type: 'simulator' } });
    usageError(await runCli(['validate', '-c', file, '--json']), /--json is an option of power only/);
    usageError(await runCli(['validate', '-c', file, '--timeout', '5']), /--timeout is an option of power/);
    usageError(await runCli(['agent', '-c', file, '--timeout', '5']), /--timeout is an option of power/);
    usageError(await runCli(['bridge', '-c', file, '--json']), /--json is an option of power only/);
    usageError(await runCli(['addon', '-c', file]), /-c is not an option of addon/);
    usageError(await runCli(['bmc', 'trust', '-c', file, '--json']), /--json is an option of power only/);
  });

  it('an unknown option or an option without its value: one line that says so', async () => {
    // node's parseArgs told of `--` and '-c-XYZ' (over three lines for `-c --json`): no use here.
    const cases: [string[], string][] = [
      [['--bogus'], 'unknown option --bogus'],
      [['power', '1', 'on', '-x'], 'unknown option -x'],
      [['validate', '-c'], '-c needs a value: -c FILE'],
      [['validate', '-c', '--json'], '-c needs a value: -c FILE'],
      [['power', '1', 'on', '--timeout'], '--timeout needs a value: --timeout S'],
      [['power', '1', 'on', '--json=yes'], "option '--json' does not take an argument"],
      // The last one was taken: `validate -c a.yaml -c b.yaml` checked b.yaml alone.
      [['validate', '-c', 'a.yaml', '-c', 'b.yaml'], '-c is given twice'],
      [['power', '1', 'on', '--timeout', '5', '--timeout=9'], '--timeout is given twice'],
    ];
    for (const [args, reason] of cases) {
      const result = await runCli(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stderr, `turingpi-mqtt: ${reason}\nRun turingpi-mqtt --help for usage.\n`, args.join(' '));
    }
  });

  it("the bridge refuses an agent's file (an agent section, no board) instead of running a simulator", async () => {
    const dir = tempDir('tpm-usage-');
    // Nothing listens: a bridge that starts anyway only retries the broker, until killed.
    const file = writeConfig(dir, {
      mqtt: { url: `mqtt://127.0.0.1:${await freePort()}`, base_topic: 'tp' },
      agent: { node: 3 },
      state_dir: path.join(dir, 'state'),
    });
    const result = await runCli(['bridge', '-c', file], { cwd: dir, timeoutMs: 8000 });
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stderr, /:\d+:\d+ agent: an agent's file \(an agent section, no board\): run turingpi-mqtt/);
    assert.doesNotMatch(result.stderr + result.stdout, /simulat|Turing Pi 1/);
    // The power command only needs its broker: an agent's file serves it (nothing listens: exit 1).
    const power = await runCli(['power', '3', 'status', '-c', file, '--timeout', '2'], { cwd: dir });
    assert.equal(power.code, 1, power.stdout + power.stderr);
    assert.match(power.stderr, /cannot connect/);
  });

  it("the agent says that a bridge's file (a board, no agent section) is not an agent's", async () => {
    const dir = tempDir('tpm-usage-');
    const file = writeConfig(dir, { mqtt: { url: 'mqtt://127.0.0.1:1' }, board: { type: 'tpi1' } });
    const result = await runCli(['agent', '-c', file], { cwd: dir });
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stderr, /agent\.node: the agent needs the number of the node it runs on/);
    assert.match(result.stderr, /a bridge's file \(a board section, no agent section\)/);
  });

  it("power --json answers on stdout when the broker cannot be reached, without the URL's password", async () => {
    // A lost connection was a JSON answer, a broker never reached a line on stderr: `| jq` got nothing.
    const dir = tempDir('tpm-usage-');
    const url = `mqtt://bob:Hunter2x@127.0.0.1:${await freePort()}`;
    const file = writeConfig(dir, { mqtt: { url, base_topic: 'tp' } });
    const result = await runCli(['power', '3', 'status', '-c', file, '--json', '--timeout', '2'], { cwd: dir });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    const answer = JSON.parse(result.stdout) as { status: string; error: string };
    assert.equal(answer.status, 'error');
    assert.match(answer.error, /cannot connect to MQTT broker mqtt:\/\/bob:\*\*\*@127\.0\.0\.1:\d+/);
    assert.doesNotMatch(result.stdout + result.stderr, /Hunter2x/);
  });

  it('a config path that is a directory: one line that says so, exit 2', async () => {
    const dir = tempDir('tpm-usage-');
    for (const args of [
      ['validate', '-c', dir],
      ['bridge', '-c', dir],
      ['power', '1', 'on', '-c', dir],
    ]) {
      const result = await runCli(args, { cwd: dir });
      assert.equal(result.code, 2, result.stdout + result.stderr);
      assert.equal(result.stdout + result.stderr, `${dir}: cannot read the config file: it is a directory\n`);
    }
  });

  it('an mqtt.url that is no URL: refused by validate with its place, and by the start with exit 2', async () => {
    const dir = tempDir('tpm-usage-');
    for (const url of ['mqtt://[broker', 'mqtt://127.0.0.1:99999', 'mqtt://bob:pa#ss@127.0.0.1']) {
      const file = writeConfig(dir, { mqtt: { url }, state_dir: path.join(dir, 'state') });
      const validated = await runCli(['validate', '-c', file]);
      assert.equal(validated.code, 2, `${url}: ${validated.stdout}${validated.stderr}`);
      assert.match(validated.stdout, /:2:8 mqtt\.url: is not a URL/);
      assert.doesNotMatch(validated.stdout, /pa#ss/);
      // It failed with "Invalid URL", exit 1: systemd restarted it in a loop.
      const started = await runCli(['bridge', '-c', file], { cwd: dir, timeoutMs: 8000 });
      assert.equal(started.code, 2, `${url}: ${started.stdout}${started.stderr}`);
      assert.match(started.stderr, /mqtt\.url: is not a URL/);
    }
  });
});
