import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonStateFile } from '../../src/state/store.js';
import { MemoryState } from '../support/memory-state.js';
import type { Logger } from '../../src/util/logger.js';

interface Counter {
  version: 1;
  count: number;
}

function validateCounter(raw: unknown): Counter {
  const value = raw as Partial<Counter> | null;
  if (!value || value.version !== 1 || typeof value.count !== 'number') throw new Error('not a counter document');
  return { version: 1, count: value.count };
}

function recordingLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const logger = {
    warn: (message: unknown) => warnings.push(String(message)),
    info: () => undefined,
    debug: () => undefined,
    error: () => undefined,
  } as unknown as Logger;
  return { logger, warnings };
}

describe('JsonStateFile', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tpm-state-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function counterFile(options: { logger?: Logger; subdir?: string } = {}): JsonStateFile<Counter> {
    return new JsonStateFile<Counter>({
      dir: options.subdir ? join(dir, options.subdir) : dir,
      name: 'counter.json',
      defaults: () => ({ version: 1, count: 0 }),
      validate: validateCounter,
      now: () => Date.UTC(2026, 2, 29, 1, 2, 3),
      ...(options.logger ? { logger: options.logger } : {}),
    });
  }

  it('gives the defaults without a warning when the file does not exist', async () => {
    const { logger, warnings } = recordingLogger();
    const result = await counterFile({ logger }).loadWithReport();
    assert.deepEqual(result, { value: { version: 1, count: 0 } });
    assert.deepEqual(warnings, []);
  });

  it('reads back what it saved, in a new instance', async () => {
    await counterFile().save({ version: 1, count: 42 });
    assert.deepEqual(await counterFile().load(), { version: 1, count: 42 });
  });

  it('creates the state directory and its parents on the first save', async () => {
    const file = counterFile({ subdir: 'a/b/c' });
    await file.save({ version: 1, count: 7 });
    assert.equal(JSON.parse(await readFile(join(dir, 'a/b/c/counter.json'), 'utf8')).count, 7);
  });

  it('keeps a corrupt file aside, reports it, and uses the defaults', async () => {
    await writeFile(join(dir, 'counter.json'), '{"version": 1, "count": "many"}');
    const { logger, warnings } = recordingLogger();
    const result = await counterFile({ logger }).loadWithReport();
    assert.deepEqual(result.value, { version: 1, count: 0 });
    const kept = 'counter.json.corrupt-2026-03-29T01-02-03-000Z';
    assert.match(result.warning ?? '', /not valid \(not a counter document\)/);
    assert.ok(result.warning?.includes(kept));
    assert.equal(warnings.length, 1);
    assert.deepEqual(await readdir(dir), [kept]);
    assert.equal(await readFile(join(dir, kept), 'utf8'), '{"version": 1, "count": "many"}');
  });

  it('treats a truncated file (a write cut short) as corrupt, without throwing', async () => {
    await writeFile(join(dir, 'counter.json'), '{"version": 1, "cou');
    const result = await counterFile().loadWithReport();
    assert.deepEqual(result.value, { version: 1, count: 0 });
    assert.match(result.warning ?? '', /is not valid \(.*JSON/);
    assert.deepEqual(await readdir(dir), ['counter.json.corrupt-2026-03-29T01-02-03-000Z']);
  });

  it('treats an empty file as corrupt', async () => {
    await writeFile(join(dir, 'counter.json'), '');
    const result = await counterFile().loadWithReport();
    assert.deepEqual(result.value, { version: 1, count: 0 });
    assert.match(result.warning ?? '', /is empty/);
  });

  it('after a corrupt file, the next save writes a good file again', async () => {
    await writeFile(join(dir, 'counter.json'), 'garbage');
    const file = counterFile();
    await file.load();
    await file.save({ version: 1, count: 3 });
    assert.deepEqual(await counterFile().load(), { version: 1, count: 3 });
  });

  it('ends with the last value when saves are started together, and leaves no temp file behind', async () => {
    const file = counterFile();
    await Promise.all(Array.from({ length: 20 }, (_, i) => file.save({ version: 1, count: i + 1 })));
    assert.deepEqual(await counterFile().load(), { version: 1, count: 20 });
    assert.deepEqual(await readdir(dir), ['counter.json']);
  });

  it('runs saves one after another, in call order', async () => {
    const file = counterFile();
    const finished: number[] = [];
    await Promise.all([1, 2, 3, 4].map((count) => file.save({ version: 1, count }).then(() => finished.push(count))));
    assert.deepEqual(finished, [1, 2, 3, 4]);
  });

  it('a failing save rejects, leaves the old file and no temp file, and later saves still work', async () => {
    const file = counterFile();
    await file.save({ version: 1, count: 1 });
    const circular: Record<string, unknown> = { version: 1 };
    circular.count = circular;
    await assert.rejects(file.save(circular as unknown as Counter));
    assert.deepEqual(await counterFile().load(), { version: 1, count: 1 });
    await file.save({ version: 1, count: 2 });
    assert.deepEqual(await counterFile().load(), { version: 1, count: 2 });
    assert.deepEqual(await readdir(dir), ['counter.json']);
  });

  it('removes its temp file when the rename fails', async () => {
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'counter.json')); // a directory where the file should go
    await assert.rejects(counterFile().save({ version: 1, count: 1 }));
    assert.deepEqual(await readdir(dir), ['counter.json']);
  });

  it('refuses a file name with a directory in it', () => {
    assert.throws(
      () => new JsonStateFile({ dir, name: '../x.json', defaults: () => 0, validate: () => 0 }),
      /plain file name/,
    );
  });

  it('refuses a file this user cannot read (another user wrote it), leaving it as it is', async function () {
    // Run once with sudo, then as the service's user: bridge.json (mode 0600) was unreadable, the
    // start used defaults and its first save replaced the file (maintenance, saved power lost).
    // Root reads anything: the child runs as root without the capabilities that let it.
    if (process.getuid?.() !== 0 || !existsSync('/usr/bin/setpriv')) return this.skip();
    const file = join(dir, 'counter.json');
    await writeFile(file, '{"version":1,"count":5}', { mode: 0o600 });
    await chown(file, 65534, 65534);
    const store = new URL('../../src/state/store.js', import.meta.url).href;
    const script =
      `const { JsonStateFile } = await import(${JSON.stringify(store)});` +
      `const file = new JsonStateFile({ dir: ${JSON.stringify(dir)}, name: 'counter.json', ` +
      `defaults: () => ({ version: 1, count: 0 }), validate: (raw) => raw });` +
      'try { console.log(JSON.stringify({ value: await file.load() })); } ' +
      'catch (error) { console.log(JSON.stringify({ code: error.code, message: error.message })); }';
    const child = spawn('/usr/bin/setpriv', [
      '--bounding-set=-dac_override,-dac_read_search',
      process.execPath,
      '--input-type=module',
      '-e',
      script,
    ]);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await new Promise((resolve) => child.once('exit', resolve));
    const said = JSON.parse(out) as { code?: string; message?: string };
    assert.equal(said.code, 'STATE', out);
    assert.match(said.message ?? '', /counter\.json cannot be read by this user .*EACCES.*chown/);
    assert.equal(await readFile(file, 'utf8'), '{"version":1,"count":5}', 'left as it was');
  });

  it("removes the temporary files a writer killed mid-write left, not a live writer's", async () => {
    // A process that has exited: its pid names no writer any more.
    const child = spawn(process.execPath, ['-e', '0']);
    const deadPid = await new Promise<number>((resolve) => child.once('exit', () => resolve(child.pid ?? 0)));
    const left = [`.counter.json.${deadPid}.1.tmp`, `.counter.json.${deadPid}.7.tmp`];
    const live = `.counter.json.${process.pid}.99.tmp`;
    const other = `.other.json.${deadPid}.1.tmp`;
    for (const name of [...left, live, other]) await writeFile(join(dir, name), '{"version":1,"count":');
    const file = new JsonStateFile<Counter>({
      dir,
      name: 'counter.json',
      defaults: () => ({ version: 1, count: 0 }),
      validate: validateCounter,
    });
    await file.save({ version: 1, count: 2 });
    assert.deepEqual(await file.load(), { version: 1, count: 2 });
    assert.deepEqual((await readdir(dir)).sort(), [live, other, 'counter.json'].sort());
  });
});

describe('MemoryState', () => {
  it('keeps a copy, so later changes to the saved object do not leak in', async () => {
    const store = new MemoryState<{ n: number }>({ n: 1 });
    const value = await store.load();
    value.n = 5;
    assert.deepEqual(await store.load(), { n: 1 });
    await store.save(value);
    value.n = 9;
    assert.deepEqual(store.peek(), { n: 5 });
    assert.equal(store.saves, 1);
  });
});
