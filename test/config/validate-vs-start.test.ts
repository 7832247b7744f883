import assert from 'node:assert/strict';
import path from 'node:path';
import { runCli, startBridge, tempDir, writeConfig } from '../support/cli.js';
import { freePort } from '../support/ports.js';

/**
 * Issue 13, point 9: what `validate` accepts the start accepts, and what the start would refuse
 * `validate` refuses: simulate.nodes up to 1024 (it refused line 1024 at the start) and
 * board.gpio node numbers (validate took 2000, the start refused it).
 */
describe('validate and the start agree on node counts and GPIO lines', function () {
  this.timeout(40_000);

  it('a generic simulated board of 1024 nodes: valid, and it starts', async () => {
    const dir = tempDir('tpm-agree-');
    const file = writeConfig(dir, {
      mqtt: { url: 'embedded', embedded: { host: '127.0.0.1', port: await freePort() }, base_topic: 'tp' },
      board: { type: 'simulator', simulate: { model: 'generic', nodes: 1024 } },
      homeassistant: { enabled: false },
      state_dir: path.join(dir, 'state'),
      log: { level: 'info', format: 'json' },
    });
    const validated = await runCli(['validate', '-c', file]);
    assert.equal(validated.code, 0, validated.stdout + validated.stderr);
    const bridge = await startBridge(file, { timeoutMs: 30_000 });
    try {
      assert.ok(
        bridge.logLines().some((l) => /^bridge online: .*1024 nodes/.test(l.msg)),
        bridge.describe(),
      );
    } finally {
      await bridge.stop();
    }
  });

  it('a gpio node number over 1024: refused by validate, with its place', async () => {
    const dir = tempDir('tpm-agree-');
    const file = writeConfig(dir, { board: { type: 'gpio', gpio: { 1: { line: 17 }, 2000: { line: 18 } } } });
    const validated = await runCli(['validate', '-c', file]);
    assert.equal(validated.code, 2, validated.stdout + validated.stderr);
    assert.match(validated.stdout + validated.stderr, /board\.gpio\.2000: node numbers go up to 1024/);
  });

  it("an agent's file without agent.node: refused by validate as by the agent's start, with its place", async () => {
    // A newcomer's walk: validate said "valid", then the agent's unit failed to start.
    const dir = tempDir('tpm-agree-');
    const file = writeConfig(dir, {
      mqtt: { url: 'mqtt://127.0.0.1:1', base_topic: 'tp' },
      agent: { interval: '15s', shutdown_command: ['true'] },
    });
    const validated = await runCli(['validate', '-c', file]);
    assert.equal(validated.code, 2, validated.stdout + validated.stderr);
    assert.match(validated.stdout, /:5:3 agent\.node: the agent needs the number of the node it runs on/);
    const started = await runCli(['agent', '-c', file]);
    assert.equal(started.code, 2);
    assert.match(started.stdout + started.stderr, /agent\.node: the agent needs the number of the node it runs on/);
    // A bridge's file writes no agent section: valid without agent.node.
    const bridge = writeConfig(dir, { mqtt: { url: 'mqtt://127.0.0.1:1' } }, 'bridge.yaml');
    assert.equal((await runCli(['validate', '-c', bridge])).code, 0);
  });
});
