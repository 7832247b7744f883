import assert from 'node:assert/strict';
import { HaPublisher, MAX_BIRTH_WAIT_MS } from '../../src/app/ha-publisher.js';
import { parseConfig, resolveNodes } from '../../src/config/index.js';
import type { MqttConnection } from '../../src/mqtt/connection.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { TPI1 } from '../homeassistant/boards.js';

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
    const config = parseConfig({ board: { type: 'simulator' } });
    const connection = {
      publish: () =>
        publishMs > 0 ? new Promise<void>((resolve) => clock.setTimeout(resolve, publishMs)) : Promise.resolve(),
    } as unknown as MqttConnection;
    publisher = new HaPublisher(
      {
        config,
        nodes: () => resolveNodes(config),
        board: TPI1,
        version: '0.0.0',
        schedules: () => [],
        connection,
        clock,
        logger: silentLogger(),
        previousIndex: {},
        saveIndex: async () => {},
        random: () => 0.5, // 3 s quiet
      },
      async () => {
        statesRepublished++;
      },
    );
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
