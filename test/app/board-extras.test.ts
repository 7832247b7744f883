import assert from 'node:assert/strict';
import { BoardExtras } from '../../src/app/board-extras.js';
import type { BoardDriver } from '../../src/board/types.js';
import type { MqttConnection } from '../../src/mqtt/connection.js';
import { topics } from '../../src/mqtt/topics.js';
import { FakeClock } from '../../src/util/fake-clock.js';

describe('booted times (app/board-extras.ts)', () => {
  it('a node powered on less than a second ago is never said to have booted in the future', async () => {
    // The BMC counts whole seconds: 0 means on for 0-999 ms. Rounded to the nearest second, a
    // reading at .779 gave the next second, a time still to come (a newcomer saw 21.000 at 20.779).
    const clock = new FakeClock(Date.parse('2026-12-07T13:29:20.779Z'));
    const published: Record<string, string> = {};
    const connection = {
      publishState: async (topic: string, payload: string) => {
        published[topic] = payload;
        return true;
      },
    } as unknown as MqttConnection;
    const driver = {
      info: { reportsPowerOnTime: true },
      readNodeTimes: async () => ({ powerOnSeconds: [0, 61] }),
    } as unknown as BoardDriver;
    const node = (number: number) => ({
      number,
      name: `Node ${number}`,
      protected: false,
      agent: false,
      enabled: true,
    });
    const extras = new BoardExtras(driver, [node(1), node(2)], connection, topics('tp'), clock);
    await extras.poll();
    assert.equal(published['tp/node/1/booted'], '2026-12-07T13:29:20.000Z');
    assert.equal(published['tp/node/2/booted'], '2026-12-07T13:28:19.000Z');
    for (const payload of Object.values(published)) assert.ok(Date.parse(payload) <= clock.now(), payload);
  });
});
