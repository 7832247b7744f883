import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../support/cli.js';
import { freePort } from '../support/ports.js';

/**
 * Without a `logger` dep, the bridge and the agent both log as the config's `log` section says,
 * as the CLI does (docs/library.md): the agent was silent while the bridge logged. Each runs in
 * a process of its own, whose standard output is read: a start against a broker that refuses
 * connections (its first warning), then a stop.
 */
const INDEX = fileURLToPath(new URL('../../src/index.js', import.meta.url));

const PROGRAM = `
const lib = await import(process.env.TPM_INDEX);
const { ROLE, LEVEL, PORT, STATE } = process.env;
const config = lib.parseConfig({
  mqtt: { url: 'mqtt://127.0.0.1:' + PORT },
  board: { type: 'tpi1' },
  state_dir: STATE,
  log: { level: LEVEL, format: 'json' },
  ...(ROLE === 'agent' ? { agent: { node: 3 } } : {}),
});
const app = ROLE === 'agent'
  ? lib.createAgent(config)
  : lib.createBridge(config, { i2cBus: lib.createSimulatedTpi1({ clock: lib.systemClock }).bus });
const started = app.start().catch(() => undefined);
await new Promise((resolve) => setTimeout(resolve, 500));
await app.stop();
await started;
`;

function run(role: 'bridge' | 'agent', level: string, port: number, state: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', PROGRAM],
      { env: { ...process.env, TPM_INDEX: INDEX, ROLE: role, LEVEL: level, PORT: String(port), STATE: state } },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
}

function lines(stdout: string): { level: number; msg: string; role?: string }[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string; role?: string });
}

describe('the default logger (no logger dep) follows the config', function () {
  this.timeout(20_000);
  let dir: string;

  beforeEach(() => (dir = tempDir()));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  for (const role of ['bridge', 'agent'] as const) {
    it(`${role}: logs at log.level in log.format to standard output`, async () => {
      const logged = lines(await run(role, 'info', await freePort(), path.join(dir, 'state')));
      assert.ok(
        logged.some((line) => line.msg.includes('not connected to')),
        JSON.stringify(logged),
      );
      if (role === 'agent') assert.ok(logged.every((line) => line.role === 'agent'));
    });

    it(`${role}: writes nothing with log.level silent`, async () => {
      assert.equal(await run(role, 'silent', await freePort(), path.join(dir, 'state')), '');
    });
  }
});
