import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, tempDir, testBridgeConfig, writeConfig } from '../support/cli.js';
import { repoPath } from '../support/paths.js';

/**
 * What each role loads from the shipped bundle (scripts/bundle.ts), read from esbuild's
 * metafile: the files a process loads at start are the entry and everything it imports
 * statically; what it imports dynamically comes only when that code path runs.
 */
interface Metafile {
  outputs: Record<
    string,
    { inputs: Record<string, unknown>; imports: { path: string; kind: string; external?: boolean }[] }
  >;
}

const META = repoPath('dist/bundle-meta.json');

function load(): Metafile {
  return JSON.parse(readFileSync(META, 'utf8')) as Metafile;
}

/** The command line's output file (a .cjs one) holding the compiled module `input` (e.g. dist/src/app/agent.js). */
function outputOf(meta: Metafile, input: string): string {
  const found = Object.entries(meta.outputs).find(([file, o]) => file.endsWith('.cjs') && input in o.inputs);
  assert.ok(found, `${input} is in no output of the bundle`);
  return found[0];
}

/** `entries` and every file they import statically, transitively (node's own modules too, e.g. node:fs). */
function loadedFiles(meta: Metafile, entries: string[]): Set<string> {
  const seen = new Set<string>();
  const stack = [...entries];
  while (stack.length > 0) {
    const file = stack.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const i of meta.outputs[file]?.imports ?? []) if (i.kind === 'import-statement') stack.push(i.path);
  }
  return seen;
}

/** The modules in `entries` and every output they import statically, transitively. */
function loadedModules(meta: Metafile, entries: string[]): string[] {
  return [...loadedFiles(meta, entries)].flatMap((file) => Object.keys(meta.outputs[file]?.inputs ?? {}));
}

const offenders = (modules: string[], unwanted: RegExp[]): string[] => [
  ...new Set(
    modules
      .filter((m) => unwanted.some((re) => re.test(m)))
      .map((m) => m.replace(/^(node_modules\/(@[^/]+\/)?[^/]+)\/.*/, '$1')),
  ),
];

describe('the bundle: what each role loads', () => {
  before(() => {
    assert.ok(existsSync(META), `${META} is missing: npm run build writes it`);
  });

  it('the agent, its config read by a child process: no YAML, schema, systeminformation, broker or board code', () => {
    const meta = load();
    const agent = loadedModules(meta, ['dist/src/cli.cjs', outputOf(meta, 'dist/src/app/agent.js')]);
    assert.ok(
      agent.includes('dist/src/agent/kernel.js') && agent.some((m) => m.startsWith('node_modules/mqtt/')),
      "the analysis finds the agent's own modules",
    );
    const unwanted = [
      /^node_modules\/(zod|yaml|systeminformation|aedes|selfsigned|croner|debug|lru-cache)\//,
      /^dist\/src\/board\//,
      /^dist\/src\/config\/(load|schema|parse|checks)\.js$/,
      /^dist\/src\/app\/bridge\.js$/,
    ];
    assert.deepEqual(offenders(agent, unwanted), []);
    // And the config loader itself runs in the child: its entry has them.
    const child = loadedModules(meta, ['dist/src/config/load-child.cjs']);
    assert.ok(child.some((m) => m.startsWith('node_modules/yaml/')) && child.includes('dist/src/config/schema.js'));
  });

  it(
    'the bridge: no YAML, schema, embedded broker, certificates, systeminformation or board drivers unless ' +
      'its config names them',
    () => {
      const meta = load();
      const bridge = loadedModules(meta, [
        'dist/src/cli.cjs',
        outputOf(meta, 'dist/src/config/load-separately.js'),
        outputOf(meta, 'dist/src/app/bridge.js'),
      ]);
      assert.ok(bridge.includes('dist/src/app/bridge.js'));
      // embedded-broker.js is there, but it imports aedes only when it starts.
      // (Small helpers of a board's, such as the Turing Pi 2 firmware's names, may be there.)
      const unwanted = [
        /^node_modules\/(zod|yaml|aedes|selfsigned|systeminformation|ws|socks|ip-address|debug|lru-cache)\//,
        /^dist\/src\/config\/(load|schema|parse|checks)\.js$/,
        /^dist\/src\/board\/(tpi1|tpi2|gpio)\/(driver|index|https-fetch|bus|i2c)[\w-]*\.js$/,
        /^dist\/src\/board\/simulator\//,
      ];
      assert.deepEqual(offenders(bridge, unwanted), []);
    },
  );

  it("the config loader (the child every start waits for): zod's English messages only, no node:crypto", () => {
    const meta = load();
    const child = loadedModules(meta, ['dist/src/config/load-child.cjs']);
    const locales = child.filter((m) => m.startsWith('node_modules/zod/v4/locales/'));
    assert.deepEqual(locales, ['node_modules/zod/v4/locales/en.js']);
    const files = loadedFiles(meta, ['dist/src/config/load-child.cjs']);
    assert.ok(files.has('node:fs/promises'), 'the analysis sees node modules the loader imports');
    assert.ok(!files.has('node:crypto'), 'the config loader imports node:crypto');
  });

  it("no role loads MQTT.js's WebSocket, SOCKS or TLS transports for an mqtt:// URL (they come from node_modules when used)", () => {
    const meta = load();
    const all = Object.values(meta.outputs).flatMap((o) => Object.keys(o.inputs));
    assert.deepEqual(
      offenders(all, [
        /^node_modules\/(ws|socks|ip-address|smart-buffer|thread-stream)\//,
        /^node_modules\/mqtt\/build\/lib\/connect\/(ws|socks|tls)\.js$/,
      ]),
      [],
    );
  });
});

