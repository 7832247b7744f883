import assert from 'node:assert/strict';
import type { PolicyEvent } from '../../src/schedule/policy-event.js';
import { Watchdog } from '../../src/schedule/watchdog.js';
import { FakeClock } from '../../src/util/fake-clock.js';

const MINUTE = 60_000;

describe('watchdog policy', () => {
  let clock: FakeClock;
  let cycled: { node: number; at: number }[];
  let events: PolicyEvent[];
  let paused: boolean;
  let cycleFails: boolean;
  let watchdog: Watchdog;

  beforeEach(() => {
    clock = new FakeClock(Date.UTC(2026, 2, 1, 12, 0, 0));
    cycled = [];
    events = [];
    paused = false;
    cycleFails = false;
    watchdog = new Watchdog({
      nodes: [2, 3],
      offlineAfterMs: 10 * MINUTE,
      maxPerHour: 2,
      clock,
      isPaused: () => paused,
      powerCycle: (node) => {
        cycled.push({ node, at: clock.now() });
        return cycleFails ? Promise.reject(new Error('board not answering')) : Promise.resolve();
      },
      onEvent: (event) => events.push(event),
    });
  });

  afterEach(() => watchdog.stop());

  /** Node 3 powered and its agent online, then the agent goes offline now. */
  function hangNode3(): void {
    watchdog.power(3, true);
    watchdog.agentState(3, 'online');
    watchdog.agentState(3, 'offline');
  }

  it('power-cycles a node whose agent has been offline for offline_after while power is ON', async () => {
    hangNode3();
    await clock.advance(10 * MINUTE - 1);
    assert.equal(cycled.length, 0);
    await clock.advance(1);
    assert.deepEqual(
      cycled.map((c) => c.node),
      [3],
    );
    assert.equal(events.length, 1);
    assert.equal(events[0]?.type, 'watchdog');
    assert.equal(events[0]?.action, 'power_cycle');
    assert.equal(events[0]?.result, 'ok');
    assert.equal(events[0]?.source, 'policy');
    assert.equal(events[0]?.node, 3);
    assert.match(events[0]!.reason, /agent offline for 10m while power is ON/);
  });

  it('pauses while the bridge has lost the broker: offline_after starts again at the reconnection', async () => {
    hangNode3();
    await clock.advance(8 * MINUTE);
    watchdog.brokerConnection(false);
    await clock.advance(30 * MINUTE);
    assert.deepEqual(cycled, [], 'no power cycle during the outage');
    assert.equal(watchdog.isHung(3), false);
    watchdog.brokerConnection(true);
    const back = clock.now();
    // The agent's retained state has not come (yet): it is unknown from the reconnection on.
    await clock.advance(10 * MINUTE - 1);
    assert.deepEqual(cycled, [], 'not before a full offline_after after the reconnection');
    await clock.advance(1);
    assert.deepEqual(cycled, [{ node: 3, at: back + 10 * MINUTE }]);
  });

  it('never power-cycles a healthy node across a broker outage longer than offline_after', async () => {
    watchdog.power(3, true);
    watchdog.agentState(3, 'online');
    watchdog.brokerConnection(false);
    await clock.advance(60 * MINUTE);
    // Reconnected: the agent's retained online comes with the renewed subscription.
    watchdog.agentState(3, 'online');
    watchdog.brokerConnection(true);
    await clock.advance(60 * MINUTE);
    assert.deepEqual(cycled, []);
  });

  it('does nothing while the power is OFF, however long the agent is away', async () => {
    watchdog.power(3, false);
    watchdog.agentState(3, 'offline');
    await clock.advance(3 * 60 * MINUTE);
    assert.equal(cycled.length, 0);
    assert.equal(events.length, 0);
  });

  it('counts offline time only while power is ON', async () => {
    watchdog.power(3, false);
    watchdog.agentState(3, 'offline');
    await clock.advance(30 * MINUTE);
    watchdog.power(3, true);
    await clock.advance(9 * MINUTE);
    assert.equal(cycled.length, 0);
    await clock.advance(MINUTE);
    assert.equal(cycled.length, 1);
  });

  it('forgets an agent that comes back online in time', async () => {
    hangNode3();
    await clock.advance(9 * MINUTE);
    watchdog.agentState(3, 'online');
    await clock.advance(60 * MINUTE);
    assert.equal(cycled.length, 0);
  });

  it('restarts the offline timer after a cycle', async () => {
    hangNode3();
    await clock.advance(10 * MINUTE);
    assert.equal(cycled.length, 1);
    await clock.advance(10 * MINUTE - 1);
    assert.equal(cycled.length, 1);
    await clock.advance(1);
    assert.deepEqual(
      cycled.map((c) => c.at - cycled[0]!.at),
      [0, 10 * MINUTE],
    );
  });

  it('cycles at most max_per_hour in a sliding hour, and says so once when it refuses', async () => {
    hangNode3();
    await clock.advance(30 * MINUTE); // cycles at 10 and 20 min; refused at 30
    assert.equal(cycled.length, 2);
    const refusals = events.filter((e) => e.result === 'error');
    assert.equal(refusals.length, 1);
    assert.match(refusals[0]!.error!, /already 2 watchdog power cycles in the last hour \(max_per_hour 2\)/);
    await clock.advance(39 * MINUTE); // 69 min: the first cycle (at 10 min) is still inside the hour
    assert.equal(cycled.length, 2);
    await clock.advance(MINUTE); // 70 min: it has left the hour
    assert.equal(cycled.length, 3);
    assert.equal(events.filter((e) => e.result === 'error').length, 1);
  });

  it('shares the hourly cap among all nodes', async () => {
    hangNode3();
    watchdog.power(2, true);
    watchdog.agentState(2, 'offline');
    await clock.advance(10 * MINUTE);
    assert.equal(cycled.length, 2);
    await clock.advance(10 * MINUTE);
    assert.equal(cycled.length, 2);
    assert.equal(events.filter((e) => e.result === 'error').length, 2); // one refusal per node
  });

  it('is paused by maintenance, says so once, and acts offline_after after maintenance ends', async () => {
    paused = true;
    hangNode3();
    await clock.advance(30 * MINUTE);
    assert.equal(cycled.length, 0);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.result, 'error');
    assert.match(events[0]!.error!, /maintenance is ON/);
    paused = false;
    // Noticed within a minute; whoever worked on the node gets a whole offline_after from then.
    await clock.advance(MINUTE);
    assert.equal(cycled.length, 0, 'not at once when maintenance ends');
    await clock.advance(10 * MINUTE - 1);
    assert.equal(cycled.length, 0);
    await clock.advance(1);
    assert.equal(cycled.length, 1);
    assert.match(events.at(-1)!.reason, /agent offline for 10m while power is ON/);
  });

  it('leaves a node alone whose agent comes back in the offline_after after maintenance', async () => {
    paused = true;
    hangNode3();
    await clock.advance(30 * MINUTE);
    paused = false;
    await clock.advance(5 * MINUTE);
    watchdog.agentState(3, 'online');
    await clock.advance(60 * MINUTE);
    assert.equal(cycled.length, 0);
  });

  it('counts the power cycles of earlier runs against max_per_hour, and saves each before it is made', async () => {
    watchdog.stop();
    const saved: number[][] = [];
    const now = clock.now();
    watchdog = new Watchdog({
      nodes: [3],
      offlineAfterMs: 10 * MINUTE,
      maxPerHour: 2,
      clock,
      isPaused: () => false,
      // An earlier run's cycles 49 and 5 minutes ago, out of order, one from two hours ago.
      earlierCycles: [now - 5 * MINUTE, now - 120 * MINUTE, now - 49 * MINUTE],
      saveCycles: async (cycles) => {
        saved.push([...cycles]);
      },
      powerCycle: (node) => {
        cycled.push({ node, at: clock.now() });
        assert.equal(saved.length, cycled.length, 'saved before the cycle');
        return Promise.resolve();
      },
      onEvent: (event) => events.push(event),
    });
    hangNode3();
    await clock.advance(10 * MINUTE);
    assert.equal(cycled.length, 0, 'two cycles in the last hour already');
    assert.match(events.at(-1)!.error ?? '', /already 2 watchdog power cycles in the last hour/);
    // The one of 49 minutes ago leaves the hour 11 minutes after the start.
    await clock.advance(MINUTE - 1);
    assert.equal(cycled.length, 0);
    await clock.advance(1);
    assert.equal(cycled.length, 1);
    assert.deepEqual(saved, [[now - 5 * MINUTE, now + 11 * MINUTE]]);
  });

  for (const [direction, by] of [
    ['forward', 365 * 24 * 60 * MINUTE],
    ['back', -365 * 24 * 60 * MINUTE],
  ] as const) {
    it(`keeps max_per_hour's hour when the clock steps ${direction} a year (NTP, date -s)`, async () => {
      hangNode3();
      await clock.advance(20 * MINUTE); // cycles at 10 and 20 min
      assert.equal(cycled.length, 2);
      clock.step(clock.now() + by);
      await clock.advance(49 * MINUTE); // 69 min: the first cycle is still inside the hour
      assert.equal(cycled.length, 2, 'no third cycle within the hour');
      await clock.advance(MINUTE);
      assert.equal(cycled.length, 3, 'the third once the first has left the hour');
      // Away since the second cycle (20 min), 50 min of real time, whatever the wall clock says.
      assert.match(events.at(-1)!.reason, /agent offline for 50m while power is ON/);
    });
  }

  it('waits a whole offline_after of real time when the clock steps forward a year meanwhile', async () => {
    hangNode3();
    await clock.advance(MINUTE);
    clock.step(clock.now() + 365 * 24 * 60 * MINUTE); // NTP answers
    await clock.advance(9 * MINUTE - 1);
    assert.equal(cycled.length, 0, 'offline_after did not pass in an instant');
    await clock.advance(1);
    assert.equal(cycled.length, 1);
    assert.match(events.at(-1)!.reason, /agent offline for 10m while power is ON/);
  });

  it('saves the earlier cycles as wall-clock times, right across a step of the clock', async () => {
    watchdog.stop();
    const saved: number[][] = [];
    const now = clock.now();
    watchdog = new Watchdog({
      nodes: [3],
      offlineAfterMs: 10 * MINUTE,
      maxPerHour: 3,
      clock,
      isPaused: () => false,
      earlierCycles: [now - 5 * MINUTE],
      saveCycles: async (cycles) => {
        saved.push([...cycles]);
      },
      powerCycle: () => Promise.resolve(),
      onEvent: (event) => events.push(event),
    });
    hangNode3();
    clock.step(now + 60 * MINUTE); // an hour forward, in an instant
    await clock.advance(10 * MINUTE);
    assert.deepEqual(saved, [[now + 55 * MINUTE, now + 70 * MINUTE]], 'the earlier one 15 minutes before');
  });

  it('leaves a node alone whose agent said shutting_down', async () => {
    watchdog.power(3, true);
    watchdog.agentState(3, 'online');
    watchdog.agentState(3, 'shutting_down');
    watchdog.agentState(3, 'offline'); // the OS halted; power still on
    await clock.advance(2 * 60 * MINUTE);
    assert.equal(cycled.length, 0);
  });

  it('leaves a node alone during a graceful off the bridge announced with expectDown', async () => {
    watchdog.power(3, true);
    watchdog.agentState(3, 'online');
    watchdog.expectDown(3);
    watchdog.agentState(3, 'offline');
    await clock.advance(2 * 60 * MINUTE);
    assert.equal(cycled.length, 0);
    // Switched off and on again: the agent must come back this time.
    watchdog.power(3, false);
    watchdog.power(3, true);
    await clock.advance(10 * MINUTE);
    assert.equal(cycled.length, 1);
  });

  it('counts an agent never heard from as offline from the time power is seen ON', async () => {
    watchdog.power(2, true);
    await clock.advance(10 * MINUTE);
    assert.deepEqual(
      cycled.map((c) => c.node),
      [2],
    );
  });

  it('reports a failed power cycle as an error event', async () => {
    cycleFails = true;
    hangNode3();
    await clock.advance(10 * MINUTE);
    assert.equal(events[0]?.result, 'error');
    assert.match(events[0]!.error!, /power cycle failed: board not answering/);
  });

  it('ignores nodes it does not watch', async () => {
    watchdog.power(5, true);
    watchdog.agentState(5, 'offline');
    await clock.advance(60 * MINUTE);
    assert.equal(cycled.length, 0);
  });

  describe('auto nodes (agent: auto)', () => {
    let agentNodes: Set<number>;
    let lost: number[];
    let autoWatchdog: Watchdog;

    /** A watchdog of node 3 (up to 10 cycles an hour) that records its cycles and events. */
    function node3Watchdog(isAgentNode: (n: number) => boolean, agentLost: (n: number) => boolean): Watchdog {
      return new Watchdog({
        nodes: [3],
        isAgentNode,
        agentLost,
        offlineAfterMs: 10 * MINUTE,
        maxPerHour: 10,
        clock,
        isPaused: () => false,
        powerCycle: (node) => {
          cycled.push({ node, at: clock.now() });
          return Promise.resolve();
        },
        onEvent: (event) => events.push(event),
      });
    }

    beforeEach(() => {
      agentNodes = new Set([3]);
      lost = [];
      autoWatchdog = node3Watchdog(
        (n) => agentNodes.has(n),
        // Node 3 is auto: it drops out (as AgentNodes.forget does).
        (n) => {
          lost.push(n);
          return agentNodes.delete(n);
        },
      );
    });

    afterEach(() => autoWatchdog.stop());

    it('never counts a node hung before it is an agent node', async () => {
      agentNodes.clear();
      autoWatchdog.power(3, true);
      await clock.advance(60 * MINUTE);
      assert.deepEqual(cycled, []);
    });

    it('an agent still away offline_after after a power cycle: no second cycle, the node drops out', async () => {
      autoWatchdog.power(3, true);
      autoWatchdog.agentState(3, 'online');
      autoWatchdog.agentState(3, 'offline');
      await clock.advance(10 * MINUTE);
      assert.equal(cycled.length, 1);
      autoWatchdog.power(3, false);
      autoWatchdog.power(3, true); // the cycle: off, then on again
      await clock.advance(10 * MINUTE);
      assert.equal(cycled.length, 1, 'not cycled a second time');
      assert.deepEqual(lost, [3]);
      assert.match(
        events.at(-1)?.error ?? '',
        /did not come back after the last power cycle; node 3 counts as agentless/,
      );
      await clock.advance(5 * 60 * MINUTE);
      assert.equal(cycled.length, 1, 'and never again while its agent stays away');
    });

    it('an agent that comes back after the cycle keeps the node watched', async () => {
      autoWatchdog.power(3, true);
      autoWatchdog.agentState(3, 'offline');
      await clock.advance(10 * MINUTE);
      autoWatchdog.agentState(3, 'online');
      autoWatchdog.agentState(3, 'offline');
      await clock.advance(10 * MINUTE);
      assert.equal(cycled.length, 2);
      assert.deepEqual(lost, []);
    });

    it('a node that does not drop out (agent: true) is cycled again, up to max_per_hour', async () => {
      autoWatchdog.stop();
      autoWatchdog = node3Watchdog(
        () => true,
        () => false,
      );
      autoWatchdog.power(3, true);
      await clock.advance(30 * MINUTE);
      assert.equal(cycled.length, 3);
    });
  });
});
