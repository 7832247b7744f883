import { promises as fs } from 'node:fs';
import { TpmError, errorMessage } from '../../util/errors.js';

/**
 * docs/hardware.md "MCP7940N at 0x6F": with `dtoverlay=i2c-rtc,mcp7940x` Linux's rtc-ds1307 driver owns 0x6F, and
 * user space must not write the clock's registers behind its back; the clock is then set
 * through the kernel with `hwclock --systohc`.
 */

/** True when a kernel driver is bound to 0x6F on the bus (its sysfs device has a driver link). */
export function kernelOwnsRtc(busNumber: number, sysfsRoot = '/sys/bus/i2c/devices'): () => Promise<boolean> {
  const driverLink = `${sysfsRoot}/${busNumber}-006f/driver`;
  return async () => {
    try {
      await fs.access(driverLink);
      return true;
    } catch {
      return false;
    }
  };
}

/** The argv that copies the system time into the kernel's RTC, which holds UTC (docs/hardware.md). */
export const HWCLOCK_SYSTOHC_ARGV: readonly string[] = ['hwclock', '--systohc', '--utc'];

/** Runs an argv (never a shell string) and rejects with its stderr when it fails. */
export async function runArgv(argv: readonly string[], timeoutMs = 15_000): Promise<void> {
  const [program, ...args] = argv;
  if (!program) throw new TpmError('USAGE', 'empty command');
  // Loaded when the clock is set, not kept by every bridge (with it node loads dgram & co.).
  const { execFile } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    execFile(program, args, { timeout: timeoutMs }, (error, _stdout, stderr) => {
      if (!error) {
        resolve();
        return;
      }
      const detail = String(stderr).trim() || errorMessage(error);
      reject(new TpmError('BUS', `${argv.join(' ')} failed: ${detail}`, { cause: error }));
    });
  });
}
