import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cliPath } from '../support/cli.js';
import { repoPath, repoRoot } from '../support/paths.js';

/**
 * Every example config as a new user meets it: `validate` in a clean environment (nothing but
 * PATH), where the service's secrets are not set. An unset `${VAR}` is a warning there (it may be
 * set where the service runs), and the same file is refused at start in that environment.
 */
const examples = [
  ...readdirSync(repoPath('config'))
    .filter((n) => n.endsWith('.yaml'))
    .map((n) => `config/${n}`),
  'docker/turingpi-mqtt.example.yaml',
];

/** The environment variable names the project uses, everywhere (docs/configuration.md). */
const NAMES = ['MQTT_PASSWORD', 'TPI_BMC_PASSWORD'];

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [cliPath(), ...args],
      { cwd: repoRoot(), env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, timeout: 20_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
    child.stdin?.end();
  });
}

function referenced(file: string): string[] {
  const text = readFileSync(repoPath(file), 'utf8').replace(/^\s*#.*$/gm, '');
  return [...new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1] ?? ''))].sort();
}

describe('example configs in a clean environment', function () {
  this.timeout(60_000);

  for (const file of examples) {
    it(`${file}: validate passes, and warns about each unset variable`, async () => {
      const result = await run(['validate', '-c', file]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stdout, new RegExp(`^${file.replace(/[.]/g, '\\.')}: valid$`, 'm'));
      const warned = [...result.stdout.matchAll(/environment variable (\w+) is not set/g)].map((m) => m[1]).sort();
      assert.deepEqual(warned, referenced(file));
    });
  }

  it('a file with an unset password variable is refused at start, naming the variable only', async () => {
    const result = await run(['bridge', '-c', 'config/tpi2.yaml']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /mqtt\.password: environment variable MQTT_PASSWORD is not set/);
    assert.match(result.stderr, /board\.bmc\.password: environment variable TPI_BMC_PASSWORD is not set/);
    const agent = await run(['agent', '-c', 'config/agent.yaml']);
    assert.equal(agent.code, 2);
    assert.match(agent.stderr, /mqtt\.password: environment variable MQTT_PASSWORD is not set/);
  });
});

describe('one set of names', () => {
  const files = [
    'README.md',
    ...readdirSync(repoPath('docs')).map((n) => `docs/${n}`),
    ...examples,
    ...readdirSync(repoPath('config', 'systemd'), { recursive: true, encoding: 'utf8' })
      .filter((n) => /\.(service|conf)$/.test(n))
      .map((n) => `config/systemd/${n}`),
    'docker/compose.yaml',
    'docker/README.md',
  ];

  it('README, docs, examples, units and compose name the same secret variables', () => {
    const strays: string[] = [];
    for (const file of files) {
      const text = readFileSync(repoPath(file), 'utf8');
      for (const m of text.matchAll(/\b([A-Z][A-Z0-9_]*PASSWORD[A-Z0-9_]*)\b/g)) {
        if (!NAMES.includes(m[1] ?? '')) strays.push(`${file}: ${m[1]}`);
      }
    }
    assert.deepEqual(strays, []);
  });

  it('config, unit and docker files cite the docs, never documents the repository does not have', () => {
    const cited: string[] = [];
    const dirs = [
      'config',
      'config/systemd',
      'config/systemd/turingpi-mqtt-bridge.service.d',
      'config/polkit',
      'docker',
      'docker/mosquitto',
    ];
    for (const dir of dirs) {
      for (const name of readdirSync(repoPath(dir), { withFileTypes: true })) {
        if (!name.isFile()) continue;
        const text = readFileSync(repoPath(dir, name.name), 'utf8');
        for (const m of text.matchAll(/HARDWARE\.md|ARCHITECTURE\.md|SPEC\b|README, "/g))
          cited.push(`${dir}/${name.name}: ${m[0]}`);
      }
    }
    assert.deepEqual(cited, []);
  });
});
