import assert from 'node:assert/strict';
import type { NodeAction } from '../../src/power/types.js';
import { rig } from './helpers.js';

/**
 * PowerService on the real Turing Pi 1 driver over the simulated chips, in fake time
 * (serialized, verified writes; on_stagger; min_off_time; protected nodes;
 * graceful sequences with the agent; what a stop leaves behind).
 */
describe('PowerService', () => {
  describe('writes', () => {
    it('serializes the writes of several nodes switched at once, and verifies each', async () => {
      const r = await rig({ power: { on_stagger: 0, min_off_time: 0 } });
      const results = await r.finish(r.service.executeMany([2, 3, 4, 5], 'off', 'mqtt'));
      assert.deepEqual(
        results.map((x) => [x.node, x.ok, x.power]),
        [
          [2, true, false],
          [3, true, false],
          [4, true, false],
          [5, true, false],
        ],
      );
      assert.equal(r.maxConcurrentWrites, 1);
      for (const n of [2, 3, 4, 5]) assert.equal(r.powered(n), false);
      for (const n of [1, 6, 7]) assert.equal(r.powered(n), true, `node ${n} untouched`);
    });

    it('writes nothing for a node that is already as asked', async () => {
      const r = await rig();
      const result = await r.finish(r.service.execute(4, 'on', 'mqtt'));
      assert.equal(result.ok, true);
      assert.equal(result.note, 'already on');
      assert.deepEqual(r.writes, []);
    });

    it('starts nodes switched on together on_stagger apart', async () => {
      const r = await rig({ power: { on_stagger: '2s', min_off_time: 0 } });
      for (const n of [2, 3, 4]) await r.setDirectly(n, false);
      const results = await r.finish(r.service.executeMany([2, 3, 4], 'on', 'schedule'));
      assert.ok(results.every((x) => x.ok && x.power === true));
      const ons = r.writes.filter((w) => w.on);
      assert.equal(ons.length, 3);
      for (let i = 1; i < ons.length; i++) {
        const gap = (ons[i]?.at ?? 0) - (ons[i - 1]?.at ?? 0);
        assert.ok(gap >= 2000, `ON ${i} came ${gap} ms after the one before`);
      }
    });

    it('delays (does not drop) an ON within min_off_time of the OFF, and says by how much', async () => {
      const r = await rig({ power: { min_off_time: '3s', on_stagger: 0 } });
      await r.finish(r.service.execute(5, 'off', 'mqtt'));
      const offAt = r.writes.find((w) => !w.on)?.at ?? 0;
      const result = await r.finish(r.service.execute(5, 'on', 'mqtt'));
      assert.equal(result.ok, true);
      assert.equal(result.power, true);
      assert.match(result.note ?? '', /^delayed 3s by min_off_time$/);
      const onAt = r.writes.find((w) => w.on)?.at ?? 0;
      assert.ok(onAt - offAt >= 3000, `ON ${onAt - offAt} ms after OFF`);
      assert.ok(r.events.some((e) => e.node === 5 && e.result === 'progress' && /min_off_time/.test(e.message ?? '')));
      assert.equal(r.powered(5), true);
    });

    it('says a delay in seconds as people read them, and its final event says what happened', async () => {
      const r = await rig({ power: { min_off_time: '2500ms', on_stagger: 0 } });
      await r.finish(r.service.execute(5, 'off', 'mqtt'));
      const result = await r.finish(r.service.execute(5, 'on', 'mqtt'));
      assert.equal(result.note, 'delayed 2.5s by min_off_time');
      const mine = r.events.filter((e) => e.node === 5 && e.action === 'on');
      assert.deepEqual(
        mine.map((e) => [e.result, e.message]),
        [
          ['progress', 'delayed 2.5s by min_off_time'],
          ['ok', 'switched on'],
        ],
      );
    });
  });

  describe('protected node 1', () => {
    const refused: NodeAction[] = ['off', 'force-off', 'shutdown', 'toggle', 'reboot'];
    for (const action of refused) {
      it(`refuses ${action} from every source and writes nothing`, async () => {
        const r = await rig({ power: { reboot_mode: 'hard' } });
        for (const source of ['mqtt', 'schedule', 'policy', 'cli', 'startup'] as const) {
          const result = await r.finish(r.service.execute(1, action, source));
          assert.equal(result.ok, false);
          assert.match(result.error ?? '', /node 1 is protected/);
        }
        assert.deepEqual(r.writes, []);
        assert.equal(r.powered(1), true);
        assert.equal(r.events.filter((e) => e.result === 'error').length, 5);
      });
    }

    it('refuses a watchdog power cycle', async () => {
      const r = await rig();
      const result = await r.finish(r.service.powerCycle(1, 'policy'));
      assert.equal(result.ok, false);
      assert.match(result.error ?? '', /protected/);
      assert.deepEqual(r.writes, []);
    });

    it('allows ON (it is already on: nothing written)', async () => {
      const r = await rig();
      assert.equal((await r.finish(r.service.execute(1, 'on', 'mqtt'))).ok, true);
      assert.deepEqual(r.writes, []);
    });
  });

  describe('SHUTDOWN of a node without an agent', () => {
    it('is refused with an error that names FORCE_OFF, and nothing is written (agent: auto, never seen)', async () => {
      const r = await rig();
      for (const source of ['mqtt', 'schedule', 'cli'] as const) {
        const result = await r.finish(r.service.execute(5, 'shutdown', source));
        assert.equal(result.ok, false);
        assert.match(
          result.error ?? '',
          /node 5 has no agent \(no agent has been seen on node 5\).*nothing was cut.*FORCE_OFF/,
        );
      }
      assert.deepEqual(r.writes, []);
      assert.equal(r.powered(5), true);
      assert.deepEqual(r.sent, []);
    });

    it('says agent: false where the config says so; OFF of the same node still cuts at once', async () => {
      const r = await rig({ nodes: { 5: { agent: false } } });
      const refused = await r.finish(r.service.execute(5, 'shutdown', 'mqtt'));
      assert.match(refused.error ?? '', /nodes\.5\.agent is false/);
      const off = await r.finish(r.service.execute(5, 'off', 'mqtt'));
      assert.equal(off.ok, true);
      assert.deepEqual(
        r.writes.map((w) => [w.node, w.on]),
        [[5, false]],
      );
    });

    it('of a node already off is "already off", not an error', async () => {
      const r = await rig();
      await r.setDirectly(6, false);
      const result = await r.finish(r.service.execute(6, 'shutdown', 'schedule'));
      assert.equal(result.ok, true);
      assert.equal(result.note, 'already off');
    });
  });

  it('refuses REBOOT of a node that is off and does not switch it on', async () => {
    const r = await rig();
    await r.setDirectly(6, false);
    const result = await r.finish(r.service.execute(6, 'reboot', 'mqtt'));
    assert.equal(result.ok, false);
    assert.match(result.error ?? '', /node 6 is off/);
    assert.equal(r.powered(6), false);
    assert.deepEqual(r.writes, []);
  });

  it('refuses a hard REBOOT of a node switched off elsewhere since the last poll, never switching it on', async () => {
    const r = await rig({ power: { reboot_mode: 'hard' } });
    await r.switchElsewhere(6, false);
    assert.equal(r.view.power(6), true, 'the last poll read it on');
    const result = await r.finish(r.service.execute(6, 'reboot', 'mqtt'));
    assert.equal(result.ok, false);
    assert.match(result.error ?? '', /node 6 is off/);
    assert.equal(r.powered(6), false);
    assert.deepEqual(r.writes, []);
    assert.equal(r.view.power(6), false, 'the model takes the reading made now');
  });

  it("TOGGLE flips the power the board reads now, not the last poll's (switched elsewhere since)", async () => {
    const r = await rig({ power: { off_mode: 'hard', min_off_time: 0, on_stagger: 0 } });
    await r.switchElsewhere(6, false);
    assert.equal(r.view.power(6), true, 'the last poll read it on');
    const on = await r.finish(r.service.execute(6, 'toggle', 'mqtt'));
    assert.equal(on.ok, true);
    assert.equal(on.power, true);
    assert.equal(r.powered(6), true, 'switched on: it was off');
    assert.deepEqual(
      r.writes.map((w) => [w.node, w.on]),
      [[6, true]],
    );
    await r.finish(r.service.execute(6, 'off', 'mqtt'));
    await r.switchElsewhere(6, true);
    assert.equal(r.view.power(6), false, 'the last reading: off');
    const off = await r.finish(r.service.execute(6, 'toggle', 'mqtt'));
    assert.equal(off.power, false);
    assert.equal(r.powered(6), false, 'switched off: it was on');
  });

  describe('graceful off with an agent', () => {
    const config = {
      nodes: { 3: { agent: true } },
      power: { settle_time: '5s', graceful_timeout: '30s', min_off_time: 0, on_stagger: 0 },
    };

    it('asks the agent, waits for it to go, waits settle_time, then cuts', async () => {
      const r = await rig(config);
      r.agents.update(3, 'online');
      const done = r.service.execute(3, 'off', 'mqtt');
      await r.clock.advance(10);
      assert.deepEqual(r.sent, [{ node: 3, word: 'SHUTDOWN' }]);
      assert.equal(r.view.state(3), 'shutting_down');
      r.agents.update(3, 'shutting_down');
      await r.clock.advance(2000);
      r.agents.update(3, 'offline');
      const goneAt = r.clock.now();
      await r.clock.advance(4900);
      assert.equal(r.writes.length, 0, 'cut before settle_time passed');
      assert.equal(r.powered(3), true);
      const result = await r.finish(done);
      assert.equal(result.ok, true);
      assert.equal(r.powered(3), false);
      assert.equal(r.view.state(3), 'off');
      assert.deepEqual(
        r.writes.map((w) => [w.node, w.on]),
        [[3, false]],
      );
      assert.ok((r.writes[0]?.at ?? 0) - goneAt >= 5000);
      assert.ok(r.events.some((e) => e.node === 3 && e.result === 'progress' && /waiting 5s/.test(e.message ?? '')));
    });

    it('cuts nothing when the agent is not online, and says to use FORCE_OFF', async () => {
      const r = await rig(config);
      r.agents.update(3, 'offline');
      const result = await r.finish(r.service.execute(3, 'off', 'mqtt'));
      assert.equal(result.ok, false);
      assert.match(result.error ?? '', /FORCE_OFF/);
      assert.deepEqual(r.sent, []);
      assert.deepEqual(r.writes, []);
      assert.equal(r.powered(3), true);
      // FORCE_OFF then does cut at once.
      assert.equal((await r.finish(r.service.execute(3, 'force-off', 'mqtt'))).ok, true);
      assert.equal(r.powered(3), false);
    });

    it('cuts nothing when the OS does not go down within graceful_timeout', async () => {
      const r = await rig(config);
      r.agents.update(3, 'online');
      const done = r.service.execute(3, 'shutdown', 'schedule');
      await r.clock.advance(10);
      r.agents.update(3, 'shutting_down');
      const result = await r.finish(done);
      assert.equal(result.ok, false);
      assert.match(result.error ?? '', /did not go down within 30s.*FORCE_OFF/);
      assert.deepEqual(r.writes, []);
      assert.equal(r.powered(3), true);
      assert.equal(r.view.state(3), 'on');
    });

    it('cuts nothing when the agent comes back online (its shutdown command failed)', async () => {
      const r = await rig(config);
      r.agents.update(3, 'online');
      const done = r.service.execute(3, 'off', 'mqtt');
      await r.clock.advance(10);
      r.agents.update(3, 'shutting_down');
      await r.clock.advance(500);
      r.agents.update(3, 'online');
      const result = await r.finish(done);
      assert.equal(result.ok, false);
      assert.match(result.error ?? '', /power stays on/);
      // The node is named once, by whoever prints the answer or the event ("node 3: ..."), not again inside.
      assert.doesNotMatch(result.error ?? '', /node 3/);
      assert.deepEqual(r.writes, []);
      assert.equal(r.powered(3), true);
    });

    it('cuts nothing when the agent reports that its command failed', async () => {
      const r = await rig(config);
      r.agents.update(3, 'online');
      const done = r.service.execute(3, 'off', 'mqtt');
      await r.clock.advance(10);
      r.agents.reportFailure(3, 'the agent reports: systemctl exited with 1');
      const result = await r.finish(done);
      assert.equal(result.ok, false);
      assert.match(result.error ?? '', /systemctl exited with 1/);
      assert.deepEqual(r.writes, []);
    });

    it('leaves power on when the bridge stops during the wait', async () => {
      const r = await rig(config);
      r.agents.update(3, 'online');
      const done = r.service.execute(3, 'off', 'mqtt');
      await r.clock.advance(10);
      r.agents.update(3, 'shutting_down');
      await r.finish(r.service.stop());
      const result = await r.finish(done);
      assert.equal(result.ok, false);
      assert.match(result.error ?? '', /stop/);
      assert.deepEqual(r.writes, []);
      assert.equal(r.powered(3), true);
    });

    it(
      'restarts settle_time when the agent comes back after an offline (its will), and cuts only once offline ' +
        'held',
      async () => {
        const r = await rig(config);
        r.agents.update(3, 'online');
        const done = r.service.execute(3, 'shutdown', 'mqtt');
        await r.clock.advance(10);
        r.agents.update(3, 'shutting_down');
        await r.clock.advance(1000);
        // The connection dropped: the broker publishes the will; the agent is back 1 s later.
        r.agents.update(3, 'offline');
        await r.clock.advance(1000);
        r.agents.update(3, 'shutting_down');
        await r.clock.advance(8000);
        assert.equal(r.writes.length, 0, 'nothing cut while the agent is back and its argv runs');
        assert.equal(r.view.state(3), 'shutting_down');
        assert.ok(
          r.events.some((e) => e.result === 'progress' && /the agent is back \(shutting_down\)/.test(e.message ?? '')),
        );
        r.agents.update(3, 'offline');
        const goneAt = r.clock.now();
        await r.clock.advance(4900);
        assert.equal(r.writes.length, 0, 'not before settle_time after the real offline');
        const result = await r.finish(done);
        assert.equal(result.ok, true, result.error);
        assert.ok((r.writes[0]?.at ?? 0) - goneAt >= 5000);
        assert.equal(r.powered(3), false);
      },
    );

    it(
      'takes an offline before the agent said shutting_down for a lost link, not for the end of the OS: ' +
        'nothing is cut while the agent stays away longer than settle_time',
      async () => {
        const r = await rig(config);
        r.agents.update(3, 'online');
        const done = r.service.execute(3, 'shutdown', 'mqtt');
        await r.clock.advance(10);
        assert.deepEqual(r.sent, [{ node: 3, word: 'SHUTDOWN' }]);
        // The agent's link dropped before the command reached it: the broker publishes its will.
        r.agents.update(3, 'offline');
        await r.clock.advance(12_000);
        assert.deepEqual(r.writes, [], 'power cut under an OS whose agent never took the command');
        // Back 12 s later (more than settle_time): it never ran its argv, and says online.
        r.agents.update(3, 'online');
        const result = await r.finish(done);
        assert.equal(result.ok, false);
        assert.match(result.error ?? '', /FORCE_OFF/);
        assert.deepEqual(r.writes, []);
        assert.equal(r.powered(3), true);
        assert.equal(r.view.state(3), 'on');
      },
    );

    it('cuts after a will that came before shutting_down once the agent said shutting_down and then went', async () => {
      const r = await rig(config);
      r.agents.update(3, 'online');
      const done = r.service.execute(3, 'shutdown', 'mqtt');
      await r.clock.advance(10);
      // The will of a link lost as the command arrived; the agent reconnects with the argv running.
      r.agents.update(3, 'offline');
      await r.clock.advance(1000);
      r.agents.update(3, 'shutting_down');
      await r.clock.advance(3000);
      r.agents.update(3, 'offline');
      const goneAt = r.clock.now();
      const result = await r.finish(done);
      assert.equal(result.ok, true, result.error);
      assert.ok((r.writes[0]?.at ?? 0) - goneAt >= 5000, 'settle_time after the offline that followed shutting_down');
      assert.equal(r.powered(3), false);
    });

    it(
      'takes an offline handed over when the bridge regained the broker for a stale state until the agent ' +
        'says shutting_down again',
      async () => {
        const r = await rig(config);
        r.agents.update(3, 'online');
        const done = r.service.execute(3, 'shutdown', 'mqtt');
        await r.clock.advance(10);
        r.agents.update(3, 'shutting_down');
        await r.clock.advance(1000);
        // The broker died; restarted from its last save, it hands back an earlier boot's offline.
        r.agents.connectionLost();
        await r.clock.advance(1000);
        r.agents.update(3, 'offline');
        await r.clock.advance(8000);
        assert.equal(r.writes.length, 0, 'power cut on a stale offline while the agent was still away');
        // The agent reconnects with its argv still running, then the OS really goes down.
        r.agents.update(3, 'shutting_down');
        await r.clock.advance(2000);
        r.agents.update(3, 'offline');
        const goneAt = r.clock.now();
        const result = await r.finish(done);
        assert.equal(result.ok, true, result.error);
        assert.ok((r.writes[0]?.at ?? 0) - goneAt >= 5000);
        assert.equal(r.powered(3), false);
      },
    );

    it('cuts settle_time after an offline handed over by a broker back, when the agent was gone already', async () => {
      const r = await rig(config);
      r.agents.update(3, 'online');
      const done = r.service.execute(3, 'shutdown', 'mqtt');
      await r.clock.advance(10);
      r.agents.update(3, 'shutting_down');
      await r.clock.advance(1000);
      r.agents.update(3, 'offline');
      await r.clock.advance(2000);
      // The broker restarts during settle_time; it kept the agent's offline.
      r.agents.connectionLost();
      await r.clock.advance(1000);
      r.agents.update(3, 'offline');
      const backAt = r.clock.now();
      const result = await r.finish(done);
      assert.equal(result.ok, true, result.error);
      assert.ok((r.writes[0]?.at ?? 0) - backAt >= 5000, 'a whole settle_time after the broker came back');
      assert.equal(r.powered(3), false);
    });

    it('cuts nothing when the agent keeps coming back until graceful_timeout, and names FORCE_OFF', async () => {
      const r = await rig(config);
      r.agents.update(3, 'online');
      const done = r.service.execute(3, 'shutdown', 'mqtt');
      await r.clock.advance(10);
      for (let i = 0; i < 10; i++) {
        r.agents.update(3, 'shutting_down');
        await r.clock.advance(2000);
        r.agents.update(3, 'offline');
        await r.clock.advance(2000);
      }
      r.agents.update(3, 'shutting_down');
      const result = await r.finish(done);
      assert.equal(result.ok, false);
      assert.match(result.error ?? '', /did not go down within 30s.*FORCE_OFF/);
      assert.deepEqual(r.writes, []);
      assert.equal(r.view.state(3), 'on');
    });

    it('FORCE_OFF ends a graceful sequence under way and cuts at once; the sequence cuts nothing itself', async () => {
      const r = await rig(config);
      r.agents.update(3, 'online');
      const graceful = r.service.execute(3, 'shutdown', 'schedule');
      await r.clock.advance(10);
      r.agents.update(3, 'shutting_down');
      await r.clock.advance(1000);
      const forced = await r.finish(r.service.execute(3, 'force-off', 'mqtt'));
      assert.equal(forced.ok, true, forced.error);
      assert.equal(r.powered(3), false);
      const ended = await r.finish(graceful);
      assert.equal(ended.ok, false);
      assert.match(ended.error ?? '', /overridden by FORCE_OFF/);
      assert.deepEqual(
        r.writes.map((w) => [w.node, w.on]),
        [[3, false]],
        'one write: the FORCE_OFF',
      );
      assert.equal(r.view.state(3), 'off');
    });

    it('a FORCE_OFF of a protected node is refused even while a graceful reboot runs', async () => {
      const r = await rig({
        nodes: { 1: { agent: true } },
        power: { reboot_mode: 'graceful', graceful_timeout: '30s' },
      });
      r.agents.update(1, 'online');
      const reboot = r.service.execute(1, 'reboot', 'mqtt');
      await r.clock.advance(10);
      const forced = await r.finish(r.service.execute(1, 'force-off', 'mqtt'));
      assert.equal(forced.ok, false);
      assert.match(forced.error ?? '', /protected/);
      assert.equal(r.powered(1), true);
      r.agents.update(1, 'shutting_down');
      r.agents.update(1, 'offline');
      r.agents.update(1, 'online');
      assert.equal((await r.finish(reboot)).ok, true);
    });

    it('takes no offline before shutting_down for a reboot: a lost REBOOT is not "OS rebooted"', async () => {
      const r = await rig({ ...config, power: { ...config.power, reboot_mode: 'graceful' } });
      r.agents.update(3, 'online');
      const reboot = r.service.execute(3, 'reboot', 'mqtt');
      await r.clock.advance(10);
      // The agent's link dropped before REBOOT reached it (the broker publishes its will); it is back.
      r.agents.update(3, 'offline');
      await r.clock.advance(1000);
      r.agents.update(3, 'online');
      const result = await r.finish(reboot);
      assert.equal(result.ok, false, 'an OS that never rebooted reported rebooted');
      assert.equal(r.events.filter((e) => e.node === 3 && e.message === 'OS rebooted').length, 0);
    });

    it('a graceful reboot: shutting_down, offline, online again', async () => {
      const r = await rig({ ...config, power: { ...config.power, reboot_mode: 'graceful' } });
      r.agents.update(3, 'online');
      const reboot = r.service.execute(3, 'reboot', 'mqtt');
      await r.clock.advance(10);
      r.agents.update(3, 'offline'); // a will before the command arrived
      r.agents.update(3, 'online');
      r.agents.update(3, 'shutting_down');
      r.agents.update(3, 'offline');
      r.agents.update(3, 'online');
      const result = await r.finish(reboot);
      assert.equal(result.ok, true, result.error);
      assert.equal(r.view.state(3), 'on');
    });

    it('a graceful reboot is done at the online after its offline, not at one before shutting_down', async () => {
      const r = await rig({ ...config, power: { ...config.power, reboot_mode: 'graceful' } });
      r.agents.update(3, 'online');
      let ended = false;
      const reboot = r.service.execute(3, 'reboot', 'mqtt').finally(() => (ended = true));
      await r.clock.advance(10);
      r.agents.update(3, 'offline'); // a will before the command arrived
      r.agents.update(3, 'online');
      r.agents.update(3, 'shutting_down');
      r.agents.update(3, 'offline'); // the OS goes down: it has not come back yet
      await r.clock.advance(10);
      assert.equal(ended, false, 'reported rebooted while the OS was down');
      assert.notEqual(r.view.state(3), 'on');
      r.agents.update(3, 'online');
      const result = await r.finish(reboot);
      assert.equal(result.ok, true, result.error);
      assert.equal(r.view.state(3), 'on');
    });

    it('a graceful off whose cut fails leaves the node as the board reads it, not shutting_down', async () => {
      const r = await rig(config);
      r.agents.update(3, 'online');
      const done = r.service.execute(3, 'off', 'mqtt');
      await r.clock.advance(10);
      r.agents.update(3, 'shutting_down');
      r.agents.update(3, 'offline');
      r.driver.setPower = async () => {
        throw new Error('EREMOTEIO, Remote I/O error (the bus is gone)');
      };
      const result = await r.finish(done);
      assert.equal(result.ok, false);
      assert.equal(r.powered(3), true);
      r.view.observe(3, true);
      assert.equal(r.view.state(3), 'on', 'left shutting_down after the sequence ended');
    });

    it('a FORCE_OFF ending a graceful sequence whose cut fails leaves the node as the board reads it', async () => {
      const r = await rig(config);
      r.agents.update(3, 'online');
      const graceful = r.service.execute(3, 'shutdown', 'mqtt');
      await r.clock.advance(10);
      r.agents.update(3, 'shutting_down');
      r.driver.setPower = async () => {
        throw new Error('EREMOTEIO, Remote I/O error (the bus is gone)');
      };
      const forced = await r.finish(r.service.execute(3, 'force-off', 'mqtt'));
      assert.equal(forced.ok, false);
      assert.equal((await r.finish(graceful)).ok, false);
      r.view.observe(3, true);
      assert.equal(r.view.state(3), 'on', 'left shutting_down after both ended');
    });

    it('a graceful off that finds the node already off at its cut leaves it off, not shutting_down', async () => {
      const r = await rig(config);
      r.agents.update(3, 'online');
      const done = r.service.execute(3, 'off', 'mqtt');
      await r.clock.advance(10);
      r.agents.update(3, 'shutting_down');
      // Another tool (the BMC's web page, a button) cuts the node while its OS drains.
      await r.setDirectly(3, false);
      r.agents.update(3, 'offline');
      const result = await r.finish(done);
      assert.equal(result.ok, true, result.error);
      r.view.observe(3, false);
      assert.equal(r.view.state(3), 'off', 'left shutting_down after the sequence ended');
    });

    it('a FORCE_OFF ending a graceful reboot of a node already off leaves it off, not rebooting', async () => {
      const r = await rig({ ...config, power: { ...(config.power as object), reboot_mode: 'graceful' } });
      r.agents.update(3, 'online');
      const reboot = r.service.execute(3, 'reboot', 'mqtt');
      await r.clock.advance(10);
      await r.setDirectly(3, false);
      const forced = await r.finish(r.service.execute(3, 'force-off', 'mqtt'));
      assert.equal(forced.ok, true, forced.error);
      assert.equal((await r.finish(reboot)).ok, false);
      r.view.observe(3, false);
      assert.equal(r.view.state(3), 'off', 'left rebooting after both ended');
    });

    it('leaves power on when the bridge stops during settle_time', async () => {
      const r = await rig(config);
      r.agents.update(3, 'online');
      const done = r.service.execute(3, 'off', 'mqtt');
      await r.clock.advance(10);
      r.agents.update(3, 'shutting_down');
      r.agents.update(3, 'offline');
      await r.clock.advance(1000);
      await r.finish(r.service.stop());
      const result = await r.finish(done);
      assert.equal(result.ok, false);
      assert.deepEqual(r.writes, []);
      assert.equal(r.powered(3), true);
    });
  });

  describe('hard reboot', () => {
    it('switches the node off, waits reboot_off_time, and on again', async () => {
      const r = await rig({ power: { reboot_off_time: '2s', min_off_time: 0 } });
      const result = await r.finish(r.service.execute(6, 'reboot', 'mqtt'));
      assert.equal(result.ok, true);
      assert.deepEqual(
        r.writes.map((w) => `${w.node}:${w.on ? 'on' : 'off'}`),
        ['6:off', '6:on'],
      );
      assert.ok((r.writes[1]?.at ?? 0) - (r.writes[0]?.at ?? 0) >= 2000);
      assert.equal(r.powered(6), true);
    });

    it('a power cycle whose on write fails leaves the node as the board reads it, not rebooting', async () => {
      const r = await rig({ power: { reboot_off_time: '2s', min_off_time: 0 } });
      const write = r.driver.setPower.bind(r.driver);
      r.driver.setPower = async (node, on) => {
        if (on) throw new Error('EREMOTEIO, Remote I/O error (the bus is gone)');
        return write(node, on);
      };
      const result = await r.finish(r.service.execute(6, 'reboot', 'mqtt'));
      assert.equal(result.ok, false);
      assert.equal(r.powered(6), false);
      // A poll reads the node off: the model must follow it (it leaves a node in a sequence alone).
      r.view.observe(6, false);
      assert.equal(r.view.state(6), 'off', 'left rebooting after the power cycle ended');
    });

    it('saves on, never off, as the last commanded power (restore_on_start: last): a reboot asks for on', async () => {
      const saved: string[] = [];
      const r = await rig(
        { power: { reboot_off_time: '2s', min_off_time: 0, restore_on_start: 'last' } },
        { commanded: async (node, on) => void saved.push(`${node}:${on ? 'on' : 'off'}`) },
      );
      const reboot = r.service.execute(6, 'reboot', 'mqtt');
      await r.clock.advance(500);
      assert.equal(r.powered(6), false, 'the reboot is under way');
      // A crash now: the next start restores what was saved last.
      assert.equal(saved.at(-1), '6:on', 'the power to restore after a crash now');
      assert.equal((await r.finish(reboot)).ok, true);
      assert.ok(!saved.includes('6:off'), `the off half of a reboot saved as a power asked for: ${saved.join(' ')}`);
    });

    it('cuts only once on is saved as the last commanded power: a crash after the cut restores on', async () => {
      // A slow SD card: the save of on is still being written when the cut could be made.
      let release: () => void = () => undefined;
      const saving = new Promise<void>((resolve) => (release = resolve));
      const saved: string[] = [];
      const r = await rig(
        { power: { reboot_off_time: '2s', min_off_time: 0, restore_on_start: 'last' } },
        {
          commanded: async (node, on) => {
            await saving;
            saved.push(`${node}:${on ? 'on' : 'off'}`);
          },
        },
      );
      const reboot = r.service.execute(6, 'reboot', 'mqtt');
      await r.clock.advance(500);
      // A crash now would restore what was saved before (off, for a node switched on elsewhere).
      assert.equal(r.powered(6), true, 'node 6 was cut before on was saved');
      release();
      assert.equal((await r.finish(reboot)).ok, true);
      assert.deepEqual([...new Set(saved)], ['6:on'], 'only on is saved');
      assert.equal(r.powered(6), true);
    });

    it('restore_on_start: last saves an OFF before its write: a crash after the cut never restores on', async () => {
      // The save went after the write: a kill in that window (an fsync, 5-30 ms on an SD card)
      // switched a node the user had switched off back on at the next start.
      let release: () => void = () => undefined;
      const saving = new Promise<void>((resolve) => (release = resolve));
      const saved: string[] = [];
      const r = await rig(
        { power: { off_mode: 'hard', min_off_time: 0, restore_on_start: 'last' } },
        {
          commanded: async (node, on) => {
            await saving;
            saved.push(`${node}:${on ? 'on' : 'off'}`);
          },
        },
      );
      const off = r.service.execute(6, 'off', 'mqtt');
      await r.clock.advance(500);
      assert.equal(r.powered(6), true, 'node 6 was cut before off was saved');
      release();
      assert.equal((await r.finish(off)).ok, true);
      assert.deepEqual(saved, ['6:off']);
      assert.equal(r.powered(6), false);
    });

    it('finishes (the node back on) before stop() resolves', async () => {
      const r = await rig({ power: { reboot_off_time: '2s', min_off_time: '3s' } });
      const reboot = r.service.execute(6, 'reboot', 'mqtt');
      await r.clock.advance(500);
      assert.equal(r.powered(6), false, 'the reboot is under way');
      let stopped = false;
      const stop = r.service.stop().then(() => (stopped = true));
      await r.clock.advance(500);
      assert.equal(stopped, false, 'stop() waits for the reboot');
      await r.finish(stop);
      assert.equal(r.powered(6), true, 'node 6 is back on when stop() resolves');
      assert.equal((await reboot).ok, true);
    });
  });

  it('refuses a second action on a node while one is under way', async () => {
    const r = await rig({ power: { reboot_off_time: '2s' } });
    const reboot = r.service.execute(6, 'reboot', 'mqtt');
    await r.clock.advance(100);
    const second = await r.finish(r.service.execute(6, 'off', 'mqtt'));
    assert.equal(second.ok, false);
    assert.match(second.error ?? '', /busy/);
    assert.equal((await r.finish(reboot)).ok, true);
    assert.equal(r.powered(6), true);
  });

  it('frees the node when the journal cannot record the start, and changes no power', async () => {
    let failBegin = true;
    const r = await rig(
      { power: { reboot_off_time: '2s', min_off_time: 0 } },
      {
        journalBegin: async () => {
          if (failBegin) throw new Error('disk full');
        },
      },
    );
    const refused = await r.finish(r.service.execute(6, 'reboot', 'mqtt'));
    assert.equal(refused.ok, false);
    assert.match(refused.error ?? '', /disk full/);
    assert.equal(r.writes.length, 0);
    failBegin = false;
    const next = await r.finish(r.service.execute(6, 'reboot', 'mqtt'));
    assert.equal(next.ok, true, next.error);
  });

  it('keeps a node busy for the action that took it while the previous one is still writing its journal', async () => {
    // The first reboot's journal end waits (a slow SD card); the node is free from its "ok",
    // so a second reboot takes it. When the first one's write finally ends, the second still
    // holds the node: a third action is refused, not run beside it.
    let releaseFirstEnd = (): void => undefined;
    let ends = 0;
    const r = await rig(
      { power: { reboot_off_time: '2s', min_off_time: 0 } },
      {
        journalEnd: () =>
          ++ends === 1 ? new Promise<void>((resolve) => (releaseFirstEnd = resolve)) : Promise.resolve(),
      },
    );
    const first = r.service.execute(6, 'reboot', 'mqtt');
    for (let waited = 0; ends === 0 && waited < 10_000; waited += 10) await r.clock.advance(10);
    assert.equal(ends, 1, 'the first reboot reached its journal end');
    const second = r.service.execute(6, 'reboot', 'mqtt');
    await r.clock.advance(100); // the second reboot has switched node 6 off and waits reboot_off_time
    assert.equal(r.powered(6), false);
    releaseFirstEnd();
    assert.equal((await first).ok, true);
    const third = await r.finish(r.service.execute(6, 'off', 'mqtt'));
    assert.equal(third.ok, false, 'a third action ran while the second reboot held the node');
    assert.match(third.error ?? '', /busy \(reboot under way\)/);
    assert.equal((await r.finish(second)).ok, true);
    assert.equal(r.powered(6), true);
  });
});

