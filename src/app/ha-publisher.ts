import type { BoardInfo } from '../board/types.js';
import type { Config } from '../config/schema.js';
import type { ResolvedNode } from '../config/nodes.js';
import { buildDiscovery, type DiscoveryMessage } from '../homeassistant/discovery.js';
import { indexOf, planDiscoveryChanges, type DiscoveryIndex, type PlannedMessage } from '../homeassistant/cleanup.js';
import type { MqttConnection } from '../mqtt/connection.js';
import { sleep, type Clock, type TimerHandle } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import { Mutex } from '../util/mutex.js';
import type { Logger } from '../util/logger.js';

export interface HaPublisherDeps {
  config: Config;
  /** Every slot, with `agent` as it is now (an auto node is an agent node once its agent was seen). */
  nodes: () => ResolvedNode[];
  board: BoardInfo;
  version: string;
  schedules: () => { name: string }[];
  connection: MqttConnection;
  clock: Clock;
  logger: Logger;
  /** The index persisted by the last run, and where to save the new one. */
  previousIndex: DiscoveryIndex;
  saveIndex(index: DiscoveryIndex): Promise<void>;
  random?: () => number;
}

/** A storm of births postpones the republish no longer than this. */
export const MAX_BIRTH_WAIT_MS = 30_000;

/**
 * Publishes Home Assistant discovery (docs/topics.md): at start (cleaning up what earlier runs
 * published and this one does not), and again after Home Assistant's births. Births close
 * together are merged into one republish (a full one is 2.5 MB on a 1000-node board): it starts
 * once no birth came for 1-5 s (random, so that many bridges do not answer at once), at the
 * latest MAX_BIRTH_WAIT_MS after the first birth of the batch. A birth during a republish is
 * never dropped: it leads to one more, after it.
 */
export class HaPublisher {
  private birthTimer: TimerHandle | undefined;
  /** When the first birth not yet answered arrived. */
  private firstBirthAt: number | undefined;
  private republishing = false;
  private birthDuringRepublish = false;
  private stopped = false;
  /** Whether the start's publication ran: a refresh before it has nothing to refresh (it builds from now). */
  private publishedAtStart = false;
  /**
   * What the last publication sent, kept small: the index of devices and components (to retire
   * what goes away) and a hash of each device's payload (to skip what did not change). The
   * messages themselves, some 2.4 KB per node, are built again when needed.
   */
  private sent: { index: DiscoveryIndex; hashes: Map<string, number> } | undefined;
  /** Refreshes run one after the other. */
  private readonly refreshes = new Mutex();
  /** Discovery republishes done, for tests and the benchmark. */
  republishes = 0;

  constructor(
    private readonly deps: HaPublisherDeps,
    /** Republishes every retained state after discovery (HA forgets states on restart). */
    private readonly republishStates: () => Promise<void>,
  ) {}

  build(): DiscoveryMessage[] {
    const { config, board, version } = this.deps;
    return buildDiscovery({ config, nodes: this.deps.nodes(), board, version, schedules: this.deps.schedules() });
  }

  /** First publication of this run, with the clean-up of stale devices and components. */
  async publishAtStart(): Promise<void> {
    this.publishedAtStart = true;
    await this.publishChanges(this.deps.previousIndex);
  }

  /** Subscribes to Home Assistant's birth and will (`homeassistant/status`), retained or not. */
  async subscribe(): Promise<void> {
    const { config, connection } = this.deps;
    if (!config.homeassistant.enabled) return;
    await connection.subscribe(config.homeassistant.status_topic, (_topic, payload) =>
      this.onStatus(payload.toString()),
    );
  }

