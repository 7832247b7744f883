import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileDurably } from '../../src/util/durable-file.js';
import { tempDir } from '../support/cli.js';
import { watchFsync } from '../support/fsync-watch.js';

describe('writeFileDurably', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('tpm-durable-');
  });

  it('syncs the data before the rename and the directory after it', async () => {
    const file = path.join(dir, 'state.json');
    writeFileSync(file, 'old\n');
    const synced = await watchFsync(
      () => ({ newThere: readFileSync(file, 'utf8') === 'new\n' }),
      () => writeFileDurably(file, 'new\n'),
    );
    assert.deepEqual(synced, [{ newThere: false }, { newThere: true }], 'the file, then its directory');
    assert.equal(readFileSync(file, 'utf8'), 'new\n');
    assert.equal((statSync(file).mode & 0o777).toString(8), '600');
    assert.deepEqual(readdirSync(dir), ['state.json'], 'no temporary file left');
  });

  it('makes the directory when it is missing', async () => {
    const file = path.join(dir, 'a', 'b', 'state.json');
    await writeFileDurably(file, '{}\n');
    assert.equal(readFileSync(file, 'utf8'), '{}\n');
  });

  it('a failed write leaves the old file as it was and no temporary file', async () => {
    // A directory where the file should be: the rename fails.
    const file = path.join(dir, 'state.json');
    mkdirSync(file);
    writeFileSync(path.join(file, 'inside'), 'kept');
    await assert.rejects(writeFileDurably(file, 'new\n'), /EISDIR|ENOTEMPTY|EEXIST/);
    assert.deepEqual(readdirSync(dir), ['state.json']);
    assert.equal(readFileSync(path.join(file, 'inside'), 'utf8'), 'kept');
    assert.ok(existsSync(file));
  });
});
