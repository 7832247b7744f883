import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { checkConfigText, formatProblems } from '../../src/config/index.js';
import { repoPath, repoRoot } from '../support/paths.js';
import {
  appConfigProblems,
  buildConfigProblems,
  isAddonConfigPath,
  optionsProblems,
  repositoryProblems,
  schemaElementProblems,
  translationProblems,
} from './supervisor-rules.js';

/**
 * addon/ and repository.yaml against what Home Assistant's Supervisor checks (the rules, and
 * where in its source they come from, are in supervisor-rules.ts), and against the rest of the
 * repository: the package version, the base image's Node.js, the flags the other units ship.
 */
type Dict = Record<string, unknown>;
const text = (file: string): string => readFileSync(repoPath(file), 'utf8');
const read = (file: string): Dict => parse(text(file)) as Dict;
const config = read('addon/config.yaml');
const options = config['options'] as Dict;
const schema = config['schema'] as Dict;
const dockerfile = text('addon/Dockerfile');
const pkg = JSON.parse(text('package.json')) as { name: string; version: string; engines: { node: string } };

describe('addon/ (Home Assistant add-on) as the Supervisor reads it', () => {
  it('config.yaml: only keys the Supervisor knows, each of its type; aarch64 and amd64; wants the MQTT service', () => {
    assert.deepEqual(appConfigProblems(config), []);
    assert.deepEqual([...(config['arch'] as string[])].sort(), ['aarch64', 'amd64']);
    // want, not need: a broker named in mqtt_server does without the Mosquitto add-on
    assert.deepEqual(config['services'], ['mqtt:want']);
    assert.equal(config['image'], undefined, 'no image: the Supervisor builds the add-on from addon/Dockerfile');
  });

  it('the rules find what they should (a misspelt key, an old architecture, a bad type, a bad service)', () => {
    const bad = { ...config, arch: ['aarch64', 'armv7'], servics: [], startup: 'later', schema: { x: 'string' } };
    const problems = appConfigProblems(bad).join('\n');
    for (const expected of [/servics: not an add-on key/, /armv7 is deprecated/, /startup: one of/, /schema\.x/])
      assert.match(problems, expected);
    assert.match(appConfigProblems({ ...config, services: ['mqtt:needs'] }).join(), /services/);
    assert.deepEqual(schemaElementProblems([['str']], 'nested'), [
      'nested: a list may not directly contain another list',
    ]);
  });

  it('the default options, and the options DOCS.md shows, pass the schema as the Supervisor checks them', () => {
    assert.deepEqual(optionsProblems(schema, options), []);
    const docsExample = {
      ...options,
      bmc_password: 'secret',
      bmc_fingerprint: 'CA:34:3B:93:00:57:BE:1F',
      nodes: [
        { node: 1, name: 'k3s-server', agent: true, protected: true },
        { node: 2, name: 'k3s-worker-1', agent: true },
      ],
      schedules: [{ name: 'night-off', cron: '0 23 * * 1-5', action: 'shutdown', nodes: '1, 2' }],
    };
    assert.deepEqual(optionsProblems(schema, docsExample), []);
    assert.deepEqual(optionsProblems(schema, { ...options, board_type: 'simulator', bmc_password: '' }), []);
  });

  it('options the Supervisor refuses are refused here too', () => {
    const cases: [Dict, RegExp][] = [
      [{ ...options, nodes: [{ node: 5 }] }, /'node': 5 is not a valid int\(1,4\)/],
      [{ ...options, nodes: [{ name: 'x' }] }, /Missing option 'node' in nodes/],
      [{ ...options, board_type: 'tpi1' }, /'board_type'/],
      [{ ...options, bmc_url: 'turingpi.local' }, /'bmc_url'/],
      [{ ...options, board_id: 'Has Space' }, /'board_id'/],
      [{ ...options, base_topic: 'a/#' }, /'base_topic'/],
      [{ ...options, schedules: [{ name: 'n', cron: '* * * * *', action: 'sleep', nodes: 'all' }] }, /'action'/],
      [{ ...options, nodes: {} }, /Invalid list for option 'nodes'/],
      [{ ...options, bmc_port: 443 }, /'bmc_port' does not exist/],
    ];
    for (const [bad, expected] of cases) assert.match(optionsProblems(schema, bad).join('\n'), expected);
    const { bmc_url: _url, ...withoutUrl } = options;
    assert.match(optionsProblems(schema, withoutUrl).join('\n'), /Missing option 'bmc_url' in root/);
  });

  it('has an option for every schema entry; the BMC password is a password; boards tpi2 and simulator', () => {
    assert.deepEqual(Object.keys(options).sort(), Object.keys(schema).sort());
    assert.equal(schema['bmc_password'], 'password?');
    assert.equal(schema['board_type'], 'list(tpi2|simulator)');
  });

  it("translations/en.yaml: the Supervisor's format; every option and list field named and described", () => {
    const translation = read('addon/translations/en.yaml');
    assert.deepEqual(translationProblems(translation), []);
    const configuration = translation['configuration'] as Record<
      string,
      { name: string; description?: string; fields?: Dict }
    >;
    assert.deepEqual(Object.keys(configuration).sort(), Object.keys(schema).sort());
    for (const [key, type] of Object.entries(schema)) {
      const entry = configuration[key];
      assert.ok(entry?.name && entry.description, `${key}: name and description`);
      if (!Array.isArray(type) || typeof type[0] !== 'object') continue;
      const fields = (entry.fields ?? {}) as Record<string, { name?: string; description?: string }>;
      assert.deepEqual(Object.keys(fields).sort(), Object.keys(type[0] as Dict).sort(), `${key}: fields`);
      for (const [field, t] of Object.entries(fields)) assert.ok(t.name && t.description, `${key}.${field}`);
    }
    assert.equal(configuration['bmc_fingerprint']?.name, 'BMC certificate fingerprint');
    assert.match(text('addon/DOCS.md'), /BMC certificate fingerprint/, 'DOCS.md names the option the log tells of');
  });

  it('repository.yaml: the repository format; the public URL, if any, only there', () => {
    const repository = read('repository.yaml');
    assert.deepEqual(repositoryProblems(repository), []);
    assert.equal(config['url'], undefined, 'one place for the project URL: repository.yaml');
  });

  it('addon/config.yaml is the only file in the repository the Supervisor would read as an add-on', () => {
    const files = execFileSync('git', ['ls-files'], { cwd: repoRoot(), encoding: 'utf8' }).split('\n');
    assert.ok(files.includes('package.json'), 'git ls-files lists the repository');
    assert.deepEqual(files.filter(isAddonConfigPath), ['addon/config.yaml']);
    assert.equal(isAddonConfigPath('docs/config.example.yml'), true, 'the rule itself: config.*');
  });
});

