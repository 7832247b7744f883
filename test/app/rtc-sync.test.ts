import assert from 'node:assert/strict';
import { createSimulatedTpi1 } from '../../src/board/simulator/tpi1.js';
import type { I2cBus } from '../../src/board/tpi1/i2c.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { advanceUntil, BASE, bridgeFixture, delay } from './helpers.js';

const MCP7940N_ADDRESS = 0x6f;

/** Issue 13, point 9: repeated rtc/set SYNC requests are merged: one sync under way answers all callers. */
describe('bridge: RTC sync requests close together', function () {
  this.timeout(20_000);
  const env = bridgeFixture('test');

  it('ten SYNCs and three rtc/sync requests at once: one sync, one event, every request answered', async () => {
    const clock = new FakeClock(Date.UTC(2027, 0, 4, 11, 58, 0, 300));
    const sim = createSimulatedTpi1({ clock });
    let clockWrites = 0;
    const bus: I2cBus = {
      readByte: (address, register) => sim.bus.readByte(address, register),
      readI2cBlock: (address, register, length, buffer) => sim.bus.readI2cBlock(address, register, length, buffer),
      writeByte: (address, register, byte) => sim.bus.writeByte(address, register, byte),
      writeI2cBlock: (address, register, length, buffer) => {
        if (address === MCP7940N_ADDRESS && register === 0 && length === 7) clockWrites++;
        return sim.bus.writeI2cBlock(address, register, length, buffer);
      },
    };
    await env.start({ clock, bus });
    const mark = env.rec.mark();
    for (let i = 0; i < 10; i++) await env.rec.publish(`${BASE}/rtc/set`, 'SYNC');
    const requests = [1, 2, 3].map(() => env.rec.request('rtc/sync', {}, 15_000));
    await delay(200); // all of them reach the bridge while the first sync waits for its second boundary
    await advanceUntil(
      clock,
      () => env.rec.events(mark).filter((e) => e.type === 'rtc').length >= 1,
      'the sync event',
      100,
    );
    const responses = await Promise.all(requests);
    // Let any further sync (the bug: one per request) show itself.
    for (let i = 0; i < 20; i++) {
      await clock.advance(500);
      await delay(5);
    }
    const events = env.rec.events(mark).filter((e) => e.type === 'rtc');
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.equal(events[0]?.result, 'ok');
    assert.equal(clockWrites, 1, 'the clock was set once');
    for (const response of responses) assert.equal(response.status, 'ok');
    assert.deepEqual(new Set(responses.map((r) => JSON.stringify(r.data))).size, 1, 'every caller gets the one result');
  });

  it("a sync asked by rtc/sync carries the request's source and transaction in its event", async () => {
    const clock = new FakeClock(Date.UTC(2027, 0, 4, 11, 58, 0, 300));
    const sim = createSimulatedTpi1({ clock });
    await env.start({ clock, bus: sim.bus });
    const mark = env.rec.mark();
    const request = env.rec.request('rtc/sync', { source: 'cli' }, 15_000);
    await delay(100);
    await advanceUntil(
      clock,
      () => env.rec.events(mark).filter((e) => e.type === 'rtc').length >= 1,
      'the sync event',
      100,
    );
    const response = await request;
    const [event] = env.rec.events(mark).filter((e) => e.type === 'rtc');
    assert.equal(response.status, 'ok');
    assert.equal(event?.source, 'cli');
    assert.equal(event?.transaction, response.transaction);
  });
});
