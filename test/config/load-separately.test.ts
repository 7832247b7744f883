import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/load.js';
import { loadConfigSeparately } from '../../src/config/load-separately.js';
import { ConfigError } from '../../src/config/problems.js';
import { repoPath } from '../support/paths.js';
import { tempDir } from '../support/cli.js';

/** The built child (the bundle's entry), as the CLI starts it. */
const CHILD = repoPath('dist/src/config/load-child.cjs');

/** The shipped examples, each with the role it is for. */
const EXAMPLES: [string, 'bridge' | 'agent'][] = [
  ['config/demo.yaml', 'bridge'],
  ['config/demo-generic.yaml', 'bridge'],
  ['config/demo-tpi2.yaml', 'bridge'],
  ['config/gpio.yaml', 'bridge'],
  ['config/tpi1.yaml', 'bridge'],
  ['config/tpi2.yaml', 'bridge'],
  ['config/agent.yaml', 'agent'],
];

describe('the config read in a child process', () => {
  const saved = { ...process.env };
  before(() => {
    // The examples take their passwords from the environment, which the child inherits.
    process.env.MQTT_PASSWORD = 'mqtt-secret';
    process.env.TPI_BMC_PASSWORD = 'bmc-secret';
  });
  after(() => {
    process.env = saved;
  });

  it('answers exactly what reading it in this process gives, for every shipped example', async function () {
    this.timeout(30_000);
    for (const [file, role] of EXAMPLES) {
      const path = repoPath(file);
      const here = await loadConfigFile(path, { role });
      const there = await loadConfigSeparately(path, role, CHILD);
      assert.deepStrictEqual(there, here, `${file} as ${role}`);
    }
  });

  it('rejects with the same problems, and a missing file with its reason', async function () {
    this.timeout(20_000);
    const bad = join(tempDir(), 'bad.yaml');
    writeFileSync(bad, 'mqtt:\n  url: 42\nboard:\n  type: tpi9\n');
    const expected = await loadConfigFile(bad, { role: 'bridge' }).then(
      () => assert.fail('the bad config loaded'),
      (error: unknown) => error as ConfigError,
    );
    await assert.rejects(loadConfigSeparately(bad, 'bridge', CHILD), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepStrictEqual(error.problems, expected.problems);
      assert.equal(error.message, expected.message);
      return true;
    });
    await assert.rejects(loadConfigSeparately(join(tempDir(), 'none.yaml'), 'agent', CHILD), /no such file/);
  });

  /** A stand-in for the child: writes `parts` to stdout one by one, `gapMs` apart, then lives `lingerMs`. */
  function fakeChild(parts: string[], gapMs: number, lingerMs: number): string {
    const script = join(tempDir(), 'fake-child.mjs');
    writeFileSync(
      script,
      `const parts = ${JSON.stringify(parts)};\n` +
        `for (const part of parts) {\n  process.stdout.write(part);\n` +
        `  await new Promise((r) => setTimeout(r, ${gapMs}));\n}\n` +
        `setTimeout(() => {}, ${lingerMs});\n`,
    );
    return script;
  }

  it('takes the answer once it is complete, not when the child has exited too', async function () {
    this.timeout(10_000);
    const answer = JSON.stringify({ ok: true, loaded: { config: { x: 1 }, warnings: [], demo: false } });
    // In two pieces, the first ending like an object does: only the whole is taken.
    const cut = answer.indexOf('}') + 1;
    const script = fakeChild([answer.slice(0, cut), answer.slice(cut)], 100, 3000);
    const t0 = Date.now();
    const loaded = await loadConfigSeparately('unused.yaml', 'agent', script);
    assert.deepStrictEqual(loaded, { config: { x: 1 }, warnings: [], demo: false });
    assert.ok(Date.now() - t0 < 2500, `took ${Date.now() - t0} ms: it waited for the child's exit`);
  });

  it('says so when the child ends without a whole answer', async function () {
    this.timeout(10_000);
    const script = fakeChild(['{"ok":true,"loaded":{'], 10, 0);
    await assert.rejects(loadConfigSeparately('unused.yaml', 'agent', script), /stopped \(exit 0\) without an answer/);
  });
});
