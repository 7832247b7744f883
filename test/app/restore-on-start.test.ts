import assert from 'node:assert/strict';
import { FakeClock } from '../../src/util/fake-clock.js';
import { BASE, bridgeFixture, createCountedTpi1, poweredNodes, readBridgeState, until } from './helpers.js';

/**
 * power.restore_on_start (docs/configuration.md): `last` switches nodes back to what they were last
 * commanded after the board lost power; `keep` leaves power exactly as the board has it.
 */
describe('bridge: restore_on_start across a board power cycle', function () {
  this.timeout(20_000);
  const env = bridgeFixture('test');

  it(
    'with last, switches node 4 off again at start after the board came back with every node on, and leaves ' +
      'the others',
    async () => {
      const clock = new FakeClock(Date.now());
      const board = createCountedTpi1(clock);
      const stateDir = env.stateDir;
      const sections = { power: { restore_on_start: 'last' } };

      await env.start({ clock, bus: board.countingBus, sections });
      await env.rec.command(4, 'OFF');
      await env.rec.waitForPayload(`${BASE}/node/4/power`, 'OFF');
      await until(
        () => readBridgeState(stateDir).commanded['4'] === false,
        'node 4 OFF saved as commanded in bridge.json',
      );
      await env.stop();

      board.ds4520.powerCycleBoard();
      assert.deepEqual(poweredNodes(board), [1, 2, 3, 4, 5, 6, 7], 'the board came up from EEPROM with every node on');
      const writesBefore = board.powerWrites();
      board.changes.length = 0;

      const mark = env.rec.mark();
      await env.start({ clock, bus: board.countingBus, sections });
      assert.deepEqual(poweredNodes(board), [1, 2, 3, 5, 6, 7], 'node 4 is off again, the others untouched');
      assert.deepEqual(board.changes, [{ node: 4, on: false }], 'the only power change at start is node 4 going off');
      assert.ok(board.powerWrites() > writesBefore, 'the power register was written');

      const event = await env.rec.waitForEvent(
        (e) => e.node === 4 && e.source === 'startup' && e.result === 'ok',
        5000,
        mark,
      );
      assert.equal(event.action, 'off');
      await env.rec.waitForPayload(`${BASE}/node/4/power`, 'OFF', 5000, mark);
      const others = env.rec.events(mark).filter((e) => e.source === 'startup' && e.node !== 4);
      assert.deepEqual(others, [], 'no startup action on any other node');
    },
  );

  it('with keep, changes nothing at start: not one write to the power register', async () => {
    const clock = new FakeClock(Date.now());
    const board = createCountedTpi1(clock);
    const stateDir = env.stateDir;

    // A first run under `last` leaves node 4 commanded OFF in bridge.json ...
    await env.start({ clock, bus: board.countingBus, sections: { power: { restore_on_start: 'last' } } });
    await env.rec.command(4, 'OFF');
    await env.rec.waitForPayload(`${BASE}/node/4/power`, 'OFF');
    await until(
      () => readBridgeState(stateDir).commanded['4'] === false,
      'node 4 OFF saved as commanded in bridge.json',
    );
    await env.stop();

    // ... which `keep` must ignore.
    board.ds4520.powerCycleBoard();
    const writesBefore = board.powerWrites();
    board.changes.length = 0;
    const mark = env.rec.mark();
    await env.start({ clock, bus: board.countingBus, sections: { power: { restore_on_start: 'keep' } } });
    await env.rec.waitForPayload(`${BASE}/bridge/state`, 'online', 5000, mark);
    await env.run.bridge.poll();

    assert.equal(board.powerWrites(), writesBefore, 'no write to DS4520 0xF2 at start');
    assert.deepEqual(board.changes, [], 'no power pin changed');
    assert.deepEqual(poweredNodes(board), [1, 2, 3, 4, 5, 6, 7]);
    await env.rec.waitForPayload(`${BASE}/node/4/power`, 'ON', 5000, mark);
    assert.deepEqual(
      env.rec.events(mark).filter((e) => e.source === 'startup'),
      [],
      'no startup event',
    );
  });
});
