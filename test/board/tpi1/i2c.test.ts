import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { TpmError } from '../../../src/util/errors.js';
import { openI2cBus } from '../../../src/board/tpi1/i2c.js';

function busError(pattern: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof TpmError, `a TpmError, not ${String(error)}`);
    assert.equal(error.code, 'BUS');
    assert.match(error.message, pattern);
    return true;
  };
}

describe('openI2cBus', () => {
  it('says that the native addon is missing when it cannot be loaded', async () => {
    await assert.rejects(
      openI2cBus(1, {
        forceAccess: true,
        importModule: async () => Promise.reject(new Error('Cannot find module i2c-bus')),
      }),
      busError(/i2c-bus native addon could not be loaded \(Cannot find module i2c-bus\)/),
    );
  });

  it('says how to have npm compile the addon when it was installed without its build', async () => {
    const uncompiled = new Error('Could not locate the bindings file. Tried:\n → /x/build/i2c.node');
    await assert.rejects(
      openI2cBus(1, { forceAccess: true, importModule: async () => Promise.reject(uncompiled) }),
      busError(/\(it is installed but was never compiled: .*\).*--allow-scripts=i2c-bus,epoll/s),
    );
  });

  it('says how to enable the bus when the device cannot be opened, and passes forceAccess on', async () => {
    const seen: unknown[] = [];
    const module = {
      openPromisified: async (busNumber: number, options?: { forceAccess: boolean }) => {
        seen.push([busNumber, options]);
        throw Object.assign(new Error("ENOENT: no such file or directory, open '/dev/i2c-1'"), { code: 'ENOENT' });
      },
    };
    await assert.rejects(
      openI2cBus(1, { forceAccess: true, importModule: async () => module, devicePath: '/dev/null' }),
      busError(/cannot open \/dev\/null: ENOENT.*dtoverlay=i2c1,pins_44_45/),
    );
    assert.deepEqual(seen, [[1, { forceAccess: true }]]);
  });

  it('returns the opened bus', async () => {
    const bus = {
      readByte: async () => 0,
      writeByte: async () => {},
      readI2cBlock: async () => ({ bytesRead: 0, buffer: Buffer.alloc(0) }),
      writeI2cBlock: async () => ({ bytesWritten: 0, buffer: Buffer.alloc(0) }),
    };
    assert.equal(
      await openI2cBus(1, {
        forceAccess: false,
        importModule: async () => ({ openPromisified: async () => bus }),
        devicePath: '/dev/null',
      }),
      bus,
    );
  });

  it('reports a missing /dev/i2c-N before the first transfer, with the real addon', async function () {
    if (existsSync('/dev/i2c-250')) this.skip();
    await assert.rejects(
      openI2cBus(250, { forceAccess: true }),
      busError(/(cannot open \/dev\/i2c-250: ENOENT.*dtoverlay=i2c1,pins_44_45|addon could not be loaded)/),
    );
  });
});
