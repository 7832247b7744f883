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
import { BASE, bridgeFixture, createCountedTpi1, delay } from './helpers.js';

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

/**
 * A node disabled, or gone from the board (another board type): its retained power, state,
 * present and booted must go with it (a newcomer found a disabled node's last state on the
 * broker for good). The agent's own topics are the agent's: they stay.
 */
describe('bridge restart: a node disabled, or no longer on the board', function () {
  this.timeout(20_000);
  const env = bridgeFixture('test', { filters: [`${BASE}/node/#`, `${BASE}/bridge/state`] });
  const nodeTopics = (n: number) => ['power', 'state', 'present', 'booted'].map((s) => `${BASE}/node/${n}/${s}`);

  it('clears its retained topics once, and leaves its agent topics alone', async () => {
    const clock = new FakeClock(Date.parse('2027-03-10T04:00:00Z'));
    const board = createCountedTpi1(clock);
    await env.start({ clock, bus: board.countingBus });
    for (const n of [5, 6, 7]) await env.rec.waitFor(`${BASE}/node/${n}/power`);
    await env.stop();
    await env.rec.publish(`${BASE}/node/6/agent/state`, 'offline', { retain: true });

    let mark = env.rec.mark();
    await env.start({ clock, bus: board.countingBus, sections: { nodes: { 6: { enabled: false } } } });
    for (const topic of nodeTopics(6)) await env.rec.waitForPayload(topic, '', 5000, mark);
    await env.rec.waitForPayload(`${BASE}/bridge/state`, 'online', 5000, mark);
    await delay(200);
    const cleared = env.rec.since(mark).filter((m) => m.payload === '');
    assert.deepEqual(cleared.map((m) => m.topic).sort(), nodeTopics(6).sort(), 'only node 6 cleared');
    assert.ok(
      env.run.log.messages(30).some((m) => m.includes('node 6')),
      'the clearing is logged at info',
    );
    await env.stop();

    // A generic simulated board of 4 nodes: 5 and 7 are no longer on it; 6 was cleared already.
    mark = env.rec.mark();
    const small = { board: { type: 'simulator', simulate: { model: 'generic', nodes: 4 } } };
    await env.start({ clock, sections: small });
    await env.rec.waitForPayload(`${BASE}/bridge/state`, 'online', 5000, mark);
    for (const topic of [...nodeTopics(5), ...nodeTopics(7)]) await env.rec.waitForPayload(topic, '', 5000, mark);
    await delay(200);
    assert.deepEqual(env.rec.since(mark, `${BASE}/node/6/#`), []);
    await env.stop();

    // Once cleared, a later start says nothing more of them.
    mark = env.rec.mark();
    await env.start({ clock, sections: small });
    await env.rec.waitForPayload(`${BASE}/bridge/state`, 'online', 5000, mark);
    await delay(200);
    assert.deepEqual(
      env.rec.since(mark).filter((m) => m.payload === ''),
      [],
    );
    await env.stop();
    assert.equal(env.rec.last(`${BASE}/node/6/agent/state`)?.payload, 'offline', "the agent's topic stays");
  });
});
