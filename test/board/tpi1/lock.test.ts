import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TpmError } from '../../../src/util/errors.js';
import { FakeClock } from '../../../src/util/fake-clock.js';
import { acquireBusLock, defaultBusLockPath } from '../../../src/board/lock.js';
import { createSimulatedTpi1 } from '../../../src/board/simulator/tpi1.js';
import { driverFor } from './helpers.js';

/** The pid of a process that has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid ?? 999_999;
}

describe('I2C bus lock', () => {
  let dir: string;
  let lockPath: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tpm-lock-'));
    lockPath = path.join(dir, 'turingpi-mqtt-i2c-1.lock');
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes the lock with the pid inside, refuses a second taker, and frees it on release', async () => {
    const release = await acquireBusLock(lockPath, { bus: 1 });
    assert.equal(readFileSync(lockPath, 'utf8').trim(), String(process.pid));
    await assert.rejects(acquireBusLock(lockPath, { bus: 1 }), (error: unknown) => {
      assert.ok(error instanceof TpmError && error.code === 'BUS_LOCKED');
      assert.equal(
        error.message,
        `another turingpi-mqtt (pid ${process.pid}) drives I2C bus 1; lock file ${lockPath}`,
      );
      return true;
    });
    await release();
    assert.equal(existsSync(lockPath), false);
    await release(); // twice is fine
    const again = await acquireBusLock(lockPath);
    await again();
  });

  it('takes over a lock whose process no longer runs', async () => {
    const stale = deadPid();
    writeFileSync(lockPath, `${stale}\n`);
    const release = await acquireBusLock(lockPath);
    assert.equal(readFileSync(lockPath, 'utf8').trim(), String(process.pid));
    await release();
  });

  it('takes over a lock file that names no pid', async () => {
    writeFileSync(lockPath, 'garbage');
    const release = await acquireBusLock(lockPath);
    assert.equal(readFileSync(lockPath, 'utf8').trim(), String(process.pid));
    await release();
  });

  it('respects a live owner other than this process', async () => {
    writeFileSync(lockPath, '4242\n');
    await assert.rejects(acquireBusLock(lockPath, { isAlive: (pid) => pid === 4242 }), /pid 4242/);
    assert.equal(readFileSync(lockPath, 'utf8'), '4242\n');
  });

  it('does not remove a lock that was taken over after it was released by its old owner', async () => {
    const release = await acquireBusLock(lockPath, { pid: 1111 });
    // Another process decided 1111 was dead and took over.
    const takeOver = await acquireBusLock(lockPath, { pid: 2222, isAlive: () => false });
    await release();
    assert.equal(readFileSync(lockPath, 'utf8'), '2222\n');
    await takeOver();
  });

  it('defaults to /run/lock or the temp directory', async () => {
    const defaultPath = await defaultBusLockPath(3);
    assert.ok(
      defaultPath === '/run/lock/turingpi-mqtt-i2c-3.lock' || defaultPath === path.join(os.tmpdir(), 'turingpi-mqtt-i2c-3.lock'),
      defaultPath,
    );
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
    assert.equal(existsSync(lockPath), false);
  });

  it('releases the lock when open fails after taking it', async () => {
    const clock = new FakeClock();
    const sim = createSimulatedTpi1({ clock });
    sim.faults.dropWrites({ address: 0x57, register: 0xf4 });
    const driver = driverFor(sim, clock, { lock: { path: lockPath } });
    await assert.rejects(driver.open(), /SEE/);
    assert.equal(existsSync(lockPath), false);
  });
});
