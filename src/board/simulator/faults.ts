import { sleep, type Clock } from '../../util/clock.js';

/**
 * Fault hooks and counters of the simulated I2C bus: errors (the next N transactions or
 * until removed), writes that are acknowledged but do not take, glitchy reads, latency,
 * and counts of transactions for tests and benchmarks.
 */

export type BusOperation = 'read' | 'write';

/** Which transactions a fault applies to; omitted fields match everything. */
export interface FaultMatch {
  address?: number;
  operation?: BusOperation;
  /** Matches a transaction whose register range (start .. start + length - 1) holds it. */
  register?: number;
}

/** One transaction as the bus sees it. */
export interface TransactionInfo {
  address: number;
  operation: BusOperation;
  register: number;
  length: number;
}

export interface AddressCounters {
  reads: number;
  writes: number;
}

export interface BusCounters {
  /** Read transactions attempted (readByte, readI2cBlock), failed ones included. */
  reads: number;
  /** Write transactions attempted (writeByte, writeI2cBlock), failed ones included. */
  writes: number;
  /** Transactions that failed (injected faults and device NACKs). */
  errors: number;
  bytesRead: number;
  bytesWritten: number;
  /** Per 7-bit address, keyed "0x57". */
  byAddress: Record<string, AddressCounters>;
}

export type ErrorFactory = (transaction: TransactionInfo) => Error;

/** An error shaped like the i2c-bus addon's (errno name first, then the text, plus code/errno). */
export function i2cError(code: 'EREMOTEIO' | 'ENXIO' | 'EIO' | 'ETIMEDOUT', detail: string): Error {
  const texts = {
    EREMOTEIO: ['Remote I/O error', -121],
    ENXIO: ['No such device or address', -6],
    EIO: ['Input/output error', -5],
    ETIMEDOUT: ['Connection timed out', -110],
  } as const;
  const [text, errno] = texts[code];
  return Object.assign(new Error(`${code}, ${text} (${detail})`), { code, errno });
}

const defaultError: ErrorFactory = (t) =>
  i2cError('EREMOTEIO', `simulated fault on ${t.operation} of ${hex(t.address)} register ${hex(t.register)}`);

interface ErrorRule {
  match: FaultMatch;
  remaining: number; // Infinity: until removed
  makeError: ErrorFactory;
}

interface DropRule {
  match: FaultMatch;
  remaining: number;
}

interface GlitchRule {
  match: FaultMatch;
  remaining: number;
  value: (actual: number) => number;
}

interface LatencyRule {
  match: FaultMatch;
  ms: number;
  timers: 'clock' | 'real';
}

export class FaultInjector {
  private errors: ErrorRule[] = [];
  private drops: DropRule[] = [];
  private glitches: GlitchRule[] = [];
  private latencies: LatencyRule[] = [];
  private counts: BusCounters = emptyCounters();

  /** The next `count` matching transactions fail with an error (default: EREMOTEIO). */
  failNext(count: number, match: FaultMatch = {}, makeError: ErrorFactory = defaultError): void {
    this.errors.push({ match, remaining: count, makeError });
  }

  /** Every matching transaction fails until the returned function is called (or clear()). */
  failAlways(match: FaultMatch = {}, makeError: ErrorFactory = defaultError): () => void {
    const rule = { match, remaining: Number.POSITIVE_INFINITY, makeError };
    this.errors.push(rule);
    return () => {
      this.errors = this.errors.filter((r) => r !== rule);
    };
  }

  /** Matching writes are acknowledged but never reach the chip (a write that does not take). */
  dropWrites(match: FaultMatch = {}, count = Number.POSITIVE_INFINITY): () => void {
    const rule = { match: { ...match, operation: 'write' as const }, remaining: count };
    this.drops.push(rule);
    return () => {
      this.drops = this.drops.filter((r) => r !== rule);
    };
  }

  /**
   * The next `count` matching reads return `value` (or value(actual)) for the matched
   * register (the first byte of the transaction when no register is given): a bus glitch.
   */
  glitchReads(value: number | ((actual: number) => number), match: FaultMatch = {}, count = 1): void {
    const fn = typeof value === 'number' ? () => value & 0xff : (actual: number) => value(actual) & 0xff;
    this.glitches.push({ match: { ...match, operation: 'read' }, remaining: count, value: fn });
  }

  /** Each matching transaction takes `ms` longer, on the bus's clock (default) or real timers. */
  setLatency(ms: number, options: { match?: FaultMatch; timers?: 'clock' | 'real' } = {}): void {
    this.latencies = this.latencies.filter((r) => !sameMatch(r.match, options.match ?? {}));
    if (ms > 0) this.latencies.push({ match: options.match ?? {}, ms, timers: options.timers ?? 'clock' });
  }

