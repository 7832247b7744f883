import assert from 'node:assert/strict';
import { NodeModel } from '../../src/app/node-model.js';
import { NodePublisher } from '../../src/app/node-publisher.js';
import type { BoardDriver } from '../../src/board/types.js';
import { parseConfig, resolveNodes } from '../../src/config/index.js';
import type { MqttConnection } from '../../src/mqtt/connection.js';
import { topics } from '../../src/mqtt/topics.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { silentLogger } from '../../src/util/logger.js';

/** The node model with the publisher listening; every publishState call is recorded (no de-duplication here). */
function rig(canTellPresence: boolean) {
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 12));
  const nodes = resolveNodes(parseConfig({ board: { type: 'simulator' } }));
  const model = new NodeModel(nodes, clock);
  const sent: string[] = [];
  const connection = {
    publishState: async (topic: string, payload: string, options?: { flush?: boolean }) => {
      sent.push(
        `${topic} ${payload.startsWith('{') ? JSON.parse(payload).state : payload}${options?.flush ? ' flush' : ''}`,
      );
      return true;
    },
  } as unknown as MqttConnection;
  const driver = { info: { canTellPresence } } as unknown as BoardDriver;
  model.listen(new NodePublisher({ connection, topics: topics('tp'), logger: silentLogger(), driver }));
  return { model, sent };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('node publisher (app/node-publisher.ts)', () => {
  it('publishes only what changed: the power (flushed, the answer), then the state', async () => {
    const { model, sent } = rig(true);
    model.setPower(3, true);
    await settle();
    assert.deepEqual(sent, ['tp/node/3/power ON flush']);
    model.switchedOn(3, 'mqtt', 'switched on');
    await settle();
    assert.deepEqual(sent.slice(1), ['tp/node/3/state on']);
    model.setPresent(3, true);
    await settle();
    assert.deepEqual(sent.slice(2), ['tp/node/3/present ON']);
    model.observe(3, true);
    await settle();
    assert.equal(sent.length, 3, 'a reading that changes nothing publishes nothing');
  });

  it('an unknown power is not published; presence only where the board can tell it', async () => {
    const { model, sent } = rig(false);
    model.observe(4, null);
    model.setPresent(4, true);
    await settle();
    assert.deepEqual(sent, ['tp/node/4/state unknown']);
  });
});
