import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TpmError } from '../../../src/util/errors.js';
import { FakeClock } from '../../../src/util/fake-clock.js';
import { RELEASE_WAIT_SECONDS, acquireBusLock, defaultBusLockPath } from '../../../src/board/lock.js';
import { createSimulatedTpi1 } from '../../../src/board/simulator/tpi1.js';
import { repoPath } from '../../support/paths.js';
import { driverFor } from './helpers.js';

const LOCK_MODULE = fileURLToPath(new URL('../../../src/board/lock.js', import.meta.url));
const OTHER_UID = 54_321;
/** Where the bus locks live (docs/security.md). */
const LOCK_DIRECTORY = '/run/lock/turingpi-mqtt';
/** A short wait for refusals that are the point of a test (the default wait is RELEASE_WAIT_SECONDS). */
const SHORT_WAIT = { waitSeconds: 0.2 };

/**
 * The lock module where OTHER_UID can read it. The checkout may sit in a folder only its owner can
 * enter (CI clones into `mktemp -d`, mode 0700), so the compiled src/ is copied to a folder open
 * to all, with a package.json that keeps its .js files ES modules.
 */
function lockModuleForAnyUser(): { module: string; remove: () => void } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'tpm-lock-module-'));
  cpSync(path.dirname(path.dirname(LOCK_MODULE)), path.join(root, 'src'), { recursive: true });
  writeFileSync(path.join(root, 'package.json'), '{ "type": "module" }\n');
  const openToAll = (folder: string): void => {
    chmodSync(folder, 0o755);
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) openToAll(full);
      else chmodSync(full, 0o644);
    }
  };
  openToAll(root);
  return {
    module: path.join(root, 'src', 'board', 'lock.js'),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

interface HolderOptions {
  wrap?: string[];
  uid?: number;
  module?: string;
  /** How long the holder's start waits for the lock (default: the product's, RELEASE_WAIT_SECONDS). */
  waitSeconds?: number;
}

/**
 * Another process that takes the lock and holds it until killed: prints "held" or "refused: ...".
 * `wrap` runs it in another PID namespace (unshare), as a bridge in a container would be.
 */
function startHolder(lockPath: string, options: HolderOptions = {}): { child: ChildProcess; outcome: Promise<string> } {
  // JSON leaves an undefined waitSeconds out: the holder then waits as the product does.
  const lockOptions = JSON.stringify({ bus: 1, waitSeconds: options.waitSeconds });
  const script =
    `import(${JSON.stringify(options.module ?? LOCK_MODULE)}).then((m) => ` +
    `m.acquireBusLock(${JSON.stringify(lockPath)}, ${lockOptions}))` +
    `.then(() => { console.log('held'); setInterval(() => {}, 1000); }, (e) => { console.log('refused: ' + ` +
    `e.message); })`;
  const argv = [...(options.wrap ?? []), process.execPath, '--input-type=module', '-e', script];
  const child = spawn(argv[0] as string, argv.slice(1), {
    stdio: ['ignore', 'pipe', 'inherit'],
    ...(options.uid !== undefined ? { uid: options.uid, gid: options.uid } : {}),
  });
  const outcome = new Promise<string>((resolve) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.on('exit', () => resolve(out.trim() || 'exited'));
  });
  return { child, outcome };
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

const canUnsharePid = spawnSync('unshare', ['-Urpf', '--kill-child', 'true']).status === 0;
const isRoot = process.getuid?.() === 0;

describe('I2C bus lock', function () {
  this.timeout(20_000);
  let dir: string;
  let lockPath: string;
  const children: ChildProcess[] = [];

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tpm-lock-'));
    lockPath = path.join(dir, 'i2c-1.lock');
  });

  afterEach(async () => {
    for (const child of children.splice(0)) await killed(child);
    rmSync(dir, { recursive: true, force: true });
  });

  function holder(options: HolderOptions = {}): Promise<string> {
    const started = startHolder(lockPath, options);
    children.push(started.child);
    return started.outcome;
  }

  it('refuses a second taker, naming the holder, and is free again after release', async () => {
    const release = await acquireBusLock(lockPath, { bus: 1 });
    assert.match(readFileSync(lockPath, 'utf8'), new RegExp(`^pid ${process.pid} on `));
    await assert.rejects(acquireBusLock(lockPath, { bus: 1, ...SHORT_WAIT }), (error: unknown) => {
      assert.ok(error instanceof TpmError && error.code === 'BUS_LOCKED');
      assert.match(
        error.message,
        new RegExp(`^another turingpi-mqtt \\(pid ${process.pid} on .+\\) drives I2C bus 1; lock file ${lockPath}$`),
      );
      return true;
    });
    assert.match(await holder(SHORT_WAIT), /^refused: another turingpi-mqtt/);
    await release();
    await release(); // twice is fine
    const again = await acquireBusLock(lockPath);
    await again();
  });

  it('a holder killed with SIGKILL never blocks the next start', async () => {
    const first = startHolder(lockPath);
    children.push(first.child);
    assert.equal(await first.outcome, 'held');
    await assert.rejects(acquireBusLock(lockPath, SHORT_WAIT), /another turingpi-mqtt \(pid \d+ on/);
    await killed(first.child);
    // The kernel drops the lock with the process tree; what the file says does not matter. The
    // holder's flock child ends a moment after the holder (it has to see the pipe close): a start
    // right away waits for it (RELEASE_WAIT_SECONDS). Without that wait this failed 2 times in 25
    // on a loaded machine, naming the dead holder.
    const release = await acquireBusLock(lockPath);
    await release();
  });

  it('waits for a holder that lets go within the wait, and refuses one that does not', async () => {
    const first = await acquireBusLock(lockPath);
    const waiting = acquireBusLock(lockPath);
    const letGoAt = performance.now() + 300;
    setTimeout(() => void first(), 300);
    const second = await waiting;
    assert.ok(performance.now() >= letGoAt - 20, 'taken only once the first let go');
    const refusedFrom = performance.now();
    await assert.rejects(acquireBusLock(lockPath, { waitSeconds: 0.5 }), /another turingpi-mqtt/);
    assert.ok(performance.now() - refusedFrom >= 450, 'refused after waiting, not at once');
    await second();
    assert.ok(RELEASE_WAIT_SECONDS >= 1 && RELEASE_WAIT_SECONDS <= 5, 'a start waits seconds, not minutes');
  });

  it('a lock file left with any content (an old pid, garbage) does not block', async () => {
    writeFileSync(lockPath, '1\n');
    const release = await acquireBusLock(lockPath);
    await release();
    writeFileSync(lockPath, 'garbage');
    await (
      await acquireBusLock(lockPath)
    )();
  });

  it(
    'across PID namespaces: a holder in another one is refused while it lives, and its SIGKILL frees the ' + 'bus',
    async function () {
      if (!canUnsharePid) this.skip();
      // A bridge in a container is pid 1 (or 7) of its own namespace: a pid in a file means nothing here.
      const wrap = ['unshare', '-Urpf', '--kill-child'];
      const inside = startHolder(lockPath, { wrap });
      children.push(inside.child);
      assert.equal(await inside.outcome, 'held');
      await assert.rejects(
        acquireBusLock(lockPath, SHORT_WAIT),
        (error: unknown) => error instanceof TpmError && error.code === 'BUS_LOCKED',
      );
      // And the other way round: held here, refused in there.
      await killed(inside.child);
      // The namespace's processes (the holder's flock among them) end with its pid 1, as the kernel
      // tears it down: a start a moment later finds the bus free (or waits for it).
      const release = await acquireBusLock(lockPath);
      assert.match(await holder({ wrap, ...SHORT_WAIT }), /^refused: another turingpi-mqtt/);
      await release();
    },
  );

  it('refuses a lock directory that others may use (world-writable, like /run/lock itself)', async () => {
    chmodSync(dir, 0o1777);
    await assert.rejects(acquireBusLock(lockPath), (error: unknown) => {
      assert.ok(error instanceof TpmError && error.code === 'BUS');
      assert.match(
        error.message,
        /lock directory .* is not safe: others may use it \(mode 1777\).*install -d -o root -g i2c -m 2770/,
      );
      return true;
    });
  });

  it('refuses a lock directory of another user, who could hold the lock', async function () {
    if (!isRoot) this.skip();
    chownSync(dir, OTHER_UID, OTHER_UID);
    await assert.rejects(acquireBusLock(lockPath), /is not safe: it belongs to uid 54321/);
  });

  it("a local user outside the directory's group can neither hold nor block the lock", async function () {
    if (!isRoot) this.skip();
    // The layout the systemd unit makes: root:<bus group> 2770. OTHER_UID is not in the group.
    const locks = path.join(dir, 'turingpi-mqtt');
    mkdirSync(locks);
    chownSync(locks, 0, 0);
    chmodSync(locks, 0o2770);
    lockPath = path.join(locks, 'i2c-1.lock');
    const copy = lockModuleForAnyUser();
    const outcome = await holder({ uid: OTHER_UID, module: copy.module }).finally(copy.remove);
    assert.match(outcome, /^refused: .*(permission denied|EACCES)/i);
    const release = await acquireBusLock(lockPath);
    await release();
  });

  it('a bridge whose user may not enter the lock directory is refused, never given a private lock', async function () {
    if (!isRoot) this.skip();
    const locks = path.join(dir, 'turingpi-mqtt');
    mkdirSync(locks);
    chmodSync(dir, 0o755);
    chownSync(locks, 0, 0);
    chmodSync(locks, 0o2770);
    const copy = lockModuleForAnyUser();
    const script =
      `import(${JSON.stringify(copy.module)}).then((m) => m.defaultBusLockPath(1, ${JSON.stringify(locks)}))` +
      `.then((p) => console.log('path: ' + p), (e) => console.log('refused: ' + e.message))`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      uid: OTHER_UID,
      gid: OTHER_UID,
      encoding: 'utf8',
    });
    copy.remove();
    assert.match(
      result.stdout,
      /^refused: cannot use the bus lock directory .*turingpi-mqtt \(EACCES.*must be in its group/,
    );
  });

  it('defaults to /run/lock/turingpi-mqtt, or a private directory of this user', async () => {
    const defaultPath = await defaultBusLockPath(3);
    const own = path.join(os.tmpdir(), `turingpi-mqtt-${process.getuid?.()}`, 'i2c-3.lock');
    assert.ok(defaultPath === path.join(LOCK_DIRECTORY, 'i2c-3.lock') || defaultPath === own, defaultPath);
    await (
      await acquireBusLock(defaultPath)
    )();
  });

  it("the driver's lock option names the default path the lock module makes, as docs/security.md does", () => {
    const source = readFileSync(repoPath('src/board/tpi1/driver.ts'), 'utf8');
    const named = /the default, which is\s+(?:\*\s+)?(\S+\.lock)/.exec(source)?.[1];
    assert.equal(named, path.join(LOCK_DIRECTORY, 'i2c-<bus>.lock'));
    assert.ok(readFileSync(repoPath('docs/security.md'), 'utf8').includes(named));
  });

  it('lets only one driver open the bus; close releases it', async () => {
    const clock = new FakeClock();
    const sim = createSimulatedTpi1({ clock });
    const first = driverFor(sim, clock, { lock: { path: lockPath } });
    const second = driverFor(sim, clock, { lock: { path: lockPath } });
    await first.open();
    await assert.rejects(second.open(), (error: unknown) => error instanceof TpmError && error.code === 'BUS_LOCKED');
    await first.close();
    await second.open();
    await second.close();
  });

  it('releases the lock when open fails after taking it', async () => {
    const clock = new FakeClock();
    const sim = createSimulatedTpi1({ clock });
    sim.faults.dropWrites({ address: 0x57, register: 0xf4 });
    const driver = driverFor(sim, clock, { lock: { path: lockPath } });
    await assert.rejects(driver.open(), /SEE/);
    await (
      await acquireBusLock(lockPath)
    )();
  });
});
