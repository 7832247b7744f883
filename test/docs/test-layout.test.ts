import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from dist/test/docs/ (compiled). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Folders of test/ that are not one module of src/: whole-product tests, tools and shared helpers. */
const CROSS_CUTTING: Record<string, string> = {
  addon: 'the Home Assistant add-on (addon/ and its start script)',
  bench: 'npm run bench (not part of the tests)',
  docs: 'the docs, the citations and the layering',
  e2e: 'the built CLIs end to end',
  faults: 'faults as users meet them (brokers killed, connections cut)',
  fixtures: 'data the tests read',
  integration: 'the bridge with real brokers, the package and the shipped files',
  kubernetes: 'config/kubernetes (the drain script)',
  support: 'helpers shared by the tests',
};

const folders = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();

/** docs/development.md ("Layout"): test/ mirrors src/, so the tests of a module are found beside its name. */
describe('test/ mirrors src/', () => {
  it('every folder of test/ is a folder of src/ or a named cross-cutting one', () => {
    const sources = new Set(folders(join(ROOT, 'src')));
    const strays = folders(join(ROOT, 'test')).filter((name) => !sources.has(name) && !(name in CROSS_CUTTING));
    assert.deepEqual(strays, [], `test folders with no src/ folder of that name: ${strays.join(', ')}`);
  });

  it('every folder of src/ with code has tests in the test/ folder of the same name', () => {
    const tests = new Set(folders(join(ROOT, 'test')));
    const untested = folders(join(ROOT, 'src')).filter((name) => !tests.has(name));
    assert.deepEqual(untested, [], `src folders without a test folder: ${untested.join(', ')}`);
  });
});
