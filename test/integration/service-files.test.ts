import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, parseDocument } from 'yaml';
import { CliProcess, tempDir } from '../support/cli.js';
import { startAedes, type TestBroker } from '../support/aedes.js';
import { repoPath, repoRoot } from '../support/paths.js';

/** Where the bus locks live (docs/security.md): the units and compose file must make it. */
const LOCK_DIRECTORY = '/run/lock/turingpi-mqtt';

/**
 * The ways users install services (issue 7), checked as far as this machine can: Docker
 * cannot run here, so the Dockerfile and the compose file are read, and the image's
 * entrypoint is run outside Docker in the layout its COPY lines make; the systemd units go
 * through `systemd-analyze verify`.
 */

// ---- Dockerfile ---------------------------------------------------------------------------

interface Instruction {
  keyword: string;
  args: string;
}

/** The Dockerfile's instructions by stage (continuation lines joined, comments dropped). */
function dockerStages(): { name: string; from: string; instructions: Instruction[] }[] {
  const text = readFileSync(repoPath('docker/Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const stages: { name: string; from: string; instructions: Instruction[] }[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const [, keyword = '', args = ''] = /^(\w+)\s+(.*)$/.exec(trimmed) ?? [];
    if (keyword.toUpperCase() === 'FROM') {
      const [, from = '', name = ''] = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(args) ?? [];
      stages.push({ name, from, instructions: [] });
    } else if (stages.length > 0) {
      stages.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

/** `COPY [--from=X] [--chown=...] src... dest` taken apart. */
function copyOf(args: string): { from?: string; sources: string[]; dest: string } {
  const words = args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith('--'));
  const rest = words.filter((w) => !w.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { ...(from ? { from } : {}), sources: rest.slice(0, -1), dest: rest.at(-1) ?? '' };
}

/** The repository files a COPY source names (a `*` within one folder is all the Dockerfile uses). */
function expand(source: string): string[] {
  if (!source.includes('*')) return [source];
  const dir = path.posix.dirname(source);
  const pattern = new RegExp(`^${path.posix.basename(source).replace(/\./g, '\\.').replace(/\*/g, '[^/]*')}$`);
  return readdirSync(repoPath(dir))
    .filter((f) => pattern.test(f))
    .map((f) => path.posix.join(dir, f));
}

/** .dockerignore's patterns as expressions (the forms it uses: *, **, folders). */
function dockerIgnorePatterns(): RegExp[] {
  return readFileSync(repoPath('.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map(
      (p) =>
        new RegExp(
          `^${p
            .replace(/\./g, '\\.')
            .replace(/\*\*\//g, '(.*/)?')
            .replace(/\*/g, '[^/]*')}(/.*)?$`,
        ),
    );
}

/** Whether .dockerignore keeps `file` out of the build context. */
function ignoredByDocker(file: string, patterns: RegExp[]): boolean {
  return patterns.some((re) => re.test(file));
}

function jsonArray(args: string): string[] {
  return JSON.parse(args) as string[];
}

describe('docker/', function () {
  this.timeout(60_000);
  const stages = dockerStages();
  const runtime = stages.at(-1);

  it('builds in stages, and the image runs as a user of its own, not root', () => {
    assert.ok(stages.length >= 3, `only ${stages.length} stages`);
    assert.ok(runtime, 'no stages');
    const users = runtime.instructions.filter((i) => i.keyword === 'USER').map((i) => i.args.trim());
    assert.ok(users.length > 0, 'the runtime stage sets no USER');
    assert.ok(!['root', '0', '0:0'].includes(users.at(-1) ?? ''), `runs as ${users.at(-1)}`);
    // Production dependencies only: the runtime's node_modules come from a stage that omits dev.
    const deps = stages.find((s) =>
      runtime.instructions.some(
        (i) =>
          i.keyword === 'COPY' &&
          copyOf(i.args).from === s.name &&
          copyOf(i.args).sources.some((src) => src.endsWith('node_modules')),
      ),
    );
    assert.ok(deps, 'node_modules are not copied from a stage');
    assert.ok(
      deps.instructions.some((i) => i.keyword === 'RUN' && /npm ci\b.*--omit=dev/.test(i.args)),
      `stage ${deps.name} does not install with --omit=dev`,
    );
  });

  it('copies only files that exist and that .dockerignore lets into the context', () => {
    const ignored = dockerIgnorePatterns();
    const copied = stages
      .flatMap((s) => s.instructions.filter((i) => i.keyword === 'COPY').map((i) => copyOf(i.args)))
      .filter((c) => !c.from);
    assert.ok(copied.length > 0);
    for (const copy of copied) {
      for (const source of copy.sources) {
        const files = expand(source);
        assert.ok(files.length > 0, `COPY ${source}: matches nothing`);
        for (const file of files) {
          assert.ok(existsSync(repoPath(file)), `COPY ${file}: no such file`);
          assert.ok(!ignoredByDocker(file, ignored), `COPY ${file}: .dockerignore leaves it out of the context`);
        }
      }
    }
    // And what must stay out does: tests, local state, secrets.
    for (const file of [
      'test/support/cli.ts',
      'data/bridge.json',
      '.env',
      'certs/client.key',
      'node_modules/mqtt/package.json',
    ]) {
      assert.ok(ignoredByDocker(file, ignored), `${file} would be sent to the Docker build`);
    }
  });

  describe('the entrypoint, run outside Docker in the layout of the runtime stage', () => {
    let broker: TestBroker;
    let app: string;
    before(async () => {
      broker = await startAedes();
      // WORKDIR /app: what each COPY of the runtime stage puts there, from this build.
      app = path.join(tempDir('tpm-image-'), 'app');
      mkdirSync(app, { recursive: true });
      for (const instruction of runtime?.instructions ?? []) {
        if (instruction.keyword !== 'COPY') continue;
        const copy = copyOf(instruction.args);
        for (const source of copy.sources) {
          // The build stage compiled /src (this repository); the deps stage installed /app/node_modules.
          const fromRepo = source.replace(/^\/(src|app)\//, '');
          for (const file of expand(fromRepo)) {
            const target = copy.dest.endsWith('/')
              ? path.join(app, copy.dest, path.basename(file))
              : path.join(app, copy.dest === './' ? path.basename(file) : copy.dest);
            mkdirSync(path.dirname(target), { recursive: true });
            if (file === 'node_modules') symlinkSync(repoPath('node_modules'), target);
            else cpSync(repoPath(file), target, { recursive: true });
          }
        }
      }
    });
    after(async () => {
      await broker.close();
    });

    it('starts the bridge with the image CMD and the example config, and stops cleanly', async () => {
      const entrypoint = jsonArray(runtime?.instructions.find((i) => i.keyword === 'ENTRYPOINT')?.args ?? '[]');
      const cmd = jsonArray(runtime?.instructions.find((i) => i.keyword === 'CMD')?.args ?? '[]');
      assert.equal(entrypoint[0], 'node');
      assert.ok(existsSync(path.join(app, entrypoint[1] ?? '')), `${entrypoint[1]} is not in the image`);
      const env = Object.fromEntries(
        (runtime?.instructions ?? [])
          .filter((i) => i.keyword === 'ENV')
          .map((i) => {
            const [key = '', ...value] = i.args.split('=');
            return [key.trim(), value.join('=').trim()];
          }),
      );
      assert.equal(env.NODE_OPTIONS, '--max-semi-space-size=1');
      // The example config as compose mounts it, pointed at the test broker and a writable /data.
      const data = tempDir('tpm-image-data-');
      const doc = parseDocument(readFileSync(repoPath('docker/turingpi-mqtt.example.yaml'), 'utf8'));
      doc.setIn(['mqtt', 'url'], broker.url);
      doc.setIn(['state_dir'], data);
      doc.setIn(['board', 'simulate', 'state_file'], path.join(data, 'simulator.json'));
      const config = path.join(tempDir('tpm-image-config-'), 'turingpi-mqtt.yaml');
      writeFileSync(config, doc.toString());
      const args = cmd.map((a) => (a === '/config/turingpi-mqtt.yaml' ? config : a));
      assert.notDeepEqual(args, cmd, 'the CMD does not name /config/turingpi-mqtt.yaml');
      const child = spawn(entrypoint[0] ?? 'node', [...entrypoint.slice(1), ...args], {
        cwd: app,
        env: { PATH: process.env.PATH, HOME: data, MQTT_PASSWORD: 'from-docker-env', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const bridge = new CliProcess(child);
      try {
        await bridge.waitForLog(/^bridge online/, 20_000);
      } finally {
        const exit = await bridge.stop('SIGTERM');
        assert.equal(exit.code, 0, bridge.describe());
      }
    });
  });

  it('compose: mosquitto with set_tcp_nodelay, and the bridge built from the Dockerfile with the same command', () => {
    const compose = parseYaml(readFileSync(repoPath('docker/compose.yaml'), 'utf8')) as {
      services: Record<
        string,
        { build?: { context: string; dockerfile: string }; command?: string[]; volumes?: string[]; image?: string }
      >;
    };
    const { bridge, mosquitto } = compose.services;
    assert.ok(bridge?.build && mosquitto, 'services bridge (built) and mosquitto');
    const context = path.resolve(repoPath('docker'), bridge.build.context);
    assert.equal(context, repoRoot());
    assert.ok(
      existsSync(path.join(context, bridge.build.dockerfile)),
      `${bridge.build.dockerfile} not found from the context`,
    );
    assert.deepEqual(bridge.command, jsonArray(runtime?.instructions.find((i) => i.keyword === 'CMD')?.args ?? '[]'));
    for (const volume of [...(bridge.volumes ?? []), ...(mosquitto.volumes ?? [])]) {
      const source = volume.split(':')[0] ?? '';
      if (!source.startsWith('./')) continue;
      // The bridge's config is the user's copy of the example (README, Docker).
      const file = source === './turingpi-mqtt.yaml' ? './turingpi-mqtt.example.yaml' : source;
      assert.ok(
        existsSync(path.join(repoPath('docker'), file)),
        `compose mounts ${source}: docker/${file} does not exist`,
      );
    }
    const conf = readFileSync(repoPath('docker/mosquitto/mosquitto.conf'), 'utf8');
    assert.match(conf, /^set_tcp_nodelay true$/m);
    // Issue 13: the published port takes no anonymous client, and no huge packet.
    assert.match(conf, /^allow_anonymous false$/m);
    assert.match(conf, /^password_file \/mosquitto\/data\/passwd$/m);
    assert.match(conf, /^max_packet_size \d+$/m);
    const example = parseYaml(readFileSync(repoPath('docker/turingpi-mqtt.example.yaml'), 'utf8')) as {
      mqtt: Record<string, unknown>;
    };
    assert.equal(example.mqtt.username, 'turingpi');
    assert.equal(example.mqtt.password, '${MQTT_PASSWORD}');
  });

  it("README's docker run stops the bridge as the compose file does: under an init, with its grace", () => {
    const compose = parseYaml(readFileSync(repoPath('docker/compose.yaml'), 'utf8')) as {
      services: { bridge: { init?: boolean; stop_grace_period?: string } };
    };
    const { bridge } = compose.services;
    assert.equal(bridge.init, true);
    const grace = /^(\d+)s$/.exec(bridge.stop_grace_period ?? '')?.[1];
    assert.ok(grace, `compose stop_grace_period ${bridge.stop_grace_period} is not in seconds`);
    // docker stop's own default is 10 s: a hard reboot with a long reboot_off_time would be cut.
    const readme = readFileSync(repoPath('docker/README.md'), 'utf8').replace(/\\\n/g, ' ');
    const runs = readme.split('\n').filter((line) => /^\s*docker run /.test(line));
    assert.ok(runs.length > 0, 'docker/README.md shows a docker run');
    for (const run of runs) {
      assert.match(run, /\s--init\s/, run);
      assert.match(run, new RegExp(`\\s--stop-timeout ${grace}\\s`), run);
    }
  });
});

// ---- systemd ------------------------------------------------------------------------------

/** The unit's `Key=value` lines of one section (a key may repeat). */
function unitSection(text: string, section: string): [string, string][] {
  const lines: [string, string][] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) current = header[1] ?? '';
    else if (current === section) {
      const eq = line.indexOf('=');
      lines.push([line.slice(0, eq), line.slice(eq + 1)]);
    }
  }
  return lines;
}

function systemdAnalyze(
  unitFile: string,
  args: string[] = ['verify'],
): Promise<{ code: number; output: string } | null> {
  return new Promise((resolve) => {
    execFile('systemd-analyze', [...args, unitFile], (error, stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') resolve(null);
      else resolve({ code: error ? Number(error.code ?? 1) : 0, output: `${stdout}${stderr}`.trim() });
    });
  });
}

describe('systemd units', function () {
  this.timeout(30_000);
  const units = {
    bridge: repoPath('config/systemd/turingpi-mqtt-bridge.service'),
    agent: repoPath('config/systemd/turingpi-mqtt-agent.service'),
  };

  for (const [role, file] of Object.entries(units)) {
    it(`${role}: restarts on failure, as a user of its own, with the shipped NODE_OPTIONS, the command by name`, () => {
      const service = unitSection(readFileSync(file, 'utf8'), 'Service');
      const value = (key: string): string[] => service.filter(([k]) => k === key).map(([, v]) => v);
      assert.deepEqual(value('Restart'), ['on-failure']);
      // A config error exits 2: restarting every 5 s would never fix it (and never hit the start limit).
      assert.deepEqual(value('RestartPreventExitStatus'), ['2'], 'a config error (exit 2) would restart in a loop');
      const [user] = value('User');
      assert.ok(user && user !== 'root', `User=${user}`);
      // The flags docs/performance.md measures (npm run bench runs each role with its unit's).
      const shipped =
        role === 'agent' ? '"NODE_OPTIONS=--jitless --max-semi-space-size=1"' : 'NODE_OPTIONS=--max-semi-space-size=1';
      assert.ok(value('Environment').includes(shipped), value('Environment').join(', '));
      // A bare name: systemd's fixed search path finds /usr/local/bin and /usr/bin alike.
      assert.match(value('ExecStart')[0] ?? '', new RegExp(`^turingpi-mqtt ${role} -c /etc/turingpi-mqtt/`));
      if (role === 'bridge') {
        assert.ok(
          value('SupplementaryGroups').join(' ').split(/\s+/).includes('i2c'),
          'the bridge is not in the i2c group',
        );
        // Issue 13: the bus lock's directory, for the i2c group only, the same the compose file mounts.
        assert.deepEqual(value('ExecStartPre'), [`+/usr/bin/install -d -o root -g i2c -m 2770 ${LOCK_DIRECTORY}`]);
        assert.deepEqual(value('ReadWritePaths'), [`-${LOCK_DIRECTORY}`]);
        const compose = parseYaml(readFileSync(repoPath('docker/compose.yaml'), 'utf8')) as {
          services: { bridge: { volumes: string[] } };
        };
        assert.ok(
          compose.services.bridge.volumes.includes(`${LOCK_DIRECTORY}:${LOCK_DIRECTORY}`),
          'compose mounts another lock directory',
        );
      }
      if (role === 'agent') {
        // The command journal ($RUNTIME_DIRECTORY): kept across restarts and stops, emptied at boot.
        assert.deepEqual(value('RuntimeDirectory'), ['turingpi-mqtt-agent']);
        assert.deepEqual(value('RuntimeDirectoryPreserve'), ['yes']);
        assert.deepEqual(value('RuntimeDirectoryMode'), ['0700']);
      }
    });

    it(`${role}: systemd-analyze verify finds nothing to say`, async function () {
      // The command is not installed here: the copy names the built one by its full path.
      const dir = tempDir('tpm-units-');
      const copy = path.join(dir, path.basename(file));
      writeFileSync(
        copy,
        readFileSync(file, 'utf8').replace(
          /^ExecStart=turingpi-mqtt /m,
          `ExecStart=${process.execPath} ${repoPath('dist/src/cli.cjs')} `,
        ),
      );
      const result = await systemdAnalyze(copy);
      if (result === null) {
        if (process.env.CI === 'true') assert.fail('systemd-analyze is missing (package systemd)');
        this.skip();
      }
      assert.equal(result.output, '');
      assert.equal(result.code, 0);
    });
  }

  describe('Kubernetes: the agent drop-in and the uncordon unit (config/kubernetes)', () => {
    it(
      'systemd-analyze verify finds nothing to say about the agent with the drop-in, nor the boot ' + 'unit',
      async function () {
        const dir = tempDir('tpm-units-');
        const agent = path.join(dir, 'turingpi-mqtt-agent.service');
        writeFileSync(
          agent,
          readFileSync(units.agent, 'utf8').replace(
            /^ExecStart=turingpi-mqtt /m,
            `ExecStart=${process.execPath} ${repoPath('dist/src/cli.cjs')} `,
          ),
        );
        mkdirSync(`${agent}.d`);
        writeFileSync(
          path.join(`${agent}.d`, 'kubernetes.conf'),
          readFileSync(repoPath('config/kubernetes/turingpi-mqtt-agent.service.d/kubernetes.conf'), 'utf8'),
        );
        const boot = path.join(dir, 'turingpi-drain-uncordon.service');
        // The script is not installed here: the copy names the shipped one by its full path.
        writeFileSync(
          boot,
          readFileSync(repoPath('config/kubernetes/turingpi-drain-uncordon.service'), 'utf8').replace(
            /^ExecStart=\/usr\/local\/sbin\/turingpi-drain /m,
            `ExecStart=${repoPath('config/kubernetes/turingpi-drain')} `,
          ),
        );
        for (const unit of [agent, boot]) {
          const result = await systemdAnalyze(unit);
          if (result === null) {
            if (process.env.CI === 'true') assert.fail('systemd-analyze is missing (package systemd)');
            this.skip();
          }
          assert.equal(result.output, '', unit);
          assert.equal(result.code, 0);
        }
      },
    );

    it('the kubeconfig is where the agent (ProtectHome=true) can read it, and the budget fits the agent limit', () => {
      const dropIn = unitSection(
        readFileSync(repoPath('config/kubernetes/turingpi-mqtt-agent.service.d/kubernetes.conf'), 'utf8'),
        'Service',
      );
      const env = Object.fromEntries(
        dropIn.filter(([k]) => k === 'Environment').map(([, v]) => v.split('=', 2) as [string, string]),
      );
      assert.match(
        unitSection(readFileSync(units.agent, 'utf8'), 'Service')
          .map(([k, v]) => `${k}=${v}`)
          .join('\n'),
        /^ProtectHome=true$/m,
      );
      assert.ok(
        env['KUBECONFIG'] && !/^\/(home|root|run\/user)\//.test(env['KUBECONFIG']),
        `KUBECONFIG=${env['KUBECONFIG']}`,
      );
      // The default power.graceful_timeout (the agent's command limit) is 120 s.
      assert.ok(
        Number(env['TURINGPI_DRAIN_TIMEOUT']) <= 120 - 15,
        `TURINGPI_DRAIN_TIMEOUT=${env['TURINGPI_DRAIN_TIMEOUT']}`,
      );
      const boot = unitSection(
        readFileSync(repoPath('config/kubernetes/turingpi-drain-uncordon.service'), 'utf8'),
        'Service',
      );
      assert.ok(boot.some(([k, v]) => k === 'Environment' && v === `KUBECONFIG=${env['KUBECONFIG']}`));
      // One file of this node's settings for both: a node named otherwise stayed cordoned at boot.
      const envFiles = (unit: [string, string][]) => unit.filter(([k]) => k === 'EnvironmentFile').map(([, v]) => v);
      assert.deepEqual(envFiles(dropIn), ['-/etc/turingpi-mqtt/drain.env']);
      assert.deepEqual(envFiles(boot), envFiles(dropIn));
      // Not a oneshot: the boot does not wait for the API server.
      assert.deepEqual(
        boot.filter(([k]) => k === 'Type'),
        [['Type', 'exec']],
      );
    });
  });

  describe('the GPIO drop-in (the gpio group instead of i2c, no bus lock)', () => {
    it('replaces the supplementary groups by gpio and clears the bus lock step', () => {
      const dropIn = repoPath('config/systemd/turingpi-mqtt-bridge.service.d/gpio.conf');
      assert.deepEqual(unitSection(readFileSync(dropIn, 'utf8'), 'Service'), [
        ['SupplementaryGroups', ''],
        ['SupplementaryGroups', 'gpio'],
        ['ExecStartPre', ''],
      ]);
    });
  });

  describe('the Turing Pi 2 drop-in (no i2c group, no devices)', () => {
    const dropIn = repoPath('config/systemd/turingpi-mqtt-bridge.service.d/tpi2.conf');

    /** The bridge unit (command by full path) in a temp dir, with the drop-in beside it when asked. */
    function unitCopy(withDropIn: boolean): string {
      const dir = tempDir('tpm-units-');
      const copy = path.join(dir, 'turingpi-mqtt-bridge.service');
      const text = readFileSync(units.bridge, 'utf8');
      writeFileSync(
        copy,
        text.replace(/^ExecStart=turingpi-mqtt /m, `ExecStart=${process.execPath} ${repoPath('dist/src/cli.cjs')} `),
      );
      if (withDropIn) {
        mkdirSync(`${copy}.d`);
        writeFileSync(path.join(`${copy}.d`, 'tpi2.conf'), readFileSync(dropIn, 'utf8'));
      }
      return copy;
    }

    it('clears the supplementary groups and the device list', () => {
      const service = unitSection(readFileSync(dropIn, 'utf8'), 'Service');
      assert.deepEqual(service, [
        ['SupplementaryGroups', ''],
        ['DeviceAllow', ''],
        ['PrivateDevices', 'true'],
        ['ExecStartPre', ''],
      ]);
    });

    it('systemd-analyze verify reads it and finds nothing to say', async function () {
      const result = await systemdAnalyze(unitCopy(true));
      if (result === null) {
        if (process.env.CI === 'true') assert.fail('systemd-analyze is missing (package systemd)');
        this.skip();
      }
      assert.equal(result.output, '');
      assert.equal(result.code, 0);
    });

    it(
      'systemd, merging unit and drop-in, runs the bridge without the i2c group and without ' + 'devices',
      async function () {
        const security = ['security', '--offline=true', '--no-pager'];
        const merged = await systemdAnalyze(unitCopy(true), security);
        const alone = await systemdAnalyze(unitCopy(false), security);
        if (merged === null || alone === null || /unrecognized option|unknown option/i.test(merged.output)) {
          if (process.env.CI === 'true' && merged === null) assert.fail('systemd-analyze is missing (package systemd)');
          this.skip();
        }
        // The unit alone: the i2c group and device (what a Turing Pi 1 bridge needs).
        assert.match(alone.output, /SupplementaryGroups=\s+Service runs with supplementary groups/);
        assert.match(alone.output, /DeviceAllow=.*char-i2c/);
        // With the drop-in: neither.
        assert.match(merged.output, /SupplementaryGroups=\s+Service has no supplementary groups/);
        assert.match(merged.output, /PrivateDevices=\s+Service has no access to hardware devices/);
      },
    );
  });
});
