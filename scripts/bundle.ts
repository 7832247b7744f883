/**
 * The shipped build: the command line (`bin`: dist/src/cli.cjs, and the config child
 * dist/src/config/load-child.cjs) and the library (`exports`: dist/src/index.js), each rewritten
 * by esbuild as bundles of the compiled modules and their dependencies, with what only some runs
 * need in chunks loaded on first use (dist/src/chunks/). One file per path instead of some 300
 * modules: less to resolve and compile at start, less memory kept. `npm run build` runs it after
 * tsc; the other files of dist/src stay for the tests.
 */
import { build, transform, type BuildOptions, type Metafile, type Plugin } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const out = join(root, 'dist/src');

/** A module replaced in the bundle by a stand-in that requires the real one on first use. */
interface LazyModule {
  /** The folder of the module that requires it, and what it asks for. */
  importer: RegExp;
  request: string;
  /** How the stand-in finds the real module at run time: `require(path)` from beside `anchor`. */
  anchor: string;
  path: string;
  /** The real module's exports: functions or classes (named, with __esModule), or a class (module.exports). */
  exports: { functions: string[] } | { classes: string[] } | 'class';
}

const LAZY: LazyModule[] = [
  // MQTT.js builds its table of transports at the first connection, requiring WebSocket (`ws`),
  // TLS and SOCKS support whatever the URL: modules (and node's tls, http, zlib, dns) that a
  // plain `mqtt://` connection never uses. Each comes from node_modules when a connection does.
  ...['ws', 'socks', 'tls'].map((name): LazyModule => ({
    importer: /[\\/]mqtt[\\/]build[\\/]lib[\\/]connect$/,
    request: `./${name}`,
    anchor: 'mqtt/package.json',
    path: `mqtt/lib/connect/${name}`,
    exports: { functions: name === 'ws' ? ['streamBuilder', 'browserStreamBuilder'] : ['default'] },
  })),
  // MQTT.js's timers in a Web Worker, for browsers (with @babel/runtime and four more packages).
  {
    importer: /[\\/]mqtt[\\/]build[\\/]lib$/,
    request: 'worker-timers',
    anchor: 'mqtt/package.json',
    path: 'worker-timers',
    exports: { functions: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] },
  },
  // MQTT.js's topic-alias cache (MQTT 5 with topicAliasMaximum only): lru-cache reads the
  // global `performance` when it loads, and with it node loads its perf_hooks modules.
  {
    importer: /[\\/]mqtt[\\/]build[\\/]lib$/,
    request: 'lru-cache',
    anchor: 'mqtt/package.json',
    path: 'lru-cache',
    exports: { classes: ['LRUCache'] },
  },
  // pino's transports (worker threads) are never used here: logs go to a stream in this thread.
  {
    importer: /[\\/]pino[\\/]lib$/,
    request: 'thread-stream',
    anchor: 'pino/package.json',
    path: 'thread-stream',
    exports: 'class',
  },
];

const lazyModules: Plugin = {
  name: 'lazy-modules',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      const index = LAZY.findIndex((m) => m.request === args.path && m.importer.test(args.resolveDir));
      return index < 0 ? undefined : { path: String(index), namespace: 'lazy-module' };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-module' }, (args) => {
      const m = LAZY[Number(args.path)] as LazyModule;
      const load =
        `let real;\nconst load = () => (real ??= require('node:module').createRequire(` +
        `require.resolve(${JSON.stringify(m.anchor)}))(${JSON.stringify(m.path)}));\n`;
      return { loader: 'js', contents: load + standIn(m.exports) };
    });
  },
};

/** The stand-in's body: what it exports, each part loading the real module on first use. */
function standIn(exports: LazyModule['exports']): string {
  if (exports === 'class') return 'module.exports = function LazyClass(...a) { return new (load())(...a); };\n';
  const marker = `Object.defineProperty(exports, '__esModule', { value: true });\n`;
  if ('classes' in exports)
    return (
      marker +
      exports.classes.map((n) => `exports.${n} = function ${n}(...a) { return new (load().${n})(...a); };\n`).join('')
    );
  return marker + exports.functions.map((n) => `exports.${n} = (...a) => load().${n}(...a);\n`).join('');
}

/**
 * `debug`, through which MQTT.js and mqtt-packet trace: every call allocates its arguments
 * even while tracing is off, and mqtt-packet calls it about fifteen times per packet (8 KiB of
 * garbage per command, a fifth of the bridge's). Unless DEBUG is set when the process starts,
 * the bundle's `debug` makes loggers that do nothing (no rest parameter: a call allocates
 * nothing); with DEBUG set it is the real module from node_modules (DEBUG=mqttjs* as usual).
 */
