import assert from 'node:assert/strict';
import { HaPublisher, MAX_BIRTH_WAIT_MS, type HaPublisherDeps } from '../../src/app/ha-publisher.js';
import { parseConfig, resolveNodes } from '../../src/config/index.js';
import type { MqttConnection } from '../../src/mqtt/connection.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { TPI1 } from '../homeassistant/boards.js';

/** A publisher of the simulated board's discovery: `overrides` replace its collaborators. */
function testPublisher(
  clock: FakeClock,
  overrides: Partial<HaPublisherDeps>,
  republishStates: () => Promise<void> = async () => {},
): HaPublisher {
  const config = parseConfig({ board: { type: 'simulator' } });
  return new HaPublisher(
    {
      config,
      nodes: () => resolveNodes(config),
      board: TPI1,
      version: '0.0.0',
      schedules: () => [],
      connection: { publish: async () => {} } as unknown as MqttConnection,
      clock,
      logger: silentLogger(),
      previousIndex: {},
      saveIndex: async () => {},
      random: () => 0.5, // 3 s quiet
      ...overrides,
    },
    republishStates,
  );
}

/**
 * Issue 13, point 9: Home Assistant births close together are merged into one republish (one is
 * 2.5 MB on a 1000-node board; 20 births a second apart sent 14.8 MB), and none is dropped.
 */
describe('HaPublisher: Home Assistant births', () => {
  let clock: FakeClock;
  let publisher: HaPublisher;
  let statesRepublished: number;
  /** Each publish waits this long on the fake clock (a republish takes time on a big board). */
  let publishMs: number;

  beforeEach(async () => {
    clock = new FakeClock();
    statesRepublished = 0;
    publishMs = 0;
    const connection = {
      publish: () =>
        publishMs > 0 ? new Promise<void>((resolve) => clock.setTimeout(resolve, publishMs)) : Promise.resolve(),
    } as unknown as MqttConnection;
    publisher = testPublisher(clock, { connection }, async () => {
      statesRepublished++;
    });
    await publisher.publishAtStart();
  });

  afterEach(() => publisher.stop());

  async function births(count: number, apartMs: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      publisher.onStatus('online');
      await clock.advance(apartMs);
    }
  }

  it('20 births a second apart: one republish, 3 s after the last', async () => {
    await births(20, 1000);
    assert.equal(publisher.republishes, 0, 'none while births keep coming within the quiet period');
    await clock.advance(2000);
    assert.equal(publisher.republishes, 1);
    await clock.advance(60_000);
    assert.equal(publisher.republishes, 1);
    assert.equal(statesRepublished, 1);
  });

  it('an endless storm postpones the republish no longer than MAX_BIRTH_WAIT_MS after its first birth', async () => {
    await births(MAX_BIRTH_WAIT_MS / 1000 + 1, 1000);
    assert.equal(publisher.republishes, 1);
  });

  it('births far apart each get their own republish', async () => {
    await births(3, 10_000);
    assert.equal(publisher.republishes, 3);
  });

  it('a birth during a republish is not dropped: one more republish follows it', async () => {
    publishMs = 100; // the republish of the simulated board's devices takes a while
    publisher.onStatus('online');
    await clock.advance(3000);
    assert.equal(publisher.republishes, 1);
    // Home Assistant restarted again while the republish runs: it lost what was sent so far.
    await clock.advance(50);
    publisher.onStatus('online');
    publisher.onStatus('online');
    await clock.advance(30_000);
    assert.equal(publisher.republishes, 2);
    assert.equal(statesRepublished, 2);
  });

  it('ignores other payloads', async () => {
    publisher.onStatus('offline');
    await clock.advance(10_000);
    assert.equal(publisher.republishes, 0);
  });
});

/**
 * Refreshes send what changed since the last publication, which the publisher remembers as an
 * index and a hash per device (not the messages: those are some 2.4 KB per node).
 */