describe('addon/ against the rest of the repository', () => {
  it("DOCS.md's agent config is a valid agent config for the add-on's default base topic and board id", () => {
    const docs = text('addon/DOCS.md');
    const section = docs.slice(docs.indexOf('## Agents on the nodes'));
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(yaml, 'DOCS.md: a yaml block under "Agents on the nodes"');
    const { config: agent, problems } = checkConfigText(yaml, 'DOCS.md', {
      role: 'agent',
      env: { MQTT_PASSWORD: 'x' },
    });
    assert.deepEqual(formatProblems(problems), []);
    assert.equal(agent?.mqtt.base_topic, options['base_topic']);
    assert.equal(agent?.board.id, options['board_id']);
  });

  it('the add-on version is the package version (the Supervisor passes BUILD_VERSION; install.sh installs it)', () => {
    assert.equal(config['version'], pkg.version);
    const lock = JSON.parse(text('package-lock.json')) as {
      version: string;
      packages: Record<string, { version: string }>;
    };
    assert.equal(lock.version, pkg.version);
    assert.equal(lock.packages['']?.version, pkg.version);
    assert.ok(text('addon/install.sh').includes(`package="\${PACKAGE:-${pkg.name}@$version}"`));
    const lines = dockerfile.split('\n');
    const from = lines.findIndex((l) => /^FROM /.test(l));
    const arg = lines.findIndex((l) => l === 'ARG BUILD_VERSION');
    assert.ok(from >= 0 && arg > from, 'ARG BUILD_VERSION after FROM (an ARG before FROM is not seen by RUN)');
    assert.match(dockerfile, /^COPY install\.sh \/tmp\/addon\/$/m);
    assert.match(dockerfile, /^ && sh \/tmp\/addon\/install\.sh \\$/m);
  });

  it('build.yaml and the Dockerfile name one base image, an Alpine whose nodejs meets package.json engines', () => {
    const build = read('addon/build.yaml');
    assert.deepEqual(buildConfigProblems(build), []);
    const byArch = build['build_from'] as Record<string, string>;
    assert.deepEqual(Object.keys(byArch).sort(), [...(config['arch'] as string[])].sort());
    const fallback = /^ARG BUILD_FROM=(\S+)$/m.exec(dockerfile)?.[1];
    assert.ok(fallback, 'Dockerfile: ARG BUILD_FROM=<image> (Supervisors from 2026.04 read no build.yaml)');
    assert.match(dockerfile, /^FROM \$\{BUILD_FROM\}$/m);
    for (const image of Object.values(byArch)) assert.equal(image, fallback);
    // Alpine's nodejs (main/nodejs) per branch, from Alpine's package index (pkgs.alpinelinux.org,
    // package/<branch>/main/<arch>/nodejs): v3.20 20.15.1 (below the engines), v3.22 22.22.0
    // (built 2026-01-23; 22.16 at 3.22.0), v3.23 and v3.24 24.18.1 (built 2026-07). The base images
    // of Home Assistant (home-assistant/docker-base) exist for 3.22, 3.23 and 3.24 now.
    // Another tag needs checking there, and adding here, before it is used.
    const alpine = /^ghcr\.io\/home-assistant\/base:(\d+\.\d+)$/.exec(fallback)?.[1];
    const nodeOfAlpine: Record<string, string> = {
      '3.20': '20.15.1',
      '3.22': '22.22.0',
      '3.23': '24.18.1',
      '3.24': '24.18.1',
    };
    const node = alpine ? nodeOfAlpine[alpine] : undefined;
    assert.ok(node, `${fallback}: which nodejs does it have? (add it to this table after checking)`);
    assert.equal(pkg.engines.node, '>=20.19', 'engines changed: check the base image again');
    const [major = 0, minor = 0] = node.split('.').map(Number);
    assert.ok(
      major > 20 || (major === 20 && minor >= 19),
      `${fallback} has Node.js ${node}, engines ${pkg.engines.node}`,
    );
  });

  it("runs node with the same NODE_OPTIONS as the bridge's systemd unit and the Docker image", () => {
    const unit = /^Environment="?NODE_OPTIONS=([^"\n]*)"?$/m.exec(
      text('config/systemd/turingpi-mqtt-bridge.service'),
    )?.[1];
    const image = /^ENV NODE_OPTIONS=(.*)$/m.exec(text('docker/Dockerfile'))?.[1];
    const addon = /^ENV NODE_OPTIONS=(.*)$/m.exec(dockerfile)?.[1];
    assert.ok(unit && image && addon, 'NODE_OPTIONS in all three');
    assert.equal(image.replace(/^"|"$/g, ''), unit);
    assert.equal(addon.replace(/^"|"$/g, ''), unit);
  });

  it("starts the bridge by the add-on command under Docker's init, not the base image's s6 /init", () => {
    assert.match(dockerfile, /^CMD \["turingpi-mqtt", "addon"\]$/m);
    // s6-overlay 3 (the base image's ENTRYPOINT /init) would start the CMD without the container's
    // environment (SUPERVISOR_TOKEN): the Dockerfile says why it is left out.
    assert.match(dockerfile, /^ENTRYPOINT \[\]$/m);
    assert.notEqual(config['init'], false, "Docker's init (the Supervisor's default) is PID 1");
  });
});
