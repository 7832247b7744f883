import assert from 'node:assert/strict';
import { eventSink } from '../../src/app/event-sink.js';
import type { MqttConnection } from '../../src/mqtt/connection.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { captureLogger } from '../support/log-capture.js';

/** A connection that keeps what it is asked to send. */
function recordingConnection(): { connection: MqttConnection; sent: { topic: string; payload: string }[] } {
  const sent: { topic: string; payload: string }[] = [];
  const connection = {
    send(topic: string, payload: string, _options: object, done: () => void) {
      sent.push({ topic, payload });
      done();
    },
  } as unknown as MqttConnection;
  return { connection, sent };
}

describe('event sink', () => {
  const at = Date.UTC(2026, 11, 7, 3, 4, 5, 6);

  it('publishes every event with its time, and logs it as one line at info (an error at warn)', () => {
    const log = captureLogger('info');
    const { connection, sent } = recordingConnection();
    const event = eventSink({ clock: new FakeClock(at), logger: log.logger, connection, topic: 'tp/bridge/event' });
    event({ type: 'power', node: 2, action: 'on', source: 'mqtt', result: 'ok', message: 'switched on' });
    event({ type: 'command', source: 'mqtt', result: 'error', error: 'unknown command "X"' });
    assert.deepEqual(
      sent.map((s) => JSON.parse(s.payload) as object),
      [
        {
          time: '2026-12-07T03:04:05.006Z',
          type: 'power',
          node: 2,
          action: 'on',
          source: 'mqtt',
          result: 'ok',
          message: 'switched on',
        },
        {
          time: '2026-12-07T03:04:05.006Z',
          type: 'command',
          source: 'mqtt',
          result: 'error',
          error: 'unknown command "X"',
        },
      ],
    );
    assert.deepEqual(log.messages(), ['node 2 on (mqtt): switched on', 'command (mqtt): unknown command "X"']);
    assert.deepEqual(log.messages(40), ['command (mqtt): unknown command "X"']);
  });

  it('at warn (as a service logs) still publishes everything and logs the errors', () => {
    const log = captureLogger('warn');
    const { connection, sent } = recordingConnection();
    const event = eventSink({ clock: new FakeClock(at), logger: log.logger, connection, topic: 'tp/bridge/event' });
    event({ type: 'power', node: 2, action: 'on', source: 'mqtt', result: 'ok', message: 'switched on' });
    event({ type: 'power', node: 3, action: 'off', source: 'schedule', result: 'error', error: 'node 3 is busy' });
    assert.equal(sent.length, 2);
    assert.deepEqual(log.messages(), ['node 3 off (schedule): node 3 is busy']);
  });
});
