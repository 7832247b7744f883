import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../support/cli.js';
import { repoPath, repoRoot } from '../support/paths.js';

/**
 * addon/install.sh, what the add-on's Dockerfile runs to put the bridge into the image, run
 * outside Docker: with a stand-in `npm` that records what it is asked (which package, which
 * flags), with a real npm and a package that demands a newer Node.js than this one, and with a
 * real npm installing the packed package into a temporary global prefix (the developers' path).
 */
interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(script: string, env: Record<string, string>, timeout = 20_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile('sh', [script], { env: { ...process.env, ...env }, timeout }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A copy of addon/install.sh in a fresh folder (it works relative to its own folder, as in the image). */
function stage(): { dir: string; script: string } {
  const dir = tempDir('tpm-addon-install-');
  const script = path.join(dir, 'install.sh');
  copyFileSync(repoPath('addon/install.sh'), script);
  mkdirSync(path.join(dir, 'packages'));
  return { dir, script };
}

/** An `npm` that logs its argv and, for `install`, puts a `turingpi-mqtt` of `version` on PATH. */
function fakeNpm(dir: string, installed: string, exitCode = 0): { bin: string; log: string } {
  const bin = path.join(dir, 'fake-bin');
  mkdirSync(bin);
  const log = path.join(dir, 'npm.log');
  writeFileSync(
    path.join(bin, 'npm'),
    `#!/bin/sh\necho "$*" >> '${log}'\n` +
      `if [ "$1" = install ]; then\n` +
      `  printf '#!/bin/sh\\necho ${installed}\\n' > '${bin}/turingpi-mqtt'; chmod +x '${bin}/turingpi-mqtt'\n` +
      `fi\nexit ${exitCode}\n`,
  );
  chmodSync(path.join(bin, 'npm'), 0o755);
  return { bin, log };
}

const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { name: string; version: string };

describe('addon/install.sh (what the add-on image installs)', function () {
  this.timeout(30_000);

  it('installs the registry package at the add-on version (BUILD_VERSION), engine-strict, no scripts', async () => {
    const { dir, script } = stage();
    const npm = fakeNpm(dir, '1.2.3');
    const result = await run(script, { BUILD_VERSION: '1.2.3', PATH: `${npm.bin}:${process.env['PATH']}` });
    assert.equal(result.code, 0, result.stderr);
    const argv = readFileSync(npm.log, 'utf8').trim().split(' ');
    assert.equal(argv[0], 'install');
    for (const flag of ['--global', '--engine-strict', '--ignore-scripts', '--omit=dev', '--omit=optional'])
      assert.ok(argv.includes(flag), `npm ${argv.join(' ')}: ${flag} missing`);
    assert.equal(argv.at(-1), `${pkg.name}@1.2.3`);
    assert.match(result.stdout, /turingpi-mqtt 1\.2\.3 installed/);
  });

  it('installs the package named by PACKAGE instead (a packed tarball in addon/packages/)', async () => {
    const { dir, script } = stage();
    const npm = fakeNpm(dir, '1.2.3');
    const result = await run(script, {
      BUILD_VERSION: '1.2.3',
      PACKAGE: './packages/turingpi-mqtt-1.2.3.tgz',
      PATH: `${npm.bin}:${process.env['PATH']}`,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(readFileSync(npm.log, 'utf8').trim().split(' ').at(-1), './packages/turingpi-mqtt-1.2.3.tgz');
  });

  it('refuses to start without BUILD_VERSION, before asking npm anything', async () => {
    const { dir, script } = stage();
    const npm = fakeNpm(dir, '1.2.3');
    const result = await run(script, { BUILD_VERSION: '', PATH: `${npm.bin}:${process.env['PATH']}` });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /BUILD_VERSION is not set/);
    assert.equal(existsSync(npm.log), false);
  });

  it('fails when the installed program is another version than the add-on (a stale tarball)', async () => {
    const { dir, script } = stage();
    const npm = fakeNpm(dir, '1.2.2');
    const result = await run(script, { BUILD_VERSION: '1.2.3', PATH: `${npm.bin}:${process.env['PATH']}` });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /is turingpi-mqtt 1\.2\.2, but the add-on is version 1\.2\.3/);
  });

  it('fails when npm fails', async () => {
    const { dir, script } = stage();
    const npm = fakeNpm(dir, '1.2.3', 1);
    const result = await run(script, { BUILD_VERSION: '1.2.3', PATH: `${npm.bin}:${process.env['PATH']}` });
    assert.notEqual(result.code, 0);
    assert.doesNotMatch(result.stdout, /installed$/m);
  });

  it('with the real npm: a package whose engines this Node.js does not meet is refused', async () => {
    const { dir, script } = stage();
    const source = path.join(dir, 'too-new');
    mkdirSync(source);
    writeFileSync(
      path.join(source, 'package.json'),
      JSON.stringify({
        name: 'turingpi-mqtt',
        version: '1.2.3',
        engines: { node: '>=999' },
        bin: { 'turingpi-mqtt': 'x.js' },
      }),
    );
    writeFileSync(path.join(source, 'x.js'), '#!/usr/bin/env node\nconsole.log("1.2.3")\n');
    const prefix = path.join(dir, 'prefix');
    const result = await run(script, {
      BUILD_VERSION: '1.2.3',
      PACKAGE: source,
      NPM_CONFIG_PREFIX: prefix,
      npm_config_prefer_offline: 'true',
      PATH: `${path.join(prefix, 'bin')}:${process.env['PATH']}`,
    });
    assert.notEqual(result.code, 0, result.stdout);
    assert.match(result.stderr, /EBADENGINE|Unsupported engine/);
    assert.equal(existsSync(path.join(prefix, 'bin', 'turingpi-mqtt')), false);
  });

  it('with the real npm: the packed package installs globally and runs; no native addon compiled', async function () {
    this.timeout(180_000);
    const { dir, script } = stage();
    // --ignore-scripts: `npm test` has just built dist/ (prepack would delete and rebuild it under the running tests).
    await new Promise<void>((resolve, reject) =>
      execFile(
        'npm',
        ['pack', '--ignore-scripts', '--pack-destination', path.join(dir, 'packages')],
        { cwd: repoRoot() },
        (error, _out, stderr) => (error ? reject(new Error(stderr || error.message)) : resolve()),
      ),
    );
    const prefix = path.join(dir, 'prefix');
    const bin = path.join(prefix, 'bin');
    const result = await run(
      script,
      {
        BUILD_VERSION: pkg.version,
        PACKAGE: `./packages/${pkg.name}-${pkg.version}.tgz`,
        NPM_CONFIG_PREFIX: prefix,
        npm_config_prefer_offline: 'true',
        PATH: `${bin}:${process.env['PATH']}`,
      },
      170_000,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`turingpi-mqtt ${pkg.version.replace(/\./g, '\\.')} installed`));
    const installed = path.join(prefix, 'lib', 'node_modules', pkg.name);
    assert.equal(existsSync(path.join(installed, 'node_modules', 'i2c-bus', 'build')), false, 'i2c-bus was compiled');
    // The installed program loads its dependencies: it checks the Turing Pi 2 demo's config.
    const validate = await new Promise<Run>((resolve) =>
      execFile(
        path.join(bin, 'turingpi-mqtt'),
        ['validate', '-c', path.join(installed, 'config', 'demo-tpi2.yaml')],
        { env: { ...process.env, NODE_OPTIONS: '' } },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
      ),
    );
    assert.equal(validate.code, 0, validate.stderr + validate.stdout);
  });
});
