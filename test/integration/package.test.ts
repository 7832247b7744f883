import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize } from 'node:path';
import { repoPath, repoRoot } from '../support/paths.js';

/**
 * What `npm pack` puts in the package users install globally (issue 7): the built program, the
 * example configs and units, the README; no tests, no sources maps, no secrets. Asked of npm
 * itself (`npm pack --dry-run --json`), so the `files` list of package.json is what is checked,
 * not a copy of it. `--ignore-scripts`: `npm test` has just built dist/ (prepack would again).
 */
interface PackedFile {
  path: string;
  mode: number;
}

function packList(): Promise<PackedFile[]> {
  return new Promise((resolve, reject) => {
    execFile(
      'npm',
      ['pack', '--dry-run', '--json', '--ignore-scripts'],
      { cwd: repoRoot(), maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`npm pack --dry-run failed: ${stderr || error.message}`));
          return;
        }
        const [packed] = JSON.parse(stdout) as { files: PackedFile[] }[];
        resolve(packed?.files ?? []);
      },
    );
  });
}

describe('the npm package', function () {
  this.timeout(60_000);
  let files: PackedFile[] = [];
  let paths: string[] = [];

  before(async () => {
    files = await packList();
    paths = files.map((f) => f.path);
  });

  it('holds the command, the library with its types, and what the README tells users to copy', () => {
    const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as {
      bin: Record<string, string>;
      exports: Record<string, { types: string; import: string }>;
    };
    const needed = [
      ...Object.values(pkg.bin),
      pkg.exports['.']?.import ?? 'exports["."].import missing',
      pkg.exports['.']?.types ?? 'exports["."].types missing',
      'README.md',
      'config/schema.json',
      'config/tpi1.yaml',
      'config/tpi2.yaml',
      'config/agent.yaml',
      'config/systemd/turingpi-mqtt-bridge.service',
      'config/systemd/turingpi-mqtt-agent.service',
      ...readdirSync(repoPath('docs')).map((name) => `docs/${name}`),
      'config/kubernetes/turingpi-drain',
      'config/kubernetes/rbac.yaml',
      'config/kubernetes/turingpi-drain-uncordon.service',
      'config/kubernetes/turingpi-mqtt-agent.service.d/kubernetes.conf',
      'config/systemd/turingpi-mqtt-bridge.service.d/tpi2.conf',
      'config/systemd/turingpi-mqtt-bridge.service.d/gpio.conf',
    ].map((p) => p.replace(/^\.\//, ''));
    for (const path of needed) assert.ok(paths.includes(path), `${path} is not in the package`);
  });

  it('holds the MIT licence that package.json names', () => {
    const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { license: string };
    assert.equal(pkg.license, 'MIT');
    assert.ok(paths.includes('LICENSE'), 'LICENSE is not in the package');
    const licence = readFileSync(repoPath('LICENSE'), 'utf8');
    assert.match(licence, /^MIT License\n\nCopyright \(c\) 2026 the turingpi-mqtt contributors\n/);
  });

  it('keeps the drain script executable', () => {
    const script = files.find((f) => f.path === 'config/kubernetes/turingpi-drain');
    assert.ok(script, 'config/kubernetes/turingpi-drain is not in the package');
    assert.equal(script.mode & 0o111, 0o111, `mode ${script.mode.toString(8)}`);
  });

  it("holds the documents the systemd units' Documentation= lines point at", () => {
    for (const unit of ['turingpi-mqtt-bridge.service', 'turingpi-mqtt-agent.service']) {
      const text = readFileSync(repoPath('config', 'systemd', unit), 'utf8');
      const urls = [...text.matchAll(/^Documentation=(.*)$/gm)].flatMap((m) => (m[1] ?? '').split(/\s+/));
      assert.ok(urls.length > 0, `${unit} has no Documentation=`);
      for (const url of urls) {
        const inPackage = /\/node_modules\/turingpi-mqtt\/(.+)$/.exec(url)?.[1];
        assert.ok(inPackage, `${unit}: ${url} is not a file of the installed package`);
        assert.ok(paths.includes(inPackage), `${unit}: ${inPackage} is not in the package`);
      }
    }
  });

  it('leaves out tests, sources, source maps, local state and anything that looks like a secret', () => {
    const unwanted = [
      /^test\//,
      /^dist\/test\//,
      /^src\//,
      /\.map$/,
      /^\.ci\//,
      /^docker\//,
      /^bench-results\//,
      /^data\//,
      /(^|\/)\.env/,
      /\.(pem|key|crt|p12)$/,
      /(^|\/)\.npmrc$/,
      /\.tgz$/,
    ];
    const found = paths.filter((p) => unwanted.some((re) => re.test(p)));
    assert.deepEqual(found, []);
  });

  it('runs the bundle (scripts/bundle.ts): only its files as JavaScript, each import packed or a dependency', () => {
    const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    // The command line as CommonJS (.cjs), the library as ES modules (.js).
    const js = paths.filter((p) => /\.c?js$/.test(p));
    const bundle = /^dist\/src\/(cli\.cjs|index\.js|config\/load-child\.cjs|chunks\/[\w-]+\.c?js)$/;
    assert.deepEqual(
      js.filter((p) => !bundle.test(p)),
      [],
      'compiled modules that the bundle replaces are not shipped',
    );
    assert.ok(
      js.some((p) => p.startsWith('dist/src/chunks/')),
      'no chunks packed',
    );
    const dependencies = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.optionalDependencies ?? {})]);
    const builtins = new Set(builtinModules);
    for (const file of js) {
      const text = readFileSync(repoPath(file), 'utf8');
      // The minified output's imports: statements (import{a}from"x"; import"x"), import("x"), require("x").
      const patterns = [
        /(?:^|[;\n])\s*(?:import|export)\b[^;"'\n]*?(?:from)?\s*["']([^"']+)["']/g,
        /\bimport\(\s*["']([^"']+)["']\s*\)/g,
        /\brequire\(\s*["']([^"']+)["']\s*\)/g,
      ];
      const specifiers = patterns.flatMap((re) => [...text.matchAll(re)].map((m) => m[1] as string));
      for (const spec of specifiers) {
        if (spec.startsWith('.')) {
          const target = normalize(join(dirname(file), spec));
          assert.ok(paths.includes(target), `${file} imports ${spec}, which is not in the package`);
          continue;
        }
        const name = spec.replace(/^node:/, '').startsWith('@')
          ? spec.split('/').slice(0, 2).join('/')
          : (spec.split('/')[0] ?? spec);
        assert.ok(
          builtins.has(spec.replace(/^node:/, '')) || builtins.has(name) || dependencies.has(name),
          `${file} imports ${spec}: neither node's nor a dependency`,
        );
      }
    }
  });

  it('has no password written in its example configs: only ${VARIABLE} placeholders', () => {
    const configs = paths.filter((p) => /^config\/.*\.ya?ml$/.test(p));
    assert.ok(configs.length >= 4, `only ${configs.length} example configs packed`);
    for (const file of configs) {
      const text = readFileSync(repoPath(file), 'utf8');
      for (const line of text.split('\n')) {
        const match = /^\s*(password|token|api_key)\s*:\s*(\S+)/.exec(line.replace(/#.*/, ''));
        if (!match) continue;
        const value = match[2] ?? '';
        assert.ok(
          /^\$\{[A-Z0-9_]+\}$/.test(value) || value === 'null' || value === '~',
          `${file}: ${match[1]} written in clear (${line.trim()})`,
        );
      }
    }
  });
});
