import assert from 'node:assert/strict';
import { NodeModel } from '../../src/app/node-model.js';
import { NodePublisher } from '../../src/app/node-publisher.js';
import type { BoardDriver } from '../../src/board/types.js';
import { parseConfig, resolveNodes } from '../../src/config/index.js';
import type { MqttConnection } from '../../src/mqtt/connection.js';
import { topics } from '../../src/mqtt/topics.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { TpmError } from '../../src/util/errors.js';
import { silentLogger } from '../../src/util/logger.js';
import { captureLogger } from '../support/log-capture.js';

/** The node model with the publisher listening; every sendState call is recorded (no de-duplication here). */
function rig(canTellPresence: boolean) {
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 12));
  const nodes = resolveNodes(parseConfig({ board: { type: 'simulator' } }));
  const model = new NodeModel(nodes, clock);
  const sent: string[] = [];
  const connection = {
    sendState: (topic: string, payload: string, options: { flush?: boolean }) => {
      sent.push(
        `${topic} ${payload.startsWith('{') ? JSON.parse(payload).state : payload}${options.flush ? ' flush' : ''}`,
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

  it('a message the broker never acknowledged is logged as a warning with its node', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 12));
    const model = new NodeModel(resolveNodes(parseConfig({ board: { type: 'simulator' } })), clock);
    const log = captureLogger('info');
    const connection = {
      sendState: (_topic: string, _payload: string, _options: unknown, done: (error?: Error) => void) => {
        done(new TpmError('BROKER', 'the connection to the MQTT broker was lost before the message was acknowledged'));
        return true;
      },
    } as unknown as MqttConnection;
    const driver = { info: { canTellPresence: false } } as unknown as BoardDriver;
    model.listen(new NodePublisher({ connection, topics: topics('tp'), logger: log.logger, driver }));
    model.setPower(2, false);
    await settle();
    assert.deepEqual(log.messages(40), [
      'publishing node 2 failed: the connection to the MQTT broker was lost before the message was acknowledged',
    ]);
  });
});
