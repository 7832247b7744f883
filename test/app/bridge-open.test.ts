import assert from 'node:assert/strict';
import { watchCommand } from '../../src/app/bridge-open.js';
import { createSimulatedTpi1 } from '../../src/board/simulator/tpi1.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { brokerAndFolder } from '../support/broker-and-folder.js';
import { runBridge, stateDirOf } from '../support/in-process-bridge.js';
import { delay } from '../support/wait.js';

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

/**
 * After stop() nothing of the bridge's holds the process (a program embedding the library
 * exited 1-2 s late): the time limits raced against the last publishes are cleared.
 */
describe('bridge stop: no timer left behind', () => {
  const env = brokerAndFolder();

  const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

  it('leaves no timer once stop() has resolved (second-bridge check and offline publish)', async () => {
    await delay(10); // mocha arms the test's own time-out after the test's first step
    const before = timers();
    const clock = new FakeClock();
    const { bridge } = await runBridge(env.broker.url, stateDirOf(env.dir), {
      clock,
      bus: createSimulatedTpi1({ clock }).bus,
    });
    await bridge.stop();
    assert.equal(clock.pending, 0, 'a timer of the injected clock is left');
    // A moment for the sockets' own clean-up; the timers at fault ran 1 s and 2 s.
    await delay(200);
    assert.equal(timers(), before, `timers: ${process.getActiveResourcesInfo().join(', ')}`);
  });
});
