import assert from 'node:assert/strict';
import { watchCommand } from '../../src/app/bridge-open.js';

/** The line the bridge logs to watch its built-in broker (found walking the README: it did not work as printed). */
describe('bridge start: how to watch the built-in broker', () => {
  const mqtt = { base_topic: 'turingpi', username: null, password: null };

  it('is the loopback address where the broker listens on every address', () => {
    assert.equal(
      watchCommand({ host: '0.0.0.0', port: 1883 }, mqtt),
      "mosquitto_sub -h 127.0.0.1 -p 1883 -t 'turingpi/#' -v",
    );
    assert.equal(watchCommand({ host: '::', port: 1885 }, mqtt), "mosquitto_sub -h ::1 -p 1885 -t 'turingpi/#' -v");
    assert.equal(
      watchCommand({ host: '127.0.0.1', port: 1884 }, { ...mqtt, base_topic: 'turingpi2' }),
      "mosquitto_sub -h 127.0.0.1 -p 1884 -t 'turingpi2/#' -v",
    );
  });

  it('names the user a broker with credentials asks for, and never the password', () => {
    const line = watchCommand({ host: '127.0.0.1', port: 1885 }, { ...mqtt, username: 'bridge', password: 'hunter2' });
    assert.equal(line, "mosquitto_sub -h 127.0.0.1 -p 1885 -u bridge -P '<mqtt.password>' -t 'turingpi/#' -v");
    assert.doesNotMatch(line, /hunter2/);
  });
});
