import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cliPath, tempDir, testBridgeConfig, writeConfig } from '../support/cli.js';
import { freePort } from '../support/ports.js';

/** The pids of a process's children (Linux: /proc), empty when it has none or has gone. */
function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/**
 * A service manager's stop while the bridge still reads its config (the config child runs): the
 * process must end as after any other stop, exit 0, not die of the signal. systemd sends the
 * signal to the whole control group (the config child too), a plain `kill` to the bridge alone.
 */
describe('cli: SIGTERM / SIGINT while the config is read', function () {
  this.timeout(30_000);
  if (process.platform !== 'linux') return;

  for (const [signal, target] of [
    ['SIGTERM', 'the bridge'],
    ['SIGINT', 'the bridge'],
    ['SIGTERM', 'its process group'],
  ] as const) {
    it(`${signal} to ${target}: exit 0, nothing started`, async () => {
      const dir = tempDir('tpm-signals-');
      const url = `mqtt://127.0.0.1:${await freePort()}`;
      const file = writeConfig(dir, testBridgeConfig({ dir, url, overrides: { homeassistant: { enabled: false } } }));
      const child = spawn(process.execPath, [cliPath(), '-c', file], {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, TURINGPI_DEBUG: '' },
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const pid = child.pid as number;
      try {
        const deadline = Date.now() + 10_000;
        while (children(pid).length === 0) {
          assert.ok(Date.now() < deadline, `the config child never ran\n${output}`);
          assert.equal(child.exitCode, null, `the bridge exited before reading its config\n${output}`);
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
        process.kill(target === 'the bridge' ? pid : -pid, signal);
        const exit = await exited(child);
        assert.deepEqual(exit, { code: 0, signal: null }, output);
        assert.doesNotMatch(output, /connected to MQTT|Turing Pi 1 power controller ready/);
      } finally {
        if (child.exitCode === null && child.signalCode === null) process.kill(-pid, 'SIGKILL');
      }
    });
  }
});
