import assert from 'node:assert/strict';
import type { PolicyEvent } from '../../src/schedule/policy-event.js';
import { Thermal } from '../../src/schedule/thermal.js';
import { FakeClock } from '../../src/util/fake-clock.js';

describe('thermal policy', () => {
  let acted: { node: number; action: string }[];
  let events: PolicyEvent[];
  let paused: boolean;
  let thermal: Thermal;

  beforeEach(() => {
    acted = [];
    events = [];
    paused = false;
    thermal = new Thermal({
      nodes: [3, 4],
      maxCelsius: 85,
      clearCelsius: 75,
      action: 'shutdown',
      isPaused: () => paused,
      clock: new FakeClock(),
      act: (node, action) => {
        acted.push({ node, action });
        return Promise.resolve();
      },
      onEvent: (event) => events.push(event),
    });
    thermal.agentState(3, 'online');
    thermal.agentState(4, 'online');
  });

  it('shuts a node down once when it goes above max_celsius', async () => {
    await thermal.temperature(3, 84);
    await thermal.temperature(3, 85); // at the limit is not above it
    assert.equal(acted.length, 0);
    await thermal.temperature(3, 86);
    assert.deepEqual(acted, [{ node: 3, action: 'shutdown' }]);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.type, 'thermal');
    assert.equal(events[0]?.result, 'ok');
    assert.match(events[0]!.reason, /86 °C above max_celsius 85 °C/);
  });

  it(
    'pauses while the bridge has lost the broker, and acts at the first hot reading after the ' + 'reconnection',
    async () => {
      thermal.brokerConnection(false);
      await thermal.temperature(3, 95);
      assert.deepEqual(acted, []);
      thermal.brokerConnection(true);
      // Retained telemetry may come before the agent's retained state: not yet known to be online.
      await thermal.temperature(3, 95);
      assert.deepEqual(acted, []);
      thermal.agentState(3, 'online');
      await thermal.temperature(3, 95);
      assert.deepEqual(acted, [{ node: 3, action: 'shutdown' }]);
    },
  );

  it('does not act again until the node has been below clear_celsius', async () => {
    await thermal.temperature(3, 90);
    await thermal.temperature(3, 91);
    await thermal.temperature(3, 80); // cooler, but not below clear
    await thermal.temperature(3, 88);
    assert.equal(acted.length, 1);
    await thermal.temperature(3, 74);
    await thermal.temperature(3, 87);
    assert.equal(acted.length, 2);
  });

  it('keeps nodes apart', async () => {
    await thermal.temperature(3, 90);
    await thermal.temperature(4, 90);
    assert.deepEqual(
      acted.map((a) => a.node),
      [3, 4],
    );
  });

  it('is paused by maintenance, says so once, and acts when maintenance ends if still hot', async () => {
    paused = true;
    await thermal.temperature(3, 90);
    await thermal.temperature(3, 91);
    assert.equal(acted.length, 0);
    assert.equal(events.length, 1);
    assert.match(events[0]!.error!, /maintenance is ON/);
    paused = false;
    await thermal.temperature(3, 90);
    assert.equal(acted.length, 1);
  });

  it('ignores null temperatures and nodes it does not watch', async () => {
    await thermal.temperature(3, null);
    await thermal.temperature(5, 100);
    assert.equal(acted.length, 0);
    assert.equal(events.length, 0);
  });

  it('does not act again on a tripped node after a lost and regained broker', async () => {
    await thermal.temperature(3, 95);
    thermal.brokerConnection(false);
    thermal.brokerConnection(true);
    thermal.agentState(3, 'online');
    await thermal.temperature(3, 95); // the retained reading, sent again at the resubscription
    assert.equal(acted.length, 1);
  });

  it('ignores the readings of an agent that is not online, and forgets the last one when it goes', async () => {
    thermal.agentState(3, 'offline');
    await thermal.temperature(3, 95);
    assert.equal(acted.length, 0);
    paused = true;
    thermal.agentState(4, 'online');
    await thermal.temperature(4, 95);
    thermal.agentState(4, 'offline');
    paused = false;
    await thermal.maintenanceEnded();
    assert.equal(acted.length, 0, 'a reading of an agent gone since is not acted on');
  });

  it('acts on the last reading when maintenance ends, once', async () => {
    paused = true;
    await thermal.temperature(3, 90);
    await thermal.temperature(4, 60);
    paused = false;
    await thermal.maintenanceEnded();
    await thermal.maintenanceEnded();
    assert.deepEqual(acted, [{ node: 3, action: 'shutdown' }]);
  });

  it('tries a failed action again at a reading after a back-off that doubles', async () => {
    const clock = new FakeClock();
    let fail = true;
    thermal = new Thermal({
      nodes: [3],
      maxCelsius: 85,
      clearCelsius: 75,
      action: 'shutdown',
      isPaused: () => false,
      clock,
      act: (node, action) => {
        acted.push({ node, action });
        return fail ? Promise.reject(new Error('node 3 is busy')) : Promise.resolve();
      },
      onEvent: (event) => events.push(event),
    });
    thermal.agentState(3, 'online');
    await thermal.temperature(3, 95);
    await clock.advance(59_000);
    await thermal.temperature(3, 96);
    assert.equal(acted.length, 1, 'not again within a minute');
    await clock.advance(1_000);
    await thermal.temperature(3, 95);
    assert.equal(acted.length, 2, 'again a minute after');
    await clock.advance(60_000);
    await thermal.temperature(3, 96);
    assert.equal(acted.length, 2, 'the second wait is two minutes');
    fail = false;
    await clock.advance(60_000);
    await thermal.temperature(3, 95);
    assert.equal(acted.length, 3);
    await thermal.temperature(3, 96);
    assert.equal(acted.length, 3, 'done: tripped');
    assert.match(events[0]!.error!, /shutdown failed: node 3 is busy; tried again/);
  });

  it('reports a failed action as an error event and does not retry per sample', async () => {
    thermal = new Thermal({
      nodes: [3],
      maxCelsius: 85,
      clearCelsius: 75,
      action: 'off',
      isPaused: () => false,
      clock: new FakeClock(),
      act: () => Promise.reject(new Error('node 3 is protected')),
      onEvent: (event) => events.push(event),
    });
    thermal.agentState(3, 'online');
    await thermal.temperature(3, 95);
    await thermal.temperature(3, 96);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.action, 'off');
    assert.match(events[0]!.error!, /off failed: node 3 is protected/);
  });

  it('tries a failed action again a minute later even when the clock stepped back meanwhile', async () => {
    const clock = new FakeClock(Date.UTC(2027, 0, 1));
    thermal = new Thermal({
      nodes: [3],
      maxCelsius: 85,
      clearCelsius: 75,
      action: 'shutdown',
      isPaused: () => false,
      clock,
      act: (node, action) => {
        acted.push({ node, action });
        return acted.length === 1 ? Promise.reject(new Error('node 3 is busy')) : Promise.resolve();
      },
      onEvent: (event) => events.push(event),
    });
    thermal.agentState(3, 'online');
    await thermal.temperature(3, 95);
    clock.step(Date.UTC(2026, 0, 1)); // NTP sets right a clock that was a year ahead
    await clock.advance(60_000);
    await thermal.temperature(3, 95);
    assert.equal(acted.length, 2, 'a hot node is not left alone for a year');
  });
});
