import assert from 'node:assert/strict';
import { FakeClock } from '../../src/util/fake-clock.js';
import { BASE, bridgeFixture, delay } from './helpers.js';

/**
 * What only a Turing Pi 2 reports (board-extras.ts): when the BMC switched each slot on, as
 * `node/<n>/booted` for nodes without an agent, and its fan as `board/fan`; both published
 * when they change, not at every poll. The simulated board starts with nodes 1 and 2 on.
 */
describe('bridge: Turing Pi 2 extras (simulated BMC)', function () {
  this.timeout(20_000);
  const env = bridgeFixture('suite');
  const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/;

  it('publishes booted for powered nodes without an agent and the fans once, and again only on a change', async () => {
    const clock = new FakeClock(Date.now());
    const startedAt = clock.now();
    await env.start({
      clock,
      sections: { board: { type: 'simulator', simulate: { model: 'tpi2' } }, nodes: { 2: { agent: true } } },
    });
    const booted1 = await env.rec.waitFor(`${BASE}/node/1/booted`);
    assert.match(booted1.payload, ISO);
    assert.ok(
      Math.abs(Date.parse(booted1.payload) - startedAt) <= 2000,
      `node 1 booted about when the simulated BMC started (${booted1.payload})`,
    );
    const fan = await env.rec.waitFor(`${BASE}/board/fan`);
    assert.deepEqual(
      JSON.parse(fan.payload),
      { percentage: 50, level: 3, max_level: 6 },
      "the 2.5 board's fan at level 3 of 6",
    );
    await env.rec.waitForPayload(`${BASE}/node/3/booted`, 'unknown');
    await env.rec.waitForPayload(`${BASE}/node/4/booted`, 'unknown');

    // Polls while nothing changes: time moves, power_on_time grows with it, the boot is the same.
    for (let i = 0; i < 4; i++) {
      await clock.advance(7000);
      await env.run.bridge.poll();
    }
    await env.rec.request('status'); // everything the polls published has arrived before its answer
    const count = (topic: string): number => env.rec.since(0, `${BASE}/${topic}`).length;
    assert.equal(count('node/1/booted'), 1, 'node 1 booted is not republished');
    assert.equal(count('node/3/booted'), 1);
    assert.equal(count('node/4/booted'), 1);
    assert.equal(count('board/fan'), 1, 'board/fan is not republished');
    assert.equal(count('node/2/booted'), 0, 'node 2 has an agent: its telemetry says when it booted');

    // Node 3 switched on: its booted time appears at the next poll.
    const mark = env.rec.mark();
    await env.rec.command(3, 'ON');
    await env.rec.waitForPayload(`${BASE}/node/3/power`, 'ON', 5000, mark);
    await clock.advance(3000);
    await env.run.bridge.poll();
    const booted3 = await env.rec.waitFor(`${BASE}/node/3/booted`, (m) => m.payload !== 'unknown', 5000, mark);
    assert.match(booted3.payload, ISO);
    assert.ok(Date.parse(booted3.payload) > Date.parse(booted1.payload), 'node 3 booted after node 1');
    await delay(50);
    assert.equal(env.rec.since(mark, `${BASE}/node/1/booted`).length, 0, 'node 1 untouched');
  });
});
