import assert from 'node:assert/strict';
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
  });
});