const quietDebug: Plugin = {
  name: 'quiet-debug',
  setup(b) {
    b.onResolve({ filter: /^debug$/ }, () => ({ path: 'debug', namespace: 'quiet-debug' }));
    b.onLoad({ filter: /.*/, namespace: 'quiet-debug' }, () => ({
      loader: 'js',
      contents: `let real;
const load = () => (real ??= require('node:module').createRequire(require.resolve('mqtt/package.json'))('debug'));
function quiet(namespace) {
  const log = function () {};
  log.namespace = namespace;
  log.enabled = false;
  log.extend = (sub, delimiter = ':') => createDebug(namespace + delimiter + sub);
  log.destroy = () => true;
  return log;
}
function createDebug(namespace) {
  return process.env.DEBUG ? load()(namespace) : quiet(namespace);
}
createDebug.enable = (namespaces) => load().enable(namespaces);
createDebug.disable = () => (process.env.DEBUG ? load().disable() : '');
createDebug.enabled = (namespace) => (process.env.DEBUG ? load().enabled(namespace) : false);
module.exports = createDebug;
`,
    }));
  },
};

/**
 * zod's messages in English only. zod re-exports every one of its 40-odd translations as
 * `z.locales` (300 KiB of the config loader's 600 KiB of zod), and node parses all of it at each
 * start of the loader (docs/performance-log.md, "Where the memory went"); this project never calls
 * `z.config(z.locales.xx())`, and zod sets English itself. In the bundle, `locales` holds `en`
 * alone; the build fails if zod's files stop importing the translations this way.
 */
const englishOnlyZod: Plugin = {
  name: 'english-only-zod',
  setup(b) {
    let replaced = 0;
    b.onStart(() => {
      replaced = 0;
    });
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => {
      if (!/[\\/]node_modules[\\/]zod[\\/]v4[\\/](classic|core)$/.test(args.resolveDir)) return undefined;
      replaced++;
      return { path: join(args.resolveDir, '../locales/en.js'), namespace: 'zod-english' };
    });
    b.onLoad({ filter: /.*/, namespace: 'zod-english' }, (args) => ({
      loader: 'js',
      resolveDir: dirname(args.path),
      contents: `export { default as en } from ${JSON.stringify(args.path)};\n`,
    }));
    b.onEnd((result) => {
      if (result.errors.length === 0 && replaced === 0)
        throw new Error('zod no longer imports ../locales/index.js: review the english-only-zod plugin');
    });
  },
};

/**
 * Node modules a dependency loads at start for a line that almost never runs, each some hundred
 * KiB of node's own code and sources touched for good (docs/performance-log.md): sonic-boom (pino's
 * stream) requires `assert` for one check when a stream closes, and pino reads
 * `worker_threads.isMainThread` only when it makes a file destination of its own (we hand it
 * one). In the bundle, `assert` is loaded by a failing check, `worker_threads` when pino asks.
 * Each patch names the text it replaces: a new release that changed it fails the build.
 */
const PATCHES: { file: RegExp; replace: [string, string][] }[] = [
  {
    file: /[\\/]node_modules[\\/]pino[\\/]lib[\\/]tools\.js$/,
    replace: [
      [
        "const { isMainThread } = require('worker_threads')",
        "const workerThreads = { get isMainThread () { return require('worker_threads').isMainThread } }",
      ],
      ['if (!opts.sync && isMainThread) {', 'if (!opts.sync && workerThreads.isMainThread) {'],
    ],
  },
  {
    file: /[\\/]node_modules[\\/]sonic-boom[\\/]index\.js$/,
    replace: [
      [
        "const assert = require('assert')",
        "const assert = (value, message) => { if (!value) require('assert')(value, message) }",
      ],
    ],
  },
];

const patches: Plugin = {
  name: 'patches',
  setup(b) {
    for (const patch of PATCHES)
      b.onLoad({ filter: patch.file }, (args) => {
        let text = readFileSync(args.path, 'utf8');
        for (const [from, to] of patch.replace) {
          if (text.split(from).length !== 2) throw new Error(`${args.path}: expected "${from}" once, to patch`);
          text = text.replace(from, to);
        }
        return { loader: 'js', contents: text };
      });
  },
};

