import assert from 'node:assert/strict';
import { connectAsync, type MqttClient } from 'mqtt';
import { FakeClock } from '../../src/util/fake-clock.js';
import { startAedes, type TestBroker } from '../support/aedes.js';
import { Recorder } from '../support/recorder.js';
import { delay, startLibraryBridge, until, type LibraryBridge } from './helpers.js';

/**
 * Issue 6, item 4: Home Assistant restarting, or flapping. Births are answered by ONE discovery
 * republish 1-5 s later however many arrive meanwhile, and the node states HA reads afterwards
 * are the board's. The bridge runs on a FakeClock so that the 6 s quiet periods cost no time.
 */
describe('faults: Home Assistant birth storms', function () {
  this.timeout(30_000);
  let broker: TestBroker;
  let lab: LibraryBridge;
  let rec: Recorder;
  let ha: MqttClient;
  const clock = new FakeClock(Date.now());
  const isDiscovery = (topic: string): boolean => topic.startsWith('homeassistant/') && topic.endsWith('/config');

  before(async () => {
    broker = await startAedes();
    rec = await Recorder.connect(broker.url, 'tp', { filters: ['homeassistant/#', 'tp/#'] });
    lab = await startLibraryBridge(broker.url, {
      clock,
      sections: { homeassistant: { enabled: true }, board: { poll_interval: '1h' } },
    });
    ha = await connectAsync(broker.url, { clientId: 'home-assistant', clean: true, reconnectPeriod: 0 });
  });

  after(async () => {
    await ha?.endAsync(true).catch(() => undefined);
    await rec?.close();
    await lab?.bridge.stop();
    await broker?.close();
  });

  /** Publishes a birth or a will as Home Assistant does (on homeassistant/status, not retained). */
  const status = (word: 'online' | 'offline') =>
    ha.publishAsync('homeassistant/status', word, { qos: 1, retain: false });

  /** Lets the bridge's timers run for `ms` of fake time, and the network catch up. */
  async function pass(ms: number): Promise<void> {
    await clock.advance(ms);
    await delay(150);
  }

  it('republishes discovery once per birth after the delay, and never loses the node states', async () => {
    await until(() => rec.since(0, isDiscovery).length > 0, 'discovery at start', 5000);
    await delay(300);
    const setSize = rec.since(0, isDiscovery).length;
    assert.ok(setSize >= 7, `one discovery set is at least a config per node (${setSize})`);

    // A storm: 20 births, with a will between each, within 0.8 s (less than the shortest
    // delay, 1 s, so no republish may come during the storm whatever the random delay).
    const stormMark = rec.mark();
    for (let i = 0; i < 20; i++) {
      await status('online');
      await status('offline');
      await clock.advance(40);
    }
    await delay(200);
    assert.equal(rec.since(stormMark, isDiscovery).length, 0, 'nothing is republished before the delay');
    await pass(5000);
    const afterStorm = rec.since(stormMark, isDiscovery).length;
    await pass(6000);
    assert.equal(rec.since(stormMark, isDiscovery).length, afterStorm, 'nothing more after the quiet period');
    assert.equal(afterStorm, setSize, '20 births in a second: one discovery set');

    // Three restarts spaced by 6 s: one set each.
    const spacedMark = rec.mark();
    for (let i = 0; i < 3; i++) {
      await status('offline');
      await status('online');
      await delay(100);
      await pass(6000);
    }
    const spaced = rec.since(spacedMark, isDiscovery).length;
    assert.equal(spaced, 3 * setSize, '3 births 6 s apart: three sets');

    // What a restarted Home Assistant reads now: retained, and equal to the board.
    const reader = await Recorder.connect(broker.url, 'tp', {
      filters: ['tp/node/+/power', 'tp/bridge/state', 'tp/board/state'],
    });
    try {
      await until(
        () => reader.messages.filter((m) => /\/power$/.test(m.topic)).length >= 7,
        'the retained power of 7 nodes',
        3000,
      );
      for (let n = 1; n <= 7; n++) {
        const retained = reader.last(`tp/node/${n}/power`);
        assert.equal(retained?.retain, true);
        assert.equal(retained?.payload, lab.sim.ds4520.nodePowered(n) ? 'ON' : 'OFF', `node ${n}`);
      }
      assert.equal(reader.last('tp/bridge/state')?.payload, 'online');
      assert.equal(reader.last('tp/board/state')?.payload, 'online');
    } finally {
      await reader.close();
    }
    console.log(
      `      home assistant restarts: storm of 20 births + 20 wills in 1 s -> 1 discovery republish ` +
        `(${afterStorm} configs); 3 births 6 s apart -> 3 republishes; 7/7 node power states retained and correct`,
    );
  });
});
