/**
 * The embedded broker's retained messages, counted: aedes keeps every one in memory, with no
 * limit, so one client publishing retained messages on ever new topics grew the bridge's
 * process without end (75 MB to 2.5 GB in 12 s). What the bridge itself keeps retained on a
 * simulated 1024-node board: 3,077 messages, counted here as 5.8 MB.
 */
export const RETAINED_BUDGET_BYTES = 64 * 1024 * 1024;

/** What aedes spends on each retained message beyond its topic and payload (measured: about 1 KiB). */
const PER_MESSAGE_BYTES = 1024;

export class RetainedBudget {
  private readonly sizes = new Map<string, number>();
  private total = 0;

  constructor(private readonly limit = RETAINED_BUDGET_BYTES) {}

  /**
   * Whether a retained publish of `payloadBytes` on `topic` fits, counting it if it does. An
   * empty payload clears the topic's message; replacing one counts only the difference.
   */
  take(topic: string, payloadBytes: number): boolean {
    const before = this.sizes.get(topic) ?? 0;
    if (payloadBytes === 0) {
      this.sizes.delete(topic);
      this.total -= before;
      return true;
    }
    const size = Buffer.byteLength(topic) + payloadBytes + PER_MESSAGE_BYTES;
    if (size > before && this.total - before + size > this.limit) return false;
    this.sizes.set(topic, size);
    this.total += size - before;
    return true;
  }

  /** Bytes counted now. */
  get used(): number {
    return this.total;
  }
}
