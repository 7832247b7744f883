import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startAedes, type TestBroker } from '../support/aedes.js';
import { tempDir } from '../support/cli.js';
import { repoPath, repoRoot } from '../support/paths.js';

/**
 * docs/library.md says every program on it runs as it is: each ```js block is run by node, as
 * a program of its own in a folder where `turingpi-mqtt` is this repository (its built
 * library), with MQTT_URL naming a broker. One that says "Ctrl-C stops it" gets SIGINT, and
 * must then end by itself (nothing of ours left holding it). Each must exit 0 and print its line.
 */
const programs = [...readFileSync(repoPath('docs/library.md'), 'utf8').matchAll(/^```js\n([\s\S]*?)^```$/gm)].map(
  (match) => match[1] ?? '',
);

/** What each program prints, in the order of the page: a program added to the page needs its line here. */
const PRINTS = [
  /bridge started; Ctrl-C stops it/,
  /^board simulator$/m,
  /^$/,
  /^agent online$/m,
  /^GPIO node 1 on: true$/m,
];

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runProgram(file: string, cwd: string, env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], { cwd, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!interrupted && stdout.includes('Ctrl-C stops it')) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('docs/library.md: every program runs as it is', function () {
  this.timeout(30_000);
  let dir: string;
  let broker: TestBroker;

  before(async () => {
    dir = tempDir('tpm-library-doc-');
    mkdirSync(path.join(dir, 'node_modules'));
    symlinkSync(repoRoot(), path.join(dir, 'node_modules', 'turingpi-mqtt'), 'dir');
    writeFileSync(path.join(dir, 'turingpi-mqtt.yaml'), 'board:\n  type: simulator\n');
    broker = await startAedes();
  });

  after(async () => {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds the programs, and knows what each prints', () => {
    assert.equal(programs.length, PRINTS.length);
  });

  programs.forEach((program, index) => {
    const imports = /import \{([^}]*)\}/.exec(program)?.[1]?.trim() ?? '';
    it(`program ${index + 1} (${imports})`, async () => {
      const file = path.join(dir, `program-${index + 1}.mjs`);
      writeFileSync(file, program);
      const run = await runProgram(file, dir, { MQTT_URL: broker.url });
      const shown = `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
      assert.deepEqual([run.code, run.signal], [0, null], shown);
      assert.match(run.stdout, PRINTS[index] ?? /never/, shown);
    });
  });
});
