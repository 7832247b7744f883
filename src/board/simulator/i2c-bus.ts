import type { Clock } from '../../util/clock.js';
import { callAsPromise } from '../../util/errors.js';
import type { I2cBus } from '../tpi1/i2c.js';
import { FaultInjector, hex, i2cError, type BusOperation, type TransactionInfo } from './faults.js';

/**
 * A simulated I2C bus behind the same I2cBus interface as the i2c-bus addon
 * (docs/ARCHITECTURE.md, "The simulator": fake the device, not the driver). Addresses route to register-level chips; an
 * address nobody answers fails like a real NACK.
 */

/** A chip on the bus. Each call is one bus transaction; throw (i2cError) to not acknowledge. */
export interface I2cDevice {
  /** Reads `length` bytes from `register` on (the chip's own auto-increment). */
  read(register: number, length: number): number[];
  /** Writes bytes to `register` on. */
  write(register: number, bytes: readonly number[]): void;
}

/** The register address after `register` + `offset`: both chips count on and wrap at 0xFF. */
export function registerAt(register: number, offset: number): number {
  return (register + offset) & 0xff;
}

/** A read of `length` registers from `register` on, as both chips auto-increment. */
export function readRegisters(register: number, length: number, readOne: (register: number) => number): number[] {
  // A loop, not Array.from({ length }, ...): this runs in every simulated transaction, five times a
  // command, and Array.from with a callback was the simulator's largest cost (docs/performance-log.md).
  const bytes: number[] = [];
  for (let i = 0; i < length; i++) bytes.push(readOne(registerAt(register, i)));
  return bytes;
}

/** One transaction, as seen by onTransaction listeners (for tests that check order). */
export interface TransactionRecord {
  operation: BusOperation;
  address: number;
  register: number;
  /** Bytes written, or bytes returned by a read. */
  bytes: number[];
  /** The error message when the transaction failed. */
  error?: string;
  /** A write the fault injector acknowledged and dropped. */
  dropped?: boolean;
}

export interface SimulatedI2cBusOptions {
  /** The clock that latency faults wait on. */
  clock: Clock;
  faults?: FaultInjector;
}

/** i2c-bus's limit for I2C block transfers (I2C_SMBUS_BLOCK_MAX). */
const BLOCK_MAX = 32;

export class SimulatedI2cBus implements I2cBus {
  readonly faults: FaultInjector;
  private readonly clock: Clock;
  private readonly devices = new Map<number, I2cDevice>();
  private listeners: ((record: TransactionRecord) => void)[] = [];
  /** close() calls so far; the bus keeps working (a bridge restart reopens the same bus). */
  closeCount = 0;

  constructor(options: SimulatedI2cBusOptions) {
    this.clock = options.clock;
    this.faults = options.faults ?? new FaultInjector();
  }

  attach(address: number, device: I2cDevice): void {
    checkAddress(address);
    this.devices.set(address, device);
  }

  detach(address: number): void {
    this.devices.delete(address);
  }

  device(address: number): I2cDevice | undefined {
    return this.devices.get(address);
  }

  /** Calls `listener` after every transaction. Returns a function that removes it. */
  onTransaction(listener: (record: TransactionRecord) => void): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  // Argument errors reject (callAsPromise), as from the addon's promise API, instead of throwing.
  readByte(address: number, register: number): Promise<number> {
    return this.read(address, register, 1, (bytes) => bytes[0] ?? 0);
  }

  writeByte(address: number, register: number, byte: number): Promise<void> {
    return callAsPromise(() => {
      checkByte(byte, 'byte');
      return this.write(address, register, [byte]);
    });
  }

  readI2cBlock(
    address: number,
    register: number,
    length: number,
    buffer: Buffer,
  ): Promise<{ bytesRead: number; buffer: Buffer }> {
    return callAsPromise(() => {
      checkLength(length, buffer);
      return this.read(address, register, length, (bytes) => {
        bytes.forEach((byte, index) => {
          buffer[index] = byte;
        });
        return { bytesRead: bytes.length, buffer };
      });
    });
  }