  /**
   * Publishes discovery again where it changed since (the board told more after the start, a
   * node became an agent node or stopped being one), retiring what went away; devices that did
   * not change are not sent again. Refreshes run one after the other.
   */
  refresh(): Promise<void> {
    if (!this.publishedAtStart) return this.refreshes.idle();
    return (
      this.refreshes
        // Before anything was sent, what the last run published is still what HA has.
        .run(() => this.publishChanges(this.sent?.index ?? this.deps.previousIndex))
        .catch((error: unknown) => this.deps.logger.warn(`republishing discovery failed: ${errorMessage(error)}`))
    );
  }

  private async publishChanges(previous: DiscoveryIndex): Promise<void> {
    // Messages published before exactly as they are now (none at start: only an index is known then).
    const before = this.sent?.hashes ?? new Map<string, number>();
    const messages = this.build();
    // Each device's JSON, made once: hashed here, and sent as it is if it changed.
    const texts = new Map(messages.map((m) => [m.topic, JSON.stringify(m.payload)]));
    const hashes = new Map([...texts].map(([topic, text]) => [topic, textHash(text)]));
    const plan = planDiscoveryChanges(previous, messages);
    const then = plan.then.filter((m) => m.payload === null || before.get(m.topic) !== hashes.get(m.topic));
    if (plan.first.length === 0 && then.length === 0) return;
    if (plan.first.length > 0) {
      for (const message of plan.first) await this.send(message);
      // HA must process the reduced components before the final configs replace them.
      await sleep(this.deps.clock, 1000);
    }
    for (const message of then) await this.send(message, texts.get(message.topic));
    // Only once all went out: a send that failed (the broker away) leaves the last publication
    // as it was, so that the next refresh (the reconnection's) sends this one again.
    this.sent = { index: indexOf(messages), hashes };
    await this.deps.saveIndex(this.sent.index);
  }

  /** Publishes `message` retained: `text` where its JSON is already made, else made here ('' retires it). */
  private async send(message: PlannedMessage, text?: string): Promise<void> {
    const payload = text ?? (message.payload === null ? '' : JSON.stringify(message.payload));
    await this.deps.connection.publish(message.topic, payload, { retain: true });
  }

  /** `homeassistant/status` arrived. */
  onStatus(payload: string): void {
    if (payload.trim() !== 'online') return;
    if (this.republishing) {
      this.birthDuringRepublish = true;
      return;
    }
    this.armRepublish();
  }

  /** (Re)starts the quiet period before the republish, within MAX_BIRTH_WAIT_MS of the first birth. */
  private armRepublish(): void {
    const { clock } = this.deps;
    const now = clock.now();
    const first = this.birthTimer === undefined;
    this.firstBirthAt ??= now;
    const random = this.deps.random ?? Math.random;
    const quiet = 1000 + Math.floor(random() * 4000);
    const delay = Math.max(0, Math.min(quiet, this.firstBirthAt + MAX_BIRTH_WAIT_MS - now));
    if (first)
      this.deps.logger.info(`Home Assistant came online: republishing discovery in ${(delay / 1000).toFixed(1)}s`);
    clock.clearTimeout(this.birthTimer);
    this.birthTimer = clock.setTimeout(() => {
      this.birthTimer = undefined;
      this.firstBirthAt = undefined;
      void this.republish();
    }, delay);
  }

  private async republish(): Promise<void> {
    this.republishing = true;
    try {
      this.republishes++;
      // Built again: what the last publication sent, or newer where a refresh is on its way.
      if (this.sent) for (const message of this.build()) await this.send(message);
      await this.republishStates();
    } catch (error) {
      this.deps.logger.warn(`republishing discovery failed: ${errorMessage(error)}`);
    } finally {
      this.republishing = false;
      if (this.birthDuringRepublish && !this.stopped) {
        this.birthDuringRepublish = false;
        this.armRepublish();
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.deps.clock.clearTimeout(this.birthTimer);
    this.birthTimer = undefined;
  }
}

/**
 * A 53-bit hash of a payload's JSON (cyrb53): equal payloads hash equal, a change is missed only
 * if two texts collide (about one in 2^53), and it costs 8 bytes where the text is kilobytes.
 */
function textHash(text: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