/** What both builds share: dependencies bundled, node's own modules and the externals left out. */
const COMMON = {
  absWorkingDir: root,
  outdir: out,
  allowOverwrite: true,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunks/[name]-[hash]',
  // Smaller source to hold and parse; names kept, so stack traces still read.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  // Native addons (optional, per board), the pretty log stream (required at run time, only
  // for `format: pretty`) and the fallback for systems without /proc stay in node_modules.
  external: ['i2c-bus', 'onoff', 'pino-pretty', 'systeminformation'],
  plugins: [lazyModules, quietDebug, patches, englishOnlyZod],
  // readable-stream is node's own stream module, copied for browsers: node's is loaded anyway.
  alias: { 'readable-stream': 'node:stream' },
  logLevel: 'warning',
  metafile: true,
} as const satisfies BuildOptions;

/** The library (package.json's `exports`): ES modules, as its importers expect. */
async function buildLibrary(): Promise<Metafile> {
  const result = await build({
    ...COMMON,
    entryPoints: [join(out, 'index.js')],
    // CommonJS dependencies call require(): an ES module has none of its own.
    banner: {
      js:
        "import { createRequire as __tpmCreateRequire } from 'node:module'; const require = " +
        '__tpmCreateRequire(import.meta.url);',
    },
  });
  return result.metafile;
}

/**
 * The command line (the `bin`, every service and command) and its config child, as CommonJS:
 * node's ES module loader, which a program of ES modules keeps loaded for good, costs a process
 * about 1.9 MiB, and the bridge and the agent share their nodes with the workloads
 * (docs/performance-log.md, "Where the memory went"). esbuild splits code into chunks loaded on
 * first use only for ES modules, so this build splits as ES modules in memory, then turns each
 * output into CommonJS on its own: static imports become require() at load, dynamic imports a
 * require() when that line runs (still one chunk per path, loaded only where used). The outputs
 * are .cjs files, as the package is `"type": "module"`.
 */
async function buildCommandLine(): Promise<Metafile> {
  const result = await build({
    ...COMMON,
    entryPoints: [join(out, 'cli.js'), join(out, 'config/load-child.js')],
    outExtension: { '.js': '.cjs' },
    write: false,
  });
  for (const file of result.outputFiles) {
    if (!file.path.endsWith('.cjs')) continue;
    mkdirSync(dirname(file.path), { recursive: true });
    writeFileSync(file.path, await toCommonJs(file.text, file.path));
  }
  // The compiled ES module entries (tsc's) are not what ships: only the .cjs ones remain to run.
  for (const entry of ['cli.js', 'config/load-child.js']) rmSync(join(out, entry));
  return result.metafile;
}

/** One output of the split build as CommonJS, its hashbang line kept first. */
async function toCommonJs(text: string, path: string): Promise<string> {
  const hashbang = text.startsWith('#!') ? text.slice(0, text.indexOf('\n') + 1) : '';
  const code = text.slice(hashbang.length);
  const usesMeta = code.includes('import.meta');
  const result = await transform(code, {
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    // import() of a chunk or an external becomes require() (else node would load its ES module
    // loader for it); import.meta.url, which CommonJS has not, comes from the file's own path.
    supported: { 'dynamic-import': false },
    define: usesMeta ? { 'import.meta.url': '__tpmImportMetaUrl' } : {},
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: 'warning',
    sourcefile: path,
  });
  const meta = usesMeta ? 'const __tpmImportMetaUrl=require("node:url").pathToFileURL(__filename).href;' : '';
  // The ES modules were strict code: CommonJS is not unless it says so.
  return `${hashbang}"use strict";${meta}${result.code}`;
}

async function main(): Promise<void> {
  rmSync(join(out, 'chunks'), { recursive: true, force: true });
  const library = await buildLibrary();
  const commandLine = await buildCommandLine();
  // Which module went into which file, and which file imports which how: read by the tests
  // (test/integration/bundle.test.ts) to check what each role loads. Not shipped.
  const metafile = {
    inputs: { ...library.inputs, ...commandLine.inputs },
    outputs: { ...library.outputs, ...commandLine.outputs },
  };
  writeFileSync(join(root, 'dist/bundle-meta.json'), JSON.stringify(metafile));
  const outputs = Object.entries(metafile.outputs).filter(([file]) => /\.c?js$/.test(file));
  const bytes = outputs.reduce((sum, [, o]) => sum + o.bytes, 0);
  process.stdout.write(
    `bundle: ${outputs.length} files, ${Math.round(bytes / 1024)} KiB in dist/src ` +
      '(cli.cjs and chunks/*.cjs: the command line; index.js and chunks/*.js: the library)\n',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bundle failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
