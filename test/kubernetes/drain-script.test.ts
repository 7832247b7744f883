import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../support/cli.js';
import { repoPath } from '../support/paths.js';

/**
 * config/kubernetes/turingpi-drain, the agent's shutdown command on a Kubernetes node, run with a
 * fake `kubectl` and a fake `systemctl` first on PATH. The fakes record their argv (one line each)
 * and keep the node's state (unschedulable, the turingpi-drain annotation) in files, so the script
 * sees what the API server would show; FAKE_FAIL / FAKE_HANG make a verb fail or hang.
 */
const SCRIPT = repoPath('config/kubernetes/turingpi-drain');

const FAKE_KUBECTL = `#!/usr/bin/env bash
printf 'kubectl %s\\n' "$*" >> "$FAKE_DIR/calls"
verb=
for a in "$@"; do case "$a" in --*) ;; *) verb=$a; break ;; esac; done
[ "$verb" = "\${FAKE_HANG:-}" ] && exec sleep 600
[ "$verb" = "\${FAKE_FAIL:-}" ] && { echo "error: fake $verb failure" >&2; exit 1; }
case "$verb" in
  get)
    u=$(cat "$FAKE_DIR/unschedulable" 2>/dev/null); m=$(cat "$FAKE_DIR/marker" 2>/dev/null)
    printf '%s %s' "$u" "$m" ;;
  patch)
    for a in "$@"; do case "$a" in
      *'"unschedulable":true'*) echo true > "$FAKE_DIR/unschedulable" ;;
      *'"unschedulable":null'*) : > "$FAKE_DIR/unschedulable" ;;
    esac; case "$a" in
      *'"turingpi-mqtt/cordoned-by":"turingpi-drain"'*) echo turingpi-drain > "$FAKE_DIR/marker" ;;
      *'"turingpi-mqtt/cordoned-by":null'*) : > "$FAKE_DIR/marker" ;;
    esac; done ;;
  drain) [ -n "\${FAKE_DRAIN_SECONDS:-}" ] && sleep "$FAKE_DRAIN_SECONDS"; echo "node drained" ;;
esac
exit 0
`;

const FAKE_SYSTEMCTL = `#!/usr/bin/env bash
printf 'systemctl %s\\n' "$*" >> "$FAKE_DIR/calls"
[ -n "\${FAKE_SYSTEMCTL_REFUSES:-}" ] && { echo "Interactive authentication required." >&2; exit 1; }
exit 0
`;

/** The host name as a Raspberry Pi's may be written: capitals the kubelet lowers. */
const FAKE_HOSTNAME = `#!/usr/bin/env bash
echo Node3
`;

interface Run {
  code: number | null;
  stderr: string;
  calls: string[];
  seconds: number;
  dir: string;
}

function setUp(state: { unschedulable?: boolean; marker?: boolean } = {}): string {
  const dir = tempDir('tpm-drain-');
  mkdirSync(path.join(dir, 'bin'));
  for (const [name, text] of [
    ['kubectl', FAKE_KUBECTL],
    ['systemctl', FAKE_SYSTEMCTL],
    ['hostname', FAKE_HOSTNAME],
  ] as const) {
    writeFileSync(path.join(dir, 'bin', name), text);
    chmodSync(path.join(dir, 'bin', name), 0o755);
  }
  writeFileSync(path.join(dir, 'unschedulable'), state.unschedulable ? 'true' : '');
  writeFileSync(path.join(dir, 'marker'), state.marker ? 'turingpi-drain' : '');
  writeFileSync(path.join(dir, 'calls'), '');
  return dir;
}

