import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addonLoadProblem } from '../../src/board/native-addon.js';

describe('addonLoadProblem', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tpm-addon-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('says an addon was never compiled where `bindings` lists every path it tried', () => {
    // A package laid out as i2c-bus is, installed without its build: `bindings` itself fails.
    const bindings = createRequire(import.meta.url).resolve('bindings');
    const pkg = join(dir, 'node_modules', 'uncompiled');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'uncompiled', main: 'index.js' }));
    writeFileSync(join(pkg, 'index.js'), `module.exports = require(${JSON.stringify(bindings)})('uncompiled.node');`);
    let thrown: unknown;
    try {
      createRequire(join(dir, 'x.js'))('uncompiled');
    } catch (error) {
      thrown = error;
    }
    assert.ok(thrown instanceof Error, 'loading the uncompiled package fails');
    assert.match(thrown.message, /^Could not locate the bindings file/);
    assert.equal(
      addonLoadProblem(thrown),
      'it is installed but was never compiled: npm skipped its install script, or the build failed',
    );
  });

  it('passes any other reason on as it is', () => {
    assert.equal(addonLoadProblem(new Error('Cannot find module i2c-bus')), 'Cannot find module i2c-bus');
    assert.equal(
      addonLoadProblem(new Error('/usr/lib/i2c.node: wrong ELF class: ELFCLASS64')),
      '/usr/lib/i2c.node: wrong ELF class: ELFCLASS64',
    );
  });
});
