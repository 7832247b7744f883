import assert from 'node:assert/strict';
import { systemClock } from '../../src/util/clock.js';
import { Recorder, type RecordedMessage } from '../support/recorder.js';
import { BASE, BOARD_ID, bridgeFixture, createCountedTpi1, delay, readBridgeState } from './helpers.js';

/**
 * Home Assistant discovery across restarts with a changed config (docs/topics.md): a device
 * no longer configured is cleared, and components a device lost are first published as
 * `{platform}` only, then left out of its final config.
 */
describe('bridge: stale discovery cleanup across restarts', function () {
  this.timeout(20_000);
  const env = bridgeFixture('suite', { filters: ['homeassistant/#', `${BASE}/bridge/#`] });

  const node3Topic = `homeassistant/device/${BOARD_ID}_node3/config`;
  const node7Topic = `homeassistant/device/${BOARD_ID}_node7/config`;
  type Components = Record<string, Record<string, unknown>>;
  const componentsOf = (message: RecordedMessage): Components =>
    (JSON.parse(message.payload) as { components: Components }).components;

  it("clears node 7 after it was disabled, and retires node 3's agent components in two steps", async () => {
    // Real time: the bridge waits 1 s between the reduced and the final configs.
    const clock = systemClock;
    const board = createCountedTpi1(clock);
    const stateDir = env.stateDir;

    await env.start({
      clock,
      bus: board.countingBus,
      sections: { homeassistant: { enabled: true }, nodes: { 3: { agent: true } } },
    });
    const firstNode7 = await env.rec.waitFor(node7Topic);
    const firstNode3 = await env.rec.waitFor(node3Topic);
    assert.ok(firstNode7.payload.length > 0, 'node 7 has a device config');
    const before = componentsOf(firstNode3);
    assert.ok('agent' in before, `node 3 with an agent has agent components (${Object.keys(before).join(', ')})`);
    assert.ok(
      Object.keys(readBridgeState(stateDir).discovery).includes(node7Topic),
      'what was published is indexed in bridge.json',
    );
    await env.stop();

    const mark = env.rec.mark();
    await env.start({
      clock,
      bus: board.countingBus,
      sections: { homeassistant: { enabled: true }, nodes: { 3: { agent: false }, 7: { enabled: false } } },
    });
    await env.rec.waitForPayload(`${BASE}/bridge/state`, 'online', 5000, mark);

    // Node 7: one empty retained payload clears it from HA and from the broker.
    const node7 = env.rec.since(mark, node7Topic);
    assert.deepEqual(
      node7.map((m) => m.payload),
      [''],
      "node 7's config is cleared, and only that",
    );

    // Node 3: the reduced config first, then the final one.
    const node3 = env.rec.since(mark, node3Topic);
    assert.equal(node3.length, 2, `two configs for node 3 (${node3.map((m) => m.payload.slice(0, 80)).join(' | ')})`);
    const [reduced, final] = node3.map(componentsOf) as [Components, Components];
    const removed = Object.keys(before).filter(
      (key) => !(key in final) || final[key]?.platform !== before[key]?.platform,
    );
    assert.ok(removed.includes('agent'), `the agent component is among the removed (${removed.join(', ')})`);
    for (const key of removed) {
      assert.deepEqual(reduced[key], { platform: before[key]?.platform }, `${key} is reduced to its platform first`);
      assert.ok(
        !(key in final) || final[key]?.platform !== before[key]?.platform,
        `${key} is gone from the final config`,
      );
    }
    for (const key of Object.keys(final).filter((k) => !removed.includes(k))) {
      assert.deepEqual(reduced[key], final[key], `${key} is in the reduced config as in the final one`);
    }
    assert.ok(node3[1]!.at - node3[0]!.at >= 900, 'HA gets about a second to process the reduced config');

    // What the broker keeps: nothing for node 7, the final config for node 3.
    const late = await Recorder.connect(env.broker.url, BASE, { filters: [node3Topic, node7Topic] });
    try {
      const retained3 = await late.waitFor(node3Topic);
      assert.deepEqual(componentsOf(retained3), final);
      await delay(200);
      assert.equal(late.last(node7Topic), undefined, 'no retained config for node 7');
    } finally {
      await late.close();
    }
    const index = readBridgeState(stateDir).discovery;
    assert.equal(node7Topic in index, false, 'node 7 is no longer in the index');
    assert.equal('agent' in (index[node3Topic] ?? {}), false, "node 3's index has no agent component");
  });

  it('clears every device it published once homeassistant.enabled is turned off, and publishes none', async () => {
    const clock = systemClock;
    const board = createCountedTpi1(clock);
    const stateDir = env.anotherStateDir();
    const isDevice = (topic: string): boolean => topic.startsWith('homeassistant/device/');
    await env.stop();
    const firstMark = env.rec.mark();
    await env.start({ clock, bus: board.countingBus, sections: { homeassistant: { enabled: true } } }, stateDir);
    await env.rec.waitForPayload(`${BASE}/bridge/state`, 'online', 5000, firstMark);
    const published = new Set(
      env.rec
        .since(firstMark, isDevice)
        .filter((m) => m.payload !== '')
        .map((m) => m.topic),
    );
    assert.equal(published.size, 8, `the board and its 7 nodes (${[...published].join(', ')})`);
    await env.stop();

    const mark = env.rec.mark();
    await env.start({ clock, bus: board.countingBus, sections: { homeassistant: { enabled: false } } }, stateDir);
    await env.rec.waitForPayload(`${BASE}/bridge/state`, 'online', 5000, mark);
    const after = env.rec.since(mark, isDevice);
    assert.deepEqual(new Set(after.map((m) => m.topic)), published, 'each device published before is addressed once');
    assert.equal(after.length, published.size);
    assert.ok(
      after.every((m) => m.payload === ''),
      'and cleared, nothing new published',
    );
    assert.deepEqual(readBridgeState(stateDir).discovery, {}, 'the index is empty: the next start publishes nothing');
    await env.stop();

    const thirdMark = env.rec.mark();
    await env.start({ clock, bus: board.countingBus, sections: { homeassistant: { enabled: false } } }, stateDir);
    await env.rec.waitForPayload(`${BASE}/bridge/state`, 'online', 5000, thirdMark);
    assert.deepEqual(
      env.rec.since(thirdMark, isDevice),
      [],
      'a later start with Home Assistant off touches no discovery topic',
    );
  });
});
