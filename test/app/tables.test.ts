import assert from 'node:assert/strict';
import type { IPublishPacket } from 'mqtt';
import { commandWord, subscribeCommands, type CommandTable } from '../../src/app/command-table.js';
import { requestCommand } from '../../src/app/request-table.js';
import { InputError } from '../../src/app/input.js';
import type { MqttConnection, MessageHandler } from '../../src/mqtt/connection.js';
import { topics } from '../../src/mqtt/topics.js';
import type { EventInput, Origin } from '../../src/power/types.js';
import { silentLogger } from '../../src/util/logger.js';
import { captureLogger } from '../support/log-capture.js';

/** The part of MqttConnection the tables use: subscriptions kept, publishes recorded. */
function fakeConnection() {
  const handlers = new Map<string, MessageHandler>();
  const published: { topic: string; payload: string }[] = [];
  const connection = {
    subscribe: async (filter: string, handler: MessageHandler) => {
      handlers.set(filter, handler);
    },
    publish: async (topic: string, payload: string) => {
      published.push({ topic, payload });
    },
  } as unknown as MqttConnection;
  const deliver = (filter: string, topic: string, payload: string, retain = false): void =>
    handlers.get(filter)?.(topic, Buffer.from(payload), { retain } as IPublishPacket);
  return { connection, handlers, published, deliver };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('command table (app/command-table.ts)', () => {
  it('subscribes every entry, acts on live messages, and refuses every retained one with one event', async () => {
    const { connection, handlers, deliver } = fakeConnection();
    const events: EventInput[] = [];
    const acted: string[] = [];
    const table: CommandTable = {
      'tp/node/+/set': async (topic, payload) => void acted.push(`${topic} ${payload.toString()}`),
      'tp/rtc/set': async (topic, payload) => void acted.push(`${topic} ${payload.toString()}`),
    };
    await subscribeCommands(table, { connection, event: (e) => events.push(e), logger: silentLogger() });
    assert.deepEqual([...handlers.keys()], ['tp/node/+/set', 'tp/rtc/set']);
    deliver('tp/node/+/set', 'tp/node/3/set', 'OFF');
    deliver('tp/rtc/set', 'tp/rtc/set', 'SYNC', true);
    deliver('tp/node/+/set', 'tp/node/4/set', 'OFF', true);
    await settle();
    // Empty, retained or not: a retained command being cleared, on any command topic (requests
    // too): nothing acted on, nothing said. White space is input like any other.
    deliver('tp/node/+/set', 'tp/node/4/set', '', true);
    deliver('tp/node/+/set', 'tp/node/4/set', '');
    deliver('tp/rtc/set', 'tp/rtc/set', '');
    deliver('tp/node/+/set', 'tp/node/5/set', ' ');
    await settle();
    assert.deepEqual(acted, ['tp/node/3/set OFF', 'tp/node/5/set  ']);
    assert.equal(events.length, 2);
    for (const e of events) {
      assert.equal(e.result, 'error');
      assert.match(e.error ?? '', /^ignored a retained message on tp\/(rtc|node\/4)\/set: .*mosquitto_pub -r -n -t/);
    }
  });

  it('a handler that throws is logged, never thrown', async () => {
    const { connection, deliver } = fakeConnection();
    const log = captureLogger('info');
    const table: CommandTable = {
      'tp/x': async () => {
        throw new Error('boom');
      },
    };
    await subscribeCommands(table, { connection, event: () => undefined, logger: log.logger });
    deliver('tp/x', 'tp/x', '1');
    await settle();
    await settle();
    assert.deepEqual(log.messages(50), ['command on tp/x failed: boom']);
  });
});

describe('command words (app/command-table.ts, commandWord)', () => {
  it('takes a word in any case, and names a wrong one as it was sent', () => {
    const events: EventInput[] = [];
    const event = (e: EventInput): void => void events.push(e);
    assert.equal(commandWord(Buffer.from(' on '), 'maintenance', ['ON', 'OFF'], event), 'ON');
    assert.equal(commandWord(Buffer.from('maybe'), 'maintenance', ['ON', 'OFF'], event), undefined);
    assert.deepEqual(
      events.map((e) => e.error),
      ['unknown maintenance command "maybe": use ON or OFF'],
    );
  });
});

describe('request table (app/request-table.ts)', () => {
  const t = topics('tp');

  async function ask(table: Parameters<typeof requestCommand>[0], action: string, body: string) {
    const { connection, published } = fakeConnection();
    const events: EventInput[] = [];
    const handle = requestCommand(table, { connection, topics: t, event: (e) => events.push(e) });
    await handle(`${t.requestPrefix}${action}`, Buffer.from(body));
    return { responses: published.map((p) => ({ topic: p.topic, ...JSON.parse(p.payload) })), events };
  }

  it('answers with the handler, the source and the transaction', async () => {
    const seen: unknown[] = [];
    const table = {
      status: async (request: Record<string, unknown>, origin: Origin) => {
        seen.push({ request, origin });
        return { fine: true };
      },
    };
    const { responses, events } = await ask(table, 'status', '{"transaction": 7, "source": "cli"}');
    assert.deepEqual(seen, [{ request: { transaction: 7 }, origin: { source: 'cli', transaction: 7 } }]);
    assert.deepEqual(responses, [
      { topic: 'tp/bridge/response/status', status: 'ok', data: { fine: true }, transaction: 7 },
    ]);
    assert.deepEqual(events, []);
  });

  it('refuses a whole-number transaction too big to echo as it was sent, and runs nothing', async () => {
    // JSON.parse rounds it to a double: 12345678901234567890 was answered as 12345678901234567000,
    // which a client reading whole numbers exactly (Python, Go) never matched to its request.
    const seen: unknown[] = [];
    const table = { status: async (request: Record<string, unknown>) => void seen.push(request) };
    for (const big of ['12345678901234567890', '9007199254740993', '-9007199254740993', '1e300']) {
      const { responses } = await ask(table, 'status', `{"transaction": ${big}}`);
      assert.deepEqual(responses[0], {
        topic: 'tp/bridge/response/status',
        status: 'error',
        error:
          '"transaction" must be a string of at most 128 characters or a number ' +
          '(a whole number at most 9007199254740991 in size)',
      });
    }
    assert.deepEqual(seen, []);
    for (const fine of [9007199254740991, -9007199254740991, 1.5, 0.25])
      assert.equal((await ask(table, 'status', `{"transaction": ${fine}}`)).responses[0]?.transaction, fine);
  });

  it('answers a request that only reads anew, whatever its transaction (a script polling with one)', async () => {
    let asked = 0;
    const { connection, published } = fakeConnection();
    const table = { status: async () => ++asked, power: async () => ++asked };
    const handle = requestCommand(table, { connection, topics: t, event: () => undefined });
    const polls: [string, string][] = [
      ['status', '{"transaction": "poll"}'],
      ['power', '{"transaction": "poll", "node": 3, "action": "STATUS"}'],
    ];
    for (const [action, body] of polls)
      for (let round = 0; round < 2; round++) await handle(`${t.requestPrefix}${action}`, Buffer.from(body));
    assert.deepEqual(
      published.map((p) => (JSON.parse(p.payload) as { data: number }).data),
      [1, 2, 3, 4],
    );
  });

  it('an unknown action lists the keys of the table, and is one error event', async () => {
    const nothing = async () => undefined;
    const table = { power: nothing, status: nothing, 'rtc/sync': nothing, 'schedule/run': nothing };
    const { responses, events } = await ask(table, 'reboot', '{}');
    const error = 'unknown request "reboot": use power, status, rtc/sync or schedule/run';
    assert.deepEqual(responses, [{ topic: 'tp/bridge/response/reboot', status: 'error', error }]);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.error, error);
    // Not a key of the table, though every object has it.
    const proto = await ask(table, 'constructor', '{}');
    assert.match(proto.responses[0]?.error ?? '', /^unknown request "constructor"/);
  });

  it('an InputError is one event; any other failure (already reported by its part) none', async () => {
    const table = {
      bad: async () => {
        throw new InputError('"node" must be a node number or "all"');
      },
      failed: async () => {
        throw new Error('node 3 is busy');
      },
    };
    const bad = await ask(table, 'bad', '{}');
    assert.equal(bad.events.length, 1);
    assert.equal(bad.responses[0]?.error, '"node" must be a node number or "all"');
    const failed = await ask(table, 'failed', '{}');
    assert.equal(failed.events.length, 0);
    assert.equal(failed.responses[0]?.status, 'error');
    const junk = await ask(table, 'bad', 'not json');
    assert.equal(junk.responses[0]?.error, 'payload is not valid JSON');
  });

  it("a refused request's event says who asked, with the request's transaction (docs/topics.md)", async () => {
    const table = {
      power: async () => {
        throw new InputError('unknown node 9');
      },
    };
    const { events, responses } = await ask(table, 'power', '{"source": "cli", "transaction": "t1"}');
    assert.deepEqual(events, [
      { type: 'request', action: 'power', source: 'cli', transaction: 't1', result: 'error', error: 'unknown node 9' },
    ]);
    assert.equal(responses[0]?.transaction, 't1');
  });

  it('a transaction that is not a short string or a number is refused, not dropped without a word', async () => {
    let ran = false;
    const table = {
      status: async () => {
        ran = true;
        return {};
      },
    };
    const { events, responses } = await ask(table, 'status', '{"source": "cli", "transaction": {"a": 1}}');
    assert.equal(ran, false);
    const error =
      '"transaction" must be a string of at most 128 characters or a number ' +
      '(a whole number at most 9007199254740991 in size)';
    assert.deepEqual(responses, [{ topic: 'tp/bridge/response/status', status: 'error', error }]);
    assert.equal(events[0]?.source, 'cli');
  });

  it('a mistyped action with capitals or digits is answered; one no topic may hold gets the event only', async () => {
    const table = { status: async () => ({}) };
    for (const action of ['Status', 'stat2', 'status_x']) {
      const { responses, events } = await ask(table, action, '{}');
      assert.equal(responses[0]?.topic, `tp/bridge/response/${action}`, action);
      assert.match(responses[0]?.error ?? '', /^unknown request/);
      assert.equal(events.length, 1);
    }
    for (const action of ['st+tus', 'a b', 'x'.repeat(41)]) {
      const { responses, events } = await ask(table, action, '{}');
      assert.deepEqual(responses, [], action);
      assert.equal(events.length, 1);
    }
  });
});
