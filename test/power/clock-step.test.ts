import assert from 'node:assert/strict';
import { rig } from './helpers.js';

const YEAR = 365 * 24 * 3_600_000;

/**
 * The power service when the system's wall clock steps (NTP setting a Raspberry Pi that booted
 * in the past, a person setting the date): min_off_time and on_stagger are waits between two
 * moments, which a step must neither stretch to years nor cut short.
 */
describe('PowerService across a clock step', () => {
  it('keeps min_off_time when the clock steps forward between the OFF and the ON', async () => {
    const r = await rig({ power: { min_off_time: '3s', on_stagger: 0 } });
    await r.finish(r.service.execute(5, 'off', 'mqtt'));
    r.clock.step(r.clock.now() + YEAR); // NTP: the board booted a year in the past
    const result = await r.finish(r.service.execute(5, 'on', 'mqtt'));
    assert.equal(result.ok, true);
    assert.equal(result.note, 'delayed 3s by min_off_time');
    const [off, on] = r.writes;
    assert.ok(on!.mono - off!.mono >= 3000, `ON ${on!.mono - off!.mono} ms after the OFF`);
  });

  it('does not hold an ON for years when the clock steps back after the OFF', async () => {
    const r = await rig({ power: { min_off_time: '3s', on_stagger: 0 } });
    await r.finish(r.service.execute(5, 'off', 'mqtt'));
    r.clock.step(r.clock.now() - YEAR);
    const result = await r.finish(r.service.execute(5, 'on', 'mqtt'), 10_000);
    assert.equal(result.ok, true);
    assert.equal(r.powered(5), true);
  });

  it('starts nodes on_stagger apart, not years apart, across a step back', async () => {
    const r = await rig({ power: { on_stagger: '2s', min_off_time: 0 } });
    for (const n of [2, 3]) await r.setDirectly(n, false);
    await r.finish(r.service.execute(2, 'on', 'mqtt'));
    r.clock.step(r.clock.now() - YEAR);
    const result = await r.finish(r.service.execute(3, 'on', 'mqtt'), 10_000);
    assert.equal(result.ok, true);
    assert.equal(r.powered(3), true);
  });

  it('keeps on_stagger across a step forward', async () => {
    const r = await rig({ power: { on_stagger: '2s', min_off_time: 0 } });
    for (const n of [2, 3]) await r.setDirectly(n, false);
    await r.finish(r.service.execute(2, 'on', 'mqtt'));
    r.clock.step(r.clock.now() + YEAR);
    await r.finish(r.service.execute(3, 'on', 'mqtt'));
    const [first, second] = r.writes.filter((w) => w.on);
    assert.ok(second!.mono - first!.mono >= 2000, `second ON ${second!.mono - first!.mono} ms after the first`);
  });
});

describe('a graceful OFF across a clock step', () => {
  const config = {
    nodes: { 3: { agent: true } },
    power: { settle_time: '5s', graceful_timeout: '30s', min_off_time: 0, on_stagger: 0 },
  };

  it('still cuts when the clock steps forward while the OS goes down (graceful_timeout is not over)', async () => {
    const r = await rig(config);
    r.agents.update(3, 'online');
    const done = r.service.execute(3, 'off', 'mqtt');
    await r.clock.advance(10);
    r.agents.update(3, 'shutting_down');
    await r.clock.advance(2000);
    r.clock.step(r.clock.now() + YEAR); // NTP answers while the node shuts down
    r.agents.update(3, 'offline');
    const result = await r.finish(done);
    assert.equal(result.ok, true, result.error);
    assert.equal(r.powered(3), false);
  });

  it('still gives up at graceful_timeout, cutting nothing, when the clock steps back while it waits', async () => {
    const r = await rig(config);
    r.agents.update(3, 'online');
    const done = r.service.execute(3, 'off', 'mqtt');
    await r.clock.advance(10);
    r.agents.update(3, 'shutting_down');
    await r.clock.advance(1000);
    r.clock.step(r.clock.now() - YEAR);
    const result = await r.finish(done, 31_000);
    assert.equal(result.ok, false);
    assert.match(result.error ?? '', /did not go down within 30s/);
    assert.equal(r.powered(3), true);
  });
});
