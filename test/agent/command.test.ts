import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { parseAgentCommand, spawnRunner } from '../../src/agent/command.js';

describe('agent commands', () => {
  it('takes SHUTDOWN and REBOOT in any case, surrounding white space ignored', () => {
    assert.equal(parseAgentCommand(' shutdown\n'), 'shutdown');
    assert.equal(parseAgentCommand('ReBoot'), 'reboot');
  });

  it('takes nothing else', () => {
    for (const payload of ['', 'OFF', 'SHUTDOWN now', 'SHUTDOWN;reboot', '{"action":"shutdown"}']) {
      assert.equal(parseAgentCommand(payload), undefined, payload);
    }
  });

  describe('the real runner', () => {
    const run = spawnRunner(5000);

    it('runs an argv without a shell: shell syntax stays a literal argument', async () => {
      const result = await run([
        process.execPath,
        '-e',
        'process.stderr.write(process.argv[1]); process.exit(3)',
        '$HOME; echo `id`',
      ]);
      assert.equal(result.code, 3);
      assert.equal(result.stderr, '$HOME; echo `id`');
    });

    it("keeps the end of a long stderr, where a script's conclusion is", async () => {
      // turingpi-drain wrote 5.5 KB of kubectl's retries before "not powering off"; the first
      // 4 KiB were kept, and the report lost the reason.
      const result = await run([
        process.execPath,
        '-e',
        "process.stderr.write('will retry after 5s\\n'.repeat(400)); " +
          "process.stderr.write('the drain failed: not powering off\\n'); process.exit(1)",
      ]);
      assert.equal(result.code, 1);
      assert.ok(result.stderr.endsWith('the drain failed: not powering off'), result.stderr.slice(-80));
      assert.ok(result.stderr.length <= 4096);
    });

    it('reports success as code 0', async () => {
      assert.deepEqual(await run([process.execPath, '-e', '']), { code: 0, stderr: '' });
    });

    it('rejects when the command cannot be spawned', async () => {
      await assert.rejects(run(['/nonexistent/turingpi-poweroff']), /ENOENT/);
    });

    it('kills a command that outlives its time-out', async () => {
      const result = await spawnRunner(200)([process.execPath, '-e', 'setTimeout(() => {}, 10000)']);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /SIGKILL/);
    });

    it('kills the processes a timed-out command started too (a drain script and its kubectl)', async () => {
      // The script starts a child that would go on (evicting pods, or powering off later) after
      // the agent has said the command failed and gone back online.
      const script = 'sleep 30 & echo $! >&2; wait';
      const started = Date.now();
      const result = await spawnRunner(300)(['/bin/sh', '-c', script]);
      assert.ok(Date.now() - started < 5000, 'the run ended at its time-out');
      const pid = Number(/\d+/.exec(result.stderr)?.[0]);
      assert.ok(pid > 0, result.stderr);
      await new Promise((resolve) => setTimeout(resolve, 100));
      // Gone, or a zombie left to an init that reaps slowly (this test machine's).
      const state = existsSync(`/proc/${pid}/stat`)
        ? readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0]
        : 'gone';
      assert.ok(state === 'gone' || state === 'Z', `the command's child ${pid} is still running (state ${state})`);
    });
  });
});
