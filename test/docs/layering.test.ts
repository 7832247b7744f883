import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from dist/test/docs/ (compiled). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const DEPCRUISE = join(ROOT, 'node_modules', '.bin', 'depcruise');

function depcruise(cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(DEPCRUISE, ['src', '--config', CONFIG, '--output-type', 'err'], { cwd }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

/**
 * The layering of docs/ARCHITECTURE.md ("Layering rules"), checked the way `npm run lint` does:
 * the repository holds to it, and each rule flags a breach in a small tree made for the test.
 */
describe('layering (dependency-cruiser)', function () {
  this.timeout(60_000);

  it('src/ breaks no rule: no arrow against the layers, no import circle', async () => {
    const { code, output } = await depcruise(ROOT);
    assert.equal(code, 0, output);
    assert.match(output, /no dependency violations found/);
  });

  it('flags each kind of breach, type-only imports included, and lets allowed imports be', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tpm-layering-'));
    try {
      const files: Record<string, string> = {
        'tsconfig.json': JSON.stringify({
          compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true },
        }),
        'src/util/clock.ts': "import type { Config } from '../config/schema.js';\nexport type Clock = Config;\n",
        'src/config/schema.ts':
          "import type { Topics } from '../mqtt/topics.js';\nexport type Config = { t?: Topics };\n",
        'src/mqtt/topics.ts': 'export type Topics = string;\n',
        'src/board/types.ts':
          "import type { Topics } from '../mqtt/topics.js';\nexport type BoardInfo = { t: Topics };\n",
        'src/homeassistant/discovery.ts':
          "import type { BoardInfo } from '../board/types.js';\nexport type D = BoardInfo;\n",
        'src/power/service.ts': "import { X } from '../mqtt/client.js';\nexport const P = X;\n",
        'src/mqtt/client.ts': 'export const X = 1;\n',
        'src/agent/run.ts': "import type { BoardInfo } from '../board/types.js';\nexport type R = BoardInfo;\n",
        'src/app/bridge.ts': "import type { E } from './extensions.js';\nexport type B = { e?: E };\n",
        'src/app/poller.ts': "import type { B } from './bridge.js';\nexport type P = { b?: B };\n",
        'src/app/extensions.ts':
          "import type { B } from './bridge.js';\nimport type { BoardInfo } from '../board/types.js';\nexport " +
          'type E = { b?: B; i?: BoardInfo };\n',
      };
      for (const [path, text] of Object.entries(files)) {
        await mkdir(dirname(join(dir, path)), { recursive: true });
        await writeFile(join(dir, path), text);
      }
      const { code, output } = await depcruise(dir);
      assert.notEqual(code, 0, output);
      const flagged = (rule: string, from: string, to: string): boolean =>
        output.split('\n').some((line) => line.includes(`${rule}: src/${from} → src/${to}`));
      assert.ok(flagged('util-imports-nothing', 'util/clock.ts', 'config/schema.ts'), output);
      assert.ok(flagged('config-below-mqtt-and-board', 'config/schema.ts', 'mqtt/topics.ts'), output);
      assert.ok(flagged('board-below-the-app', 'board/types.ts', 'mqtt/topics.ts'), output);
      assert.ok(flagged('homeassistant-without-board', 'homeassistant/discovery.ts', 'board/types.ts'), output);
      assert.ok(flagged('power-without-mqtt', 'power/service.ts', 'mqtt/client.ts'), output);
      assert.ok(flagged('agent-without-board', 'agent/run.ts', 'board/types.ts'), output);
      assert.match(output, /no-circular: src\/app\/(bridge|extensions)\.ts/);
      assert.ok(flagged('app-parts-below-the-root', 'app/poller.ts', 'app/bridge.ts'), output);
      // app/ may use board/: no rule names that arrow.
      assert.ok(!output.includes('src/app/extensions.ts → src/board/types.ts'), output);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