  writeI2cBlock(
    address: number,
    register: number,
    length: number,
    buffer: Buffer,
  ): Promise<{ bytesWritten: number; buffer: Buffer }> {
    return callAsPromise(() => {
      checkLength(length, buffer);
      const bytes = Array.from(buffer.subarray(0, length));
      return this.write(address, register, bytes).then(() => ({ bytesWritten: length, buffer }));
    });
  }

  async close(): Promise<void> {
    this.closeCount++;
  }

  /** A read; `result` makes the caller's answer of the bytes inside the transaction. */
  private read<T>(address: number, register: number, length: number, result: (bytes: number[]) => T): Promise<T> {
    return callAsPromise(() => {
      checkAddress(address);
      checkByte(register, 'register');
      const transaction: TransactionInfo = { address, operation: 'read', register, length };
      return this.transact(transaction, [], () => {
        const device = this.deviceAt(address);
        const bytes = this.faults.alterRead(transaction, device.read(register, length));
        this.faults.noteBytes('read', bytes.length);
        if (this.listeners.length > 0) this.emit({ operation: 'read', address, register, bytes });
        return result(bytes);
      });
    });
  }

  private write(address: number, register: number, bytes: number[]): Promise<void> {
    return callAsPromise(() => {
      checkAddress(address);
      checkByte(register, 'register');
      const transaction: TransactionInfo = { address, operation: 'write', register, length: bytes.length };
      return this.transact(transaction, bytes, () => {
        const device = this.deviceAt(address);
        const dropped = this.faults.dropsWrite(transaction);
        if (!dropped) device.write(register, bytes);
        this.faults.noteBytes('write', bytes.length);
        if (this.listeners.length > 0)
          this.emit({ operation: 'write', address, register, bytes, ...(dropped ? { dropped } : {}) });
      });
    });
  }

  /**
   * One transaction: done within the call when no latency fault applies, its outcome in a
   * promise already settled, as a chip that answers at once; after the fault's wait otherwise.
   * (Two async functions per transaction, as before, cost every command a microtask turn and
   * two promises per transaction: docs/performance-log.md, "Command latency".) Every failure,
   * injected or the chip's, is recorded.
   */
  private transact<T>(transaction: TransactionInfo, bytes: number[], finish: () => T): Promise<T> {
    const failed = (error: unknown): Promise<T> => {
      this.fail(transaction, bytes, error);
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    };
    try {
      const waiting = this.faults.enter(transaction, this.clock);
      if (waiting) return waiting.then(finish).catch(failed);
      return Promise.resolve(finish());
    } catch (error) {
      return failed(error);
    }
  }

  private deviceAt(address: number): I2cDevice {
    const device = this.devices.get(address);
    if (!device) throw i2cError('ENXIO', `simulated: nothing answers at ${hex(address)}`);
    return device;
  }

  private fail(transaction: TransactionInfo, bytes: number[], error: unknown): void {
    this.faults.noteError();
    const message = error instanceof Error ? error.message : String(error);
    this.emit({
      operation: transaction.operation,
      address: transaction.address,
      register: transaction.register,
      bytes,
      error: message,
    });
  }

  private emit(record: TransactionRecord): void {
    for (const listener of this.listeners) listener(record);
  }
}

function checkAddress(address: number): void {
  if (!Number.isInteger(address) || address < 0 || address > 0x7f) {
    throw new RangeError(`invalid I2C address ${address}: 7-bit addresses are 0-0x7f`);
  }
}

function checkByte(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xff)
    throw new RangeError(`invalid ${what} ${value}: must be 0-255`);
}

function checkLength(length: number, buffer: Buffer): void {
  if (!Number.isInteger(length) || length < 1 || length > BLOCK_MAX) {
    throw new RangeError(`invalid length ${length}: I2C block transfers are 1-${BLOCK_MAX} bytes`);
  }
  if (buffer.length < length) throw new RangeError(`buffer of ${buffer.length} bytes is shorter than length ${length}`);
}
