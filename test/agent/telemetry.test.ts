import assert from 'node:assert/strict';
import type { SystemInfoSource } from '../../src/agent/system-info.js';
import { TelemetrySampler } from '../../src/agent/telemetry.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { silentLogger } from '../../src/util/logger.js';

/** A node whose uptime is the test's: it runs on whatever the wall clock does. */
function node(uptime: () => number): SystemInfoSource {
  return {
    cpuTemperature: async () => ({ main: 50 }),
    currentLoad: async () => ({ currentLoad: 10 }),
    mem: async () => ({ total: 100, active: 20 }),
    fsSize: async () => [{ mount: '/', use: 40 }],
    time: () => ({ uptime: uptime() }),
    osInfo: async () => ({ hostname: 'node3' }),
  };
}

describe('agent telemetry sampler', () => {
  it('follows a step of the wall clock (the first NTP sync of a Pi without RTC) in boot_time', async () => {
    // fake-hwclock brought the clock back to the last shutdown, 40 days behind.
    const clock = new FakeClock(Date.UTC(2026, 9, 1, 8, 0, 20));
    let uptime = 20.43;
    const sampler = new TelemetrySampler(
      node(() => uptime),
      clock,
      silentLogger(),
    );
    assert.equal((await sampler.sample()).boot_time, '2026-10-01T08:00:00Z');
    // Jitter of the uptime read: no move.
    clock.jump(clock.now() + 15_000);
    uptime += 15.31;
    assert.equal((await sampler.sample()).boot_time, '2026-10-01T08:00:00Z');
    // systemd-timesyncd steps the clock to the real time.
    clock.jump(Date.UTC(2026, 10, 10, 9, 30, 50));
    uptime += 15;
    assert.equal((await sampler.sample()).boot_time, '2026-11-10T09:30:00Z');
    clock.jump(clock.now() + 15_000);
    uptime += 14.6;
    assert.equal((await sampler.sample()).boot_time, '2026-11-10T09:30:00Z', 'stable again after the step');
  });
});
