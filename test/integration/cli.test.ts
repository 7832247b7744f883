import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAedes } from '../support/aedes.js';
import { STACK_LINE, cliPath, runCli, tempDir, testBridgeConfig, writeConfig } from '../support/cli.js';

/** The built command line's own answers (README.md "Command line"): version, help, validate, usage errors. */
describe('turingpi-mqtt command line', function () {
  this.timeout(20_000);

  it('--version prints the package version and exits 0', async () => {
    // dist/test/integration/ when compiled, test/integration/ from the sources.
    const compiled = fileURLToPath(new URL('../../../package.json', import.meta.url));
    const pkgFile = existsSync(compiled) ? compiled : fileURLToPath(new URL('../../package.json', import.meta.url));
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { version: string };
    const result = await runCli(['--version']);
    assert.equal(result.code, 0);
    assert.equal(result.stdout.trim(), pkg.version);
  });

  it('runs as an installed command through its #! line', async () => {
    // npm links the bin and makes it executable; the kernel then runs the #! line. A plain
    // `env node`: `env -S` (for node flags) is missing from BusyBox, and npm's Windows shims
    // understand the plain form everywhere.
    const cli = cliPath();
    const firstLine = readFileSync(cli, 'utf8').split('\n', 1)[0];
    assert.equal(firstLine, '#!/usr/bin/env node');
    const dir = tempDir();
    const bin = path.join(dir, 'turingpi-mqtt');
    symlinkSync(cli, bin);
    chmodSync(cli, 0o755);
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(bin, ['--version'], (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
      );
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout.trim(), /^\d+\.\d+\.\d+/);
  });

  it('--help lists the commands and exits 0', async () => {
    const result = await runCli(['--help']);
    assert.equal(result.code, 0);
    for (const word of ['bridge', 'agent', 'validate', 'power'])
      assert.match(result.stdout, new RegExp(`turingpi-mqtt ${word}|\\[${word}\\]`));
  });

  // Restarting cannot fix these: a service manager that restarts on failure must not loop on them
  // (the units' RestartPreventExitStatus=2).
  it('bridge exits 2 on a host without sysfs GPIO, with the reason', async function () {
    if (existsSync('/sys/class/gpio')) this.skip(); // this host has it: the case cannot happen here
    const dir = tempDir();
    const config = {
      ...testBridgeConfig({ dir, url: 'mqtt://127.0.0.1:1' }),
      board: { type: 'gpio', gpio: { 1: { line: 17 } } },
    };
    const result = await runCli(['bridge', '-c', writeConfig(dir, config)]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /sysfs GPIO is not available .*needs a kernel with \/sys\/class\/gpio/);
    assert.doesNotMatch(result.stderr, STACK_LINE);
  });

  it('validate exits 0 for a valid config', async () => {
    const dir = tempDir();
    const file = writeConfig(dir, testBridgeConfig({ dir, url: 'mqtt://127.0.0.1:1' }));
    const result = await runCli(['validate', '-c', file]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /valid/);
  });

  it('validate exits 2 and places every problem at FILE:LINE:COL, without a stack trace', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(
      file,
      ['mqtt:', '  url: ftp://example.com', 'board:', '  poll_interval: soon', '  colour: blue', ''].join('\n'),
    );
    const result = await runCli(['validate', '-c', file]);
    assert.equal(result.code, 2);
    const lines = result.stdout.trim().split('\n');
    assert.equal(lines.length, 3, result.stdout);
    for (const line of lines)
      assert.match(line, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+ [a-z_.]+: .+`));
    assert.match(result.stdout, /:2:\d+ mqtt\.url: /);
    assert.match(result.stdout, /:4:\d+ board\.poll_interval: /);
    assert.match(result.stdout, /:5:\d+ board\.colour: /);
    assert.doesNotMatch(result.stdout + result.stderr, STACK_LINE);
  });

  it('exits 2 with a one-line reason for an unknown command', async () => {
    const result = await runCli(['frobnicate']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown command "frobnicate"/);
    assert.doesNotMatch(result.stderr, STACK_LINE);
  });

  it('exits 2 when a bridge config is invalid, one line per problem', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, 'board:\n  type: spaceship\n');
    const result = await runCli(['bridge', '-c', file], { cwd: dir });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /bad\.yaml:2:\d+ board\.type: /);
    assert.doesNotMatch(result.stderr, STACK_LINE);
  });

  it('power refuses a --timeout it could not wait for before it asks anything, and takes FORCE_OFF', async () => {
    const dir = tempDir();
    // No broker listens here: an accepted command would end in "cannot connect", exit 1.
    const file = writeConfig(dir, testBridgeConfig({ dir, url: 'mqtt://127.0.0.1:1' }));
    for (const timeout of ['0', '99999999']) {
      const result = await runCli(['power', '3', 'off', '--timeout', timeout, '-c', file], { cwd: dir });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, new RegExp(`--timeout takes seconds from 1 to 86400, not "${timeout}"`));
      assert.doesNotMatch(result.stderr + result.stdout, /connect/);
    }
    const forceOff = await runCli(['power', '3', 'FORCE_OFF', '--timeout', '2', '-c', file], { cwd: dir });
    assert.equal(forceOff.code, 1, 'parsed, then the broker is not there');
    assert.match(forceOff.stderr + forceOff.stdout, /cannot connect|ECONNREFUSED/);
  });

  it('power on a base topic where no bridge ever ran exits 1 within seconds, saying so', async () => {
    const broker = await startAedes();
    try {
      const dir = tempDir();
      const file = writeConfig(dir, testBridgeConfig({ dir, url: broker.url, base: 'never' }));
      const started = Date.now();
      const result = await runCli(['power', '6', 'on', '-c', file], { cwd: dir });
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stdout,
        /^error: no bridge has announced itself on this base topic \(never\): nothing was asked$/m,
      );
      assert.ok(Date.now() - started < 8000, `not after the 22 s time-out (${Date.now() - started} ms)`);
    } finally {
      await broker.close();
    }
  });

  it("power needs only the broker's settings: a BMC password unset in this shell is no problem", async () => {
    const dir = tempDir();
    const file = path.join(dir, 'tpi2.yaml');
    writeFileSync(
      file,
      'mqtt:\n  url: mqtt://127.0.0.1:1\nboard:\n  type: tpi2\n  bmc:\n    url: https://turingpi.local\n' +
        '    password: ${TPI_BMC_PASSWORD}\n',
    );
    // Empty counts as unset for a password, whatever the developer's own environment holds.
    const env = { TPI_BMC_PASSWORD: '' };
    const result = await runCli(['power', '3', 'on', '--timeout', '2', '-c', file], { cwd: dir, env });
    assert.equal(result.code, 1, 'read, then the broker is not there');
    assert.doesNotMatch(result.stderr + result.stdout, /TPI_BMC_PASSWORD/);
    assert.match(result.stderr + result.stdout, /cannot connect|ECONNREFUSED/);
  });
});