function run(args: string[], env: Record<string, string> = {}, dir = setUp()): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      SCRIPT,
      args,
      {
        env: {
          PATH: `${path.join(dir, 'bin')}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
          FAKE_DIR: dir,
          TURINGPI_DRAIN_NODE: 'node3',
          ...env,
        },
        timeout: 120_000,
      },
      (error, _stdout, stderr) => {
        const calls = existsSync(path.join(dir, 'calls'))
          ? readFileSync(path.join(dir, 'calls'), 'utf8').split('\n').filter(Boolean)
          : [];
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : null) : 0,
          stderr,
          calls,
          seconds: (Date.now() - started) / 1000,
          dir,
        });
      },
    );
  });
}

/** "kubectl drain", "systemctl poweroff": the command and its first word that is not a --flag. */
const verbs = (r: Run): string[] =>
  r.calls.map((c) => {
    const [command, ...words] = c.split(' ');
    return `${command} ${words.find((w) => !w.startsWith('--')) ?? ''}`;
  });
const state = (dir: string): { unschedulable: string; marker: string } => ({
  unschedulable: readFileSync(path.join(dir, 'unschedulable'), 'utf8').trim(),
  marker: readFileSync(path.join(dir, 'marker'), 'utf8').trim(),
});

describe('config/kubernetes/turingpi-drain with a fake kubectl', function () {
  this.timeout(60_000);

  it('poweroff: reads the node, cordons and marks it in one patch, drains it, then systemctl poweroff', async () => {
    const r = await run(['poweroff']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(verbs(r), ['kubectl get', 'kubectl patch', 'kubectl drain', 'systemctl poweroff']);
    assert.match(
      r.calls[1] ?? '',
      /patch node node3 --type=merge -p .*"unschedulable":true.*"turingpi-mqtt\/cordoned-by":"turingpi-drain"/,
    );
    assert.match(
      r.calls[2] ?? '',
      /^kubectl --request-timeout=10s drain node3 --ignore-daemonsets --delete-emptydir-data --timeout=\d+s$/,
    );
    assert.deepEqual(state(r.dir), { unschedulable: 'true', marker: 'turingpi-drain' });
  });

  it('reboot ends with systemctl reboot', async () => {
    const r = await run(['reboot']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.calls.at(-1), 'systemctl reboot');
  });

  it(
    "gives the drain what is left of TURINGPI_DRAIN_TIMEOUT after the 15 s kept for the cordon's undo and the " +
      'poweroff',
    async () => {
      const r = await run(['poweroff'], { TURINGPI_DRAIN_TIMEOUT: '100' });
      const seconds = Number(/--timeout=(\d+)s/.exec(r.calls.find((c) => c.includes(' drain ')) ?? '')?.[1]);
      assert.ok(seconds >= 80 && seconds <= 85, `drain --timeout=${seconds}s`);
      // Every call is bounded per request as well.
      for (const call of r.calls.filter((c) => c.startsWith('kubectl'))) assert.match(call, /--request-timeout=10s/);
    },
  );

  it('a drain that fails: exit 1, no poweroff, and its own cordon taken back', async () => {
    const r = await run(['poweroff'], { FAKE_FAIL: 'drain' });
    assert.equal(r.code, 1);
    assert.deepEqual(verbs(r), ['kubectl get', 'kubectl patch', 'kubectl drain', 'kubectl patch']);
    assert.ok(!r.calls.some((c) => c.startsWith('systemctl')), 'no poweroff after a failed drain');
    assert.deepEqual(state(r.dir), { unschedulable: '', marker: '' });
    assert.match(r.stderr, /drain of node node3 failed or timed out: not powering off/);
  });

  it('a power-off refused after the drain: exit 1, and the cordon taken back (the node keeps running)', async () => {
    // Without the polkit rule: the node used to stay cordoned and empty until someone noticed.
    const r = await run(['poweroff'], { FAKE_SYSTEMCTL_REFUSES: '1' });
    assert.equal(r.code, 1);
    assert.deepEqual(verbs(r), [
      'kubectl get',
      'kubectl patch',
      'kubectl drain',
      'systemctl poweroff',
      'kubectl patch',
    ]);
    assert.deepEqual(state(r.dir), { unschedulable: '', marker: '' });
    assert.match(r.stderr, /systemctl poweroff failed: node node3 keeps running/);
  });

  it('without TURINGPI_DRAIN_NODE, the host name in lower case, as the kubelet names its node', async () => {
    const r = await run(['poweroff'], { TURINGPI_DRAIN_NODE: '' });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.calls[0]?.includes('get node node3 '), r.calls[0]);
  });

  it('a drain that hangs is killed within the budget: exit 1, no poweroff, well inside the agent limit', async () => {
    const r = await run(['poweroff'], { FAKE_HANG: 'drain', TURINGPI_DRAIN_TIMEOUT: '24' });
    assert.equal(r.code, 1);
    assert.ok(!r.calls.some((c) => c.startsWith('systemctl')));
    assert.ok(r.seconds < 24, `took ${r.seconds} s of a 24 s budget`);
    assert.deepEqual(state(r.dir), { unschedulable: '', marker: '' });
  });

  it('an API server that hangs: the first call is cut after 10 s, exit 3, nothing changed, no poweroff', async () => {
    const r = await run(['poweroff'], { FAKE_HANG: 'get' });
    assert.equal(r.code, 3);
    assert.deepEqual(verbs(r), ['kubectl get']);
    assert.ok(r.seconds < 15, `took ${r.seconds} s`);
    assert.match(r.stderr, /cannot reach the Kubernetes API/);
  });

  it('a node someone else cordoned: drained and powered off, but not marked, so never uncordoned at boot', async () => {
    const dir = setUp({ unschedulable: true });
    const r = await run(['poweroff'], {}, dir);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(verbs(r), ['kubectl get', 'kubectl drain', 'systemctl poweroff']);
    assert.deepEqual(state(dir), { unschedulable: 'true', marker: '' });
    const boot = await run(['uncordon-at-boot'], {}, dir);
    assert.equal(boot.code, 0);
    assert.deepEqual(verbs(boot).slice(-1), ['kubectl get']);
    assert.deepEqual(state(dir), { unschedulable: 'true', marker: '' });
  });

  it('a failed drain of a node someone else cordoned leaves that cordon alone', async () => {
    const dir = setUp({ unschedulable: true });
    const r = await run(['poweroff'], { FAKE_FAIL: 'drain' }, dir);
    assert.equal(r.code, 1);
    assert.deepEqual(verbs(r), ['kubectl get', 'kubectl drain']);
    assert.deepEqual(state(dir), { unschedulable: 'true', marker: '' });
  });

  it('uncordon-at-boot: uncordons (and unmarks) a node that turingpi-drain cordoned', async () => {
    const dir = setUp();
    await run(['poweroff'], {}, dir);
    const boot = await run(['uncordon-at-boot'], {}, dir);
    assert.equal(boot.code, 0, boot.stderr);
    assert.deepEqual(verbs(boot).slice(-2), ['kubectl get', 'kubectl patch']);
    assert.deepEqual(state(dir), { unschedulable: '', marker: '' });
    // A second boot: nothing left to do.
    const again = await run(['uncordon-at-boot'], {}, dir);
    assert.deepEqual(verbs(again).slice(-1), ['kubectl get']);
  });

  it('uncordon-at-boot waits for the API server, and gives up after TURINGPI_DRAIN_BOOT_WAIT', async () => {
    const r = await run(
      ['uncordon-at-boot'],
      { FAKE_FAIL: 'get', TURINGPI_DRAIN_BOOT_WAIT: '6' },
      setUp({ unschedulable: true, marker: true }),
    );
    assert.equal(r.code, 3);
    assert.ok(verbs(r).filter((v) => v === 'kubectl get').length >= 2, 'it asked more than once');
    assert.ok(!verbs(r).includes('kubectl patch'));
  });

  it('refuses an unknown action or a budget that is not whole seconds, and touches nothing', async () => {
    const unknown = await run(['halt']);
    assert.equal(unknown.code, 2);
    const budget = await run(['poweroff'], { TURINGPI_DRAIN_TIMEOUT: '2m' });
    assert.equal(budget.code, 2);
    assert.deepEqual([...unknown.calls, ...budget.calls], []);
  });
});
