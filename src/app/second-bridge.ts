import type { IClientOptions, IPublishPacket } from 'mqtt';
import { MqttConnection } from '../mqtt/connection.js';
import type { Topics } from '../mqtt/topics.js';
import { settledWithin, systemClock, type Clock } from '../util/clock.js';
import { TpmError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { displayUrl } from '../util/redact.js';

export interface SecondBridgeCheck {
  url: string;
  /** The bridge's own client options (its will is left out of the probe's). */
  options: IClientOptions;
  baseTopic: string;
  topics: Topics;
  clock: Clock;
  logger: Logger;
  /** started_at of our own last run (state_dir): its stale `online` is ours to take over. */
  lastStartedAt: string | null;
  /** The bridge's stop() before its start is done: the probe is stopped, and the check rejects. */
  signal: AbortSignal;
}

/**
 * Only one bridge may drive a board: a retained `online` of another one on the same base topic
 * refuses the start. Looked at before connecting with our client id: a second bridge with the
 * same id would take the first one's session over (both then kick each other off the broker
 * every second).
 */
export async function refuseSecondBridge(check: SecondBridgeCheck): Promise<void> {
  const { url, topics, baseTopic } = check;
  // A look with a client id of its own and no will: it takes over no session and leaves nothing behind.
  const options: IClientOptions = { ...check.options, clientId: `turingpi-probe-${probeSuffix()}` };
  delete options.will;
  const probe = new MqttConnection({ url, options, logger: check.logger, clock: check.clock });
  const retained = new Map<string, string>();
  // The probe is its own connection: the bridge's stop reaches it only through the signal.
  const onAbort = (): void => void probe.stop();
  check.signal.addEventListener('abort', onAbort, { once: true });
  try {
    await probe.start(false, check.signal);
    const onMessage = (topic: string, payload: Buffer, packet: IPublishPacket): void => {
      if (packet.retain) retained.set(topic, payload.toString());
    };
    // The broker sends retained messages in order, before it answers a later request on the
    // same connection: after one round trip, whatever was retained has arrived.
    const looked = (async () => {
      await probe.subscribe(topics.bridgeState, onMessage);
      await probe.subscribe(topics.bridgeInfo, onMessage);
      await probe.roundTrip(`${baseTopic}/bridge/probe`);
    })();
    await settledWithin(systemClock, 2000, looked);
  } finally {
    check.signal.removeEventListener('abort', onAbort);
    await probe.stop();
  }
  check.signal.throwIfAborted();
  if (retained.get(topics.bridgeState) !== 'online') return;
  let startedAt: unknown;
  try {
    startedAt = (JSON.parse(retained.get(topics.bridgeInfo) ?? '{}') as { started_at?: unknown }).started_at;
  } catch {
    startedAt = undefined;
  }
  // Our own previous run, killed before its will was sent, left that `online`: take over.
  if (startedAt !== undefined && startedAt === check.lastStartedAt) return;
  throw new TpmError(
    'BUSY',
    `another bridge is online on base topic "${baseTopic}" at ${displayUrl(url)} ` +
      `(started ${String(startedAt ?? 'at an unknown time')}): one bridge per board; ` +
      'give this board its own mqtt.base_topic and board.id',
  );
}

/**
 * Eight hex digits for the probe's client id: it must differ from every other client's, not be
 * unguessable, so Math.random serves (node:crypto would stay loaded in the bridge for this alone).
 */
function probeSuffix(): string {
  return Math.floor(Math.random() * 0x1_0000_0000)
    .toString(16)
    .padStart(8, '0');
}