  /** Removes every fault (the counters stay). */
  clear(): void {
    this.errors = [];
    this.drops = [];
    this.glitches = [];
    this.latencies = [];
  }

  get counters(): Readonly<BusCounters> {
    return this.counts;
  }

  resetCounters(): void {
    this.counts = emptyCounters();
  }

  // ---- used by SimulatedI2cBus -----------------------------------------------------------

  /**
   * Counts the transaction, waits its latency, and throws an injected error if one applies.
   * Without a latency rule nothing waits: it returns nothing (and throws at once), so a
   * transaction costs no promise of its own (the bench commands a simulated board thousands
   * of times; every transaction is a few of them).
   */
  enter(transaction: TransactionInfo, clock: Clock): Promise<void> | undefined {
    const perAddress = (this.counts.byAddress[addressKey(transaction.address)] ??= { reads: 0, writes: 0 });
    if (transaction.operation === 'read') {
      this.counts.reads++;
      perAddress.reads++;
    } else {
      this.counts.writes++;
      perAddress.writes++;
    }
    if (this.latencies.length === 0) {
      this.injectError(transaction);
      return undefined;
    }
    return this.wait(transaction, clock);
  }

  private async wait(transaction: TransactionInfo, clock: Clock): Promise<void> {
    for (const rule of this.latencies) {
      if (!matches(rule.match, transaction)) continue;
      if (rule.timers === 'clock') await sleep(clock, rule.ms);
      else await new Promise<void>((resolve) => setTimeout(resolve, rule.ms));
    }
    this.injectError(transaction);
  }

  private injectError(transaction: TransactionInfo): void {
    if (this.errors.length === 0) return;
    const rule = this.errors.find((r) => r.remaining > 0 && matches(r.match, transaction));
    if (rule) {
      rule.remaining--;
      this.errors = this.errors.filter((r) => r.remaining > 0);
      throw rule.makeError(transaction);
    }
  }

  noteError(): void {
    this.counts.errors++;
  }

  noteBytes(operation: BusOperation, count: number): void {
    if (operation === 'read') this.counts.bytesRead += count;
    else this.counts.bytesWritten += count;
  }

  /** True when this write is to be acknowledged and dropped. */
  dropsWrite(transaction: TransactionInfo): boolean {
    const rule = this.drops.find((r) => r.remaining > 0 && matches(r.match, transaction));
    if (!rule) return false;
    rule.remaining--;
    this.drops = this.drops.filter((r) => r.remaining > 0);
    return true;
  }

  /** Applies glitches to the bytes of a read. */
  alterRead(transaction: TransactionInfo, bytes: number[]): number[] {
    if (this.glitches.length === 0) return bytes;
    const result = [...bytes];
    const altered = new Set<number>();
    // Rules apply in the order they were added; one rule per byte and transaction.
    for (const rule of this.glitches) {
      if (rule.remaining <= 0 || !matches(rule.match, transaction)) continue;
      const index = rule.match.register === undefined ? 0 : rule.match.register - transaction.register;
      if (index < 0 || index >= result.length || altered.has(index)) continue;
      result[index] = rule.value(result[index] ?? 0);
      altered.add(index);
      rule.remaining--;
    }
    this.glitches = this.glitches.filter((r) => r.remaining > 0);
    return result;
  }
}

function matches(match: FaultMatch, t: TransactionInfo): boolean {
  if (match.address !== undefined && match.address !== t.address) return false;
  if (match.operation !== undefined && match.operation !== t.operation) return false;
  if (match.register !== undefined && (match.register < t.register || match.register >= t.register + t.length)) {
    return false;
  }
  return true;
}

function sameMatch(a: FaultMatch, b: FaultMatch): boolean {
  return a.address === b.address && a.operation === b.operation && a.register === b.register;
}

function emptyCounters(): BusCounters {
  return { reads: 0, writes: 0, errors: 0, bytesRead: 0, bytesWritten: 0, byAddress: {} };
}

/** The counters' keys of the 128 addresses, made once rather than per transaction. */
const ADDRESS_KEYS = Array.from({ length: 0x80 }, (_, address) => hex(address));
const addressKey = (address: number): string => ADDRESS_KEYS[address] ?? hex(address);

/** Two-digit hex with 0x, for the simulator's messages (the driver keeps its own: tpi1/registers.ts). */
export function hex(value: number): string {
  return `0x${value.toString(16).padStart(2, '0')}`;
}