describe('HaPublisher: refreshes', () => {
  const config = parseConfig({ board: { type: 'simulator' } });
  let clock: FakeClock;
  let agentNodes: Set<number>;
  let sent: { topic: string; payload: string }[];
  let saved: number;
  let publisher: HaPublisher;

  beforeEach(async () => {
    clock = new FakeClock();
    agentNodes = new Set();
    sent = [];
    saved = 0;
    const connection = {
      publish: async (topic: string, payload: string) => {
        sent.push({ topic, payload });
      },
    } as unknown as MqttConnection;
    publisher = testPublisher(clock, {
      connection,
      nodes: () => resolveNodes(config).map((n) => ({ ...n, agent: agentNodes.has(n.number) })),
      saveIndex: async () => {
        saved++;
      },
    });
    await publisher.publishAtStart();
  });

  afterEach(() => publisher.stop());

  const node2 = (m: { topic: string }): boolean => /node[_-]?2\b|_2\//.test(m.topic);

  it('sends nothing when nothing changed, and only the device that changed when one did', async () => {
    const atStart = sent.length;
    assert.ok(atStart >= 5, `the board's devices at start (${atStart})`);
    assert.equal(saved, 1);
    sent = [];
    await publisher.refresh();
    assert.equal(sent.length, 0, 'nothing changed: nothing sent');
    agentNodes.add(2);
    await publisher.refresh();
    assert.equal(sent.length, 1, `one device: ${sent.map((m) => m.topic).join(', ')}`);
    assert.ok(node2(sent[0] as { topic: string }), `node 2's device: ${sent[0]?.topic}`);
    assert.match(sent[0]?.payload ?? '', /temperature/i, 'with the agent sensors');
    assert.equal(saved, 2, 'the new index saved');
  });

  it('retires components that went away first, then sends the device as it is now', async () => {
    agentNodes.add(2);
    await publisher.refresh();
    sent = [];
    agentNodes.delete(2);
    const done = publisher.refresh();
    await clock.advance(1000);
    await done;
    assert.equal(sent.length, 2, sent.map((m) => m.topic).join(', '));
    const [reduced, final] = sent as [{ topic: string; payload: string }, { topic: string; payload: string }];
    assert.equal(reduced.topic, final.topic);
    assert.ok(node2(final));
    assert.ok(reduced.payload.length > 0 && final.payload.length > 0);
    assert.doesNotMatch(final.payload, /temperature/i);
  });

  it('a birth republishes every device as it is now, though the messages are not kept', async () => {
    const atStart = sent.length;
    sent = [];
    agentNodes.add(2);
    await publisher.refresh();
    sent = [];
    publisher.onStatus('online');
    await clock.advance(3000);
    assert.equal(publisher.republishes, 1);
    assert.equal(sent.length, atStart, 'every device again');
    assert.match(sent.find(node2)?.payload ?? '', /temperature/i, "node 2's device with its agent sensors");
  });
});

/**
 * A refresh that could not be sent (the broker was away) is not taken for sent: discovery is
 * retained on the broker and nothing else would send it again until Home Assistant restarts.
 */
describe('HaPublisher: a refresh the broker did not take', () => {
  const config = parseConfig({ board: { type: 'simulator' } });
  let clock: FakeClock;
  let agentNodes: Set<number>;
  let sent: { topic: string; payload: string }[];
  let brokerAway: boolean;
  let publisher: HaPublisher;

  beforeEach(async () => {
    clock = new FakeClock();
    agentNodes = new Set();
    sent = [];
    brokerAway = false;
    const connection = {
      publish: async (topic: string, payload: string) => {
        if (brokerAway) throw new Error('not connected to the MQTT broker');
        sent.push({ topic, payload });
      },
    } as unknown as MqttConnection;
    publisher = testPublisher(clock, {
      connection,
      nodes: () => resolveNodes(config).map((n) => ({ ...n, agent: agentNodes.has(n.number) })),
    });
    await publisher.publishAtStart();
    sent = [];
  });

  afterEach(() => publisher.stop());

  it('sends the changed device at the next refresh', async () => {
    brokerAway = true;
    agentNodes.add(2);
    await publisher.refresh();
    assert.equal(sent.length, 0);
    brokerAway = false;
    await publisher.refresh();
    assert.equal(sent.length, 1, `node 2's device: ${sent.map((m) => m.topic).join(', ')}`);
    assert.match(sent[0]?.payload ?? '', /temperature/i, 'with the agent sensors');
  });

  it('retires the components that went away at the next refresh, first', async () => {
    agentNodes.add(2);
    await publisher.refresh();
    sent = [];
    brokerAway = true;
    agentNodes.delete(2);
    const failed = publisher.refresh();
    await clock.advance(1000);
    await failed;
    brokerAway = false;
    const done = publisher.refresh();
    await clock.advance(1000);
    await done;
    assert.equal(sent.length, 2, sent.map((m) => m.topic).join(', '));
    const reduced = JSON.parse(sent[0]?.payload ?? '{}') as { components: Record<string, object> };
    assert.deepEqual(reduced.components.temperature, { platform: 'sensor' });
    assert.doesNotMatch(sent[1]?.payload ?? '', /temperature/i);
  });
});
