import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { commandJournal, leftoverReason } from '../../src/agent/journal.js';
import { tempDir } from '../support/cli.js';

describe('agent command journal', () => {
  let dir: string;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps nothing without a directory', async () => {
    const journal = commandJournal(undefined, 3);
    await journal.write('shutdown', 'running');
    assert.equal(journal.file, undefined);
    assert.equal(await journal.leftover(), undefined);
  });

  it('hands a restarted agent the entry of this boot, owner-only', async () => {
    await commandJournal(dir, 3).write('reboot', 'failed', 'the reboot command exited with code 1');
    const file = path.join(dir, 'command-3.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const entry = await commandJournal(dir, 3).leftover();
    assert.equal(entry?.action, 'reboot');
    assert.equal(entry && leftoverReason(entry), 'the reboot command exited with code 1');
    assert.equal(await commandJournal(dir, 4).leftover(), undefined, 'another node slot');
  });

  it("drops an earlier boot's entry (the node was restarted since) and an unreadable one: never reported", async () => {
    const file = path.join(dir, 'command-3.json');
    await commandJournal(dir, 3).write('shutdown', 'running');
    const entry = JSON.parse(readFileSync(file, 'utf8')) as { boot: string };
    writeFileSync(file, JSON.stringify({ ...entry, boot: 'an-earlier-boot' }));
    assert.equal(await commandJournal(dir, 3).leftover(), undefined);
    assert.equal(existsSync(file), false);
    writeFileSync(file, '{"boot":');
    assert.equal(await commandJournal(dir, 3).leftover(), undefined);
    assert.equal(existsSync(file), false);
  });
});