describe("the bundle's `debug`: MQTT.js's and mqtt-packet's traces", () => {
  /** The built CLI's power client against a port nobody listens on: MQTT.js traces its connection attempt. */
  const run = (env: NodeJS.ProcessEnv): { status: number | null; stderr: string } => {
    const config = writeConfig(tempDir(), { mqtt: { url: 'mqtt://127.0.0.1:1' } });
    const { DEBUG: _ignored, ...rest } = process.env;
    const result = spawnSync(process.execPath, [cliPath(), 'power', '2', 'status', '-c', config], {
      env: { ...rest, ...env },
      encoding: 'utf8',
      timeout: 20_000,
    });
    return { status: result.status, stderr: result.stderr };
  };

  it('is not bundled: a stand-in whose loggers do nothing (each call of the real one allocates its arguments)', () => {
    const all = Object.values(load().outputs).flatMap((o) => Object.keys(o.inputs));
    assert.deepEqual(offenders(all, [/^node_modules\/debug\//]), []);
  });

  it('without DEBUG nothing is traced; with DEBUG=mqttjs* the real module traces as usual', () => {
    const quiet = run({});
    assert.equal(quiet.status, 1);
    assert.match(quiet.stderr, /cannot connect to MQTT broker/);
    assert.doesNotMatch(quiet.stderr, /mqttjs/);
    const traced = run({ DEBUG: 'mqttjs*' });
    assert.equal(traced.status, 1);
    assert.match(traced.stderr, /mqttjs:client MqttClient :: version/);
    assert.match(traced.stderr, /mqttjs connecting to an MQTT broker/);
  });
});

describe("node's own modules each role keeps loaded", () => {
  /**
   * The role started from the built CLI against a broker nobody answers (it loads what it runs
   * with, then retries the connection); a preload writes node's list of loaded modules after
   * 2.5 s and ends the process. The preload is CommonJS, as the CLI is: an ES module preload
   * would load node's ES module loader itself.
   */
  const loadedBuiltins = (role: 'agent' | 'bridge'): string[] => {
    const dir = tempDir();
    const list = join(dir, 'modules.json');
    const preload = join(dir, 'list-modules.cjs');
    writeFileSync(
      preload,
      `const { writeFileSync } = require('node:fs');\n` +
        `setTimeout(() => { writeFileSync(${JSON.stringify(list)}, JSON.stringify(process.moduleLoadList)); ` +
        `process.exit(0); }, 2500);\n`,
    );
    const url = 'mqtt://127.0.0.1:1';
    const config =
      role === 'agent'
        ? writeConfig(dir, { mqtt: { url }, board: { id: 'b' }, agent: { node: 1 }, log: { format: 'json' } })
        : writeConfig(dir, testBridgeConfig({ dir, url }));
    const result = spawnSync(process.execPath, ['--require', preload, cliPath(), role, '-c', config], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.ok(existsSync(list), `the ${role} ended before the list was written: ${result.stderr}`);
    return JSON.parse(readFileSync(list, 'utf8')) as string[];
  };

  // What a dependency would load for a line that rarely runs (scripts/bundle.ts, PATCHES and
  // LAZY), what the config child's answer no longer needs (JSON, not node's serializer), and
  // node:crypto, which only the embedded broker, a Turing Pi 2 and the CLI's power client load,
  // and fs/promises (src/util/files.ts makes the same functions of node:fs).
  const UNWANTED = [
    'assert',
    'worker_threads',
    'v8',
    'crypto',
    'tls',
    'http',
    'https',
    'zlib',
    'dns',
    'perf_hooks',
    'fs/promises',
  ];

  // node's ES module loader: what running the CLI as CommonJS saves (scripts/bundle.ts).
  const ES_MODULE_LOADER = /^NativeModule internal\/modules\/esm\/(load|module_job|translators|resolve)$/;

  for (const role of ['agent', 'bridge'] as const)
    it(`the ${role}: CommonJS only, node's ES module loader never loaded`, function () {
      this.timeout(30_000);
      const loaded = loadedBuiltins(role);
      assert.ok(loaded.includes('NativeModule net'), `the ${role} got as far as connecting`);
      assert.deepEqual(
        loaded.filter((name) => ES_MODULE_LOADER.test(name)),
        [],
      );
    });

  for (const role of ['agent', 'bridge'] as const)
    it(`the ${role}: no ${UNWANTED.join(', ')}`, function () {
      this.timeout(30_000);
      const loaded = loadedBuiltins(role);
      assert.ok(loaded.includes('NativeModule net'), `the ${role} got as far as connecting`);
      assert.deepEqual(
        UNWANTED.filter((name) => loaded.includes(`NativeModule ${name}`)),
        [],
      );
    });
});
