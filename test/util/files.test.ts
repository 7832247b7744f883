import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/cli.js';
import {
  access,
  chmod,
  close,
  constants,
  fsync,
  mkdir,
  open,
  readFile,
  readdir,
  rename,
  rm,
  writeFile,
} from '../../src/util/files.js';

describe('files: node:fs as promises, without node:fs/promises', () => {
  it('writes through a descriptor, syncs, renames, reads back and removes, as node:fs/promises does', async () => {
    const dir = join(tempDir(), 'a', 'b');
    await mkdir(dir, { recursive: true });
    const temp = join(dir, 'x.tmp');
    const fd = await open(temp, 'w', 0o600);
    try {
      await writeFile(fd, 'hello\n', 'utf8');
      await fsync(fd);
    } finally {
      await close(fd);
    }
    await rename(temp, join(dir, 'x.json'));
    assert.equal(await readFile(join(dir, 'x.json'), 'utf8'), 'hello\n');
    assert.equal(statSync(join(dir, 'x.json')).mode & 0o777, 0o600);
    await chmod(join(dir, 'x.json'), 0o640);
    assert.equal(statSync(join(dir, 'x.json')).mode & 0o777, 0o640);
    assert.deepEqual(await readdir(dir), ['x.json']);
    await access(join(dir, 'x.json'), constants.R_OK);
    await rm(join(dir, 'x.json'), { force: true });
    assert.equal(existsSync(join(dir, 'x.json')), false);
  });

  it('fails with the same errors: ENOENT with its code, a missing file removed with force is fine', async () => {
    const missing = join(tempDir(), 'none');
    await assert.rejects(readFile(missing, 'utf8'), (error: NodeJS.ErrnoException) => error.code === 'ENOENT');
    await assert.rejects(access(missing), (error: NodeJS.ErrnoException) => error.code === 'ENOENT');
    await assert.rejects(open(missing, 'r'), (error: NodeJS.ErrnoException) => error.code === 'ENOENT');
    await rm(missing, { force: true });
  });

  it("leaves node's fs/promises module unloaded (its FileHandle brings streams, readline and watchers)", () => {
    const module = new URL('../../src/util/files.js', import.meta.url).href;
    const script =
      `const files = await import(${JSON.stringify(module)});` +
      `await files.readFile(${JSON.stringify(new URL(import.meta.url).pathname)}, 'utf8');` +
      `console.log(JSON.stringify(process.moduleLoadList));`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    const loaded = JSON.parse(run.stdout) as string[];
    assert.ok(loaded.includes('NativeModule fs'), 'the list is read');
    assert.equal(loaded.includes('NativeModule fs/promises'), false);
  });
});
