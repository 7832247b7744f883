import assert from 'node:assert/strict';
import { startBmcSimulator, type BmcSimulator } from '../../src/board/simulator/bmc-server.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { BASE, advanceUntil, bridgeFixture, delay } from './helpers.js';

/**
 * A BMC that does not answer when the bridge starts: the bridge comes up without knowing the
 * firmware, and once the BMC answers it tells Home Assistant and bridge/info what it now knows
 * (the fan appears, the firmware shows). Commands on the board's set topics follow the rules of
 * every command: a retained one is never acted on.
 */
describe('bridge: a Turing Pi 2 BMC that answers only after the start', function () {
  this.timeout(30_000);
  const env = bridgeFixture('test', { filters: [`${BASE}/#`, 'homeassistant/#'] });
  const password = 'late-bmc-pw';
  let bmc: BmcSimulator | undefined;

  /** Starts a bridge of board id `id` whose BMC does not answer: its port is one nobody listens on. */
  async function startWithBmcDown(id: string): Promise<{ port: number; clock: FakeClock }> {
    const probe = await startBmcSimulator({ password });
    const port = Number(new URL(probe.url).port);
    await probe.close();
    const clock = new FakeClock(Date.now());
    await env.start({
      clock,
      sections: {
        homeassistant: { enabled: true },
        board: { type: 'tpi2', id, bmc: { url: `https://127.0.0.1:${port}`, password, insecure: true } },
      },
    });
    return { port, clock };
  }

  /** The BMC coming up at last at `port`: a 2.5 board with firmware 2.1, node 1 on. */
  const bmcAnswersAt = (port: number): Promise<BmcSimulator> =>
    startBmcSimulator({ password, port, release: '2.1.0', board: '2.5', power: [true, false, false, false] });

  afterEach(async () => {
    await env.stop();
    await bmc?.close();
    bmc = undefined;
  });

  it(
    'publishes the fan entity, the firmware and node names once the BMC answers, and ignores a retained fan ' +
      'command',
    async () => {
      const { port, clock } = await startWithBmcDown('late');
      const discoveryTopic = 'homeassistant/device/late/config';
      const first = JSON.parse((await env.rec.waitFor(discoveryTopic, (m) => m.payload.length > 0)).payload) as {
        device: { sw_version: string };
        components: Record<string, { platform: string }>;
      };
      assert.equal(first.components.fan, undefined, 'nothing known about a fan yet');
      await env.rec.waitForPayload(`${BASE}/board/state`, 'offline');
      const mark = env.rec.mark();

      bmc = await bmcAnswersAt(port);
      await env.run.bridge.poll();
      await env.rec.waitForPayload(`${BASE}/board/state`, 'online', 5000, mark);
      const info = await env.rec.waitFor(
        `${BASE}/bridge/info`,
        (m) => m.payload.includes('"bmcd":"2.3.4"'),
        5000,
        mark,
      );
      assert.equal((JSON.parse(info.payload) as { board: { firmware: string } }).board.firmware, '2.1');
      const later = await env.rec.waitFor(discoveryTopic, (m) => m.payload.includes('"fan"'), 5000, mark);
      const payload = JSON.parse(later.payload) as {
        device: { sw_version: string };
        components: Record<string, { platform: string }>;
      };
      assert.equal(payload.components.fan?.platform, 'fan');
      assert.equal(payload.device.sw_version, '2.1 (bmcd 2.3.4)');
      await env.rec.waitFor(`${BASE}/board/fan`, () => true, 5000, mark);

      // A node renamed on the BMC: its device takes the new name at the next poll.
      const renamed = env.rec.mark();
      bmc.firmware.names[1] = 'renamed-on-bmc';
      await env.run.bridge.poll();
      const node2 = await env.rec.waitFor(
        'homeassistant/device/late_node2/config',
        (m) => m.payload.length > 0,
        5000,
        renamed,
      );
      assert.match((JSON.parse(node2.payload) as { device: { name: string } }).device.name, / renamed-on-bmc$/);

      // A stale command left retained on fan/set: one error event, the fan untouched.
      const before = env.rec.mark();
      await env.rec.publish(`${BASE}/board/fan/set`, '100', { retain: true });
      await env.stop();
      await env.start({
        clock,
        sections: {
          homeassistant: { enabled: true },
          board: { type: 'tpi2', id: 'late', bmc: { url: bmc.url, password, insecure: true } },
        },
      });
      const refused = await env.rec.waitForEvent((e) => /retained/.test(e.error ?? ''), 5000, before);
      assert.match(refused.error ?? '', /board\/fan\/set/);
      await delay(100);
      assert.equal(bmc.firmware.fanLevel, 3, 'the retained command was not acted on');
      await env.rec.publish(`${BASE}/board/fan/set`, '', { retain: true });
    },
  );
  it('sends the discovery the BMC changed while the broker was away once the bridge is back', async () => {
    const { port, clock } = await startWithBmcDown('away');
    const discoveryTopic = 'homeassistant/device/away/config';
    await env.rec.waitFor(discoveryTopic, (m) => m.payload.length > 0);
    await env.rec.waitForPayload(`${BASE}/board/state`, 'offline');
    // The bridge's link drops; it reconnects only when the fake clock says so.
    let seen = 0;
    env.broker.onSubscribe((_filter, clientId) => {
      if (clientId === 'turingpi-away-bridge') seen++;
    });
    env.broker.killClient('turingpi-away-bridge');
    await delay(100);
    bmc = await bmcAnswersAt(port);
    await env.run.bridge.poll(); // the BMC answers now: the fan, the firmware, while no broker hears it
    const mark = env.rec.mark();
    await advanceUntil(clock, () => seen > 0, 'the reconnection');
    const later = await env.rec.waitFor(discoveryTopic, (m) => m.payload.includes('"fan"'), 5000, mark);
    assert.equal(
      (JSON.parse(later.payload) as { device: { sw_version: string } }).device.sw_version,
      '2.1 (bmcd 2.3.4)',
    );
  });
});
