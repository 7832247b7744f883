import assert from 'node:assert/strict';
import { NodeModel } from '../../src/app/node-model.js';
import { NodePublisher } from '../../src/app/node-publisher.js';
import type { BoardDriver } from '../../src/board/types.js';
import { parseConfig, resolveNodes } from '../../src/config/index.js';
import type { MqttConnection } from '../../src/mqtt/connection.js';
import { topics } from '../../src/mqtt/topics.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { TpmError } from '../../src/util/errors.js';
import { silentLogger, type Logger } from '../../src/util/logger.js';
import { captureLogger } from '../support/log-capture.js';

/**
 * The node model with the publisher listening; every sendState call is recorded (no
 * de-duplication here). `unacknowledged`: the error each message ends with, as when the
 * connection is lost before the broker's acknowledgement.
 */
function rig(
  canTellPresence: boolean,
  options: { logger?: Logger; unacknowledged?: Error; config?: Record<string, unknown> } = {},
) {
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 12));
  const nodes = resolveNodes(parseConfig(options.config ?? { board: { type: 'simulator' } }));
  const model = new NodeModel(nodes, clock);
  const sent: string[] = [];
  const connection = {
    sendState: (topic: string, payload: string, flags: { flush?: boolean }, done: (error?: Error) => void) => {
      sent.push(
        `${topic} ${payload.startsWith('{') ? JSON.parse(payload).state : payload}${flags.flush ? ' flush' : ''}`,
      );
      if (options.unacknowledged) done(options.unacknowledged);
      return true;
    },
  } as unknown as MqttConnection;
  const driver = { info: { canTellPresence } } as unknown as BoardDriver;
  const logger = options.logger ?? silentLogger();
  const published = new Set(nodes.filter((n) => n.enabled).map((n) => n.number));
  model.listen(new NodePublisher({ connection, topics: topics('tp'), logger, driver, published }));
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

  it("a disabled node, or a GPIO board's unwired slot, publishes nothing (it showed unknown for ever)", async () => {
    const config = {
      board: { type: 'gpio', gpio: { 5: { line: 17 }, 6: { line: 27 } } },
      nodes: { 6: { enabled: false } },
    };
    const { model, sent } = rig(false, { config });
    for (const n of [1, 5, 6]) model.observe(n, null);
    model.setPower(5, true);
    model.setPower(6, true);
    await settle();
    assert.deepEqual(sent, ['tp/node/5/state unknown', 'tp/node/5/power ON flush']);
  });

  it('a message the broker never acknowledged is logged as a warning with its node', async () => {
    const log = captureLogger('info');
    const lost = new TpmError(
      'BROKER',
      'the connection to the MQTT broker was lost before the message was acknowledged',
    );
    const { model } = rig(false, { logger: log.logger, unacknowledged: lost });
    model.setPower(2, false);
    await settle();
    assert.deepEqual(log.messages(40), [
      'publishing node 2 failed: the connection to the MQTT broker was lost before the message was acknowledged',
    ]);
  });
});