describe('PowerService stop and the saves of last commanded power', () => {
  it('waits for a save still being written, so that the next start restores what was asked last', async () => {
    let release: () => void = () => undefined;
    const saving = new Promise<void>((resolve) => (release = resolve));
    const saved: string[] = [];
    const r = await rig(
      { power: { restore_on_start: 'last' } },
      {
        commanded: async (node, on) => {
          await saving;
          saved.push(`${node} ${on ? 'on' : 'off'}`);
        },
      },
    );
    // An answer that writes nothing does not wait for its save (a write waits, before it writes).
    await r.setDirectly(3, false);
    const result = await r.finish(r.service.execute(3, 'force-off', 'mqtt'));
    assert.equal(result.ok, true, result.error);
    assert.equal(result.note, 'already off');
    let stopped = false;
    const stop = r.service.stop().then(() => (stopped = true));
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(stopped, false, 'the stop ended before node 3 off was saved');
    release();
    await stop;
    assert.deepEqual(saved, ['3 off']);
  });
});

describe('PowerService: the last commanded power (restore_on_start: last)', () => {
  it('an ON or OFF that finds the node already so is the power asked for last all the same', async () => {
    const saved: string[] = [];
    const r = await rig(
      { power: { restore_on_start: 'last', min_off_time: 0 } },
      { commanded: async (node, on) => void saved.push(`${node}:${on ? 'on' : 'off'}`) },
    );
    assert.equal((await r.finish(r.service.execute(5, 'off', 'mqtt'))).ok, true);
    // Switched on by someone else (a button, another tool), then asked ON here: it is already on.
    await r.setDirectly(5, true);
    const on = await r.finish(r.service.execute(5, 'on', 'mqtt'));
    assert.equal(on.note, 'already on');
    // A restart now would switch node 5 to what was saved last: off, under its running OS.
    assert.equal(saved.at(-1), '5:on', `saved: ${saved.join(' ')}`);
    await r.setDirectly(5, false);
    assert.equal((await r.finish(r.service.execute(5, 'force-off', 'mqtt'))).note, 'already off');
    assert.equal(saved.at(-1), '5:off', `saved: ${saved.join(' ')}`);
  });

  it("a reboot by the board's own reset (a Turing Pi 2's) asks for on too", async () => {
    const saved: string[] = [];
    const r = await rig(
      { power: { restore_on_start: 'last', min_off_time: 0, reboot_mode: 'hard', reboot_off_time: '1s' } },
      { commanded: async (node, on) => void saved.push(`${node}:${on ? 'on' : 'off'}`) },
    );
    assert.equal((await r.finish(r.service.execute(6, 'off', 'mqtt'))).ok, true);
    await r.setDirectly(6, true); // on again by someone else
    Object.assign(r.driver.info, { nativeReset: true });
    Object.assign(r.driver, { reset: async () => undefined });
    const result = await r.finish(r.service.execute(6, 'reboot', 'mqtt'));
    assert.equal(result.ok, true, result.error);
    assert.equal(saved.at(-1), '6:on', `saved: ${saved.join(' ')}`);
  });
});
