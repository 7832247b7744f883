import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { createAgent, type Agent } from '../../src/app/agent.js';
import { createBridge, type Bridge } from '../../src/app/bridge.js';
import { defaultBridgeState } from '../../src/app/bridge-state.js';
import { TPI1_SLOT_PINS } from '../../src/board/simulator/ds4520.js';
import { createSimulatedTpi1 } from '../../src/board/simulator/tpi1.js';
import { DS4520, DS4520_ADDRESS, SEE_BIT } from '../../src/board/tpi1/registers.js';
import { parseConfig } from '../../src/config/parse.js';
import { TpmError } from '../../src/util/errors.js';
import { systemClock } from '../../src/util/clock.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import type { LogMethod, Logger } from '../../src/util/logger.js';
import { agentConfig } from '../agent/helpers.js';
import { tempDir } from '../support/cli.js';
import { brokerAndFolder } from '../support/broker-and-folder.js';
import { captureLogger, type CapturedLog } from '../support/log-capture.js';
import { freePort } from '../support/ports.js';
import { delay, until } from '../support/wait.js';

/**
 * A stop() while start() still waits for the broker (found by a program embedding the library:
 * its process never exited). The stop ends every connection and timer the start opened, and
 * the start rejects saying it was stopped.
 */

/** A TCP server that takes connections and never answers: a broker that hangs. */
async function silentServer(): Promise<{ url: string; open: Set<Socket>; close(): Promise<void> }> {
  const open = new Set<Socket>();
  const server: Server = createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => undefined);
    socket.resume(); // reads and drops what comes: the client's close then reaches us
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    open,
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** How a start ended, or 'pending' if it had not after `ms`. */
async function outcome(start: Promise<void>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('pending'), ms)));
  try {
    return await Promise.race([
      start.then(
        () => 'resolved',
        (error: unknown) => error,
      ),
      pending,
    ]);
  } finally {
    // Not left to run out: a later test counts the process's timers (bridge-open.test.ts).
    clearTimeout(timer);
  }
}

function assertStopped(result: unknown, role: RegExp): void {
  assert.ok(result instanceof TpmError, `start() ended with ${String(result)}`);
  assert.equal(result.code, 'STOPPED');
  assert.match(result.message, role);
}

describe('stop() during a start() that waits for the broker', () => {
  let dir: string;
  let clock: FakeClock;
  let log: CapturedLog;

  beforeEach(() => {
    dir = tempDir();
    clock = new FakeClock();
    log = captureLogger('debug');
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const bridgeOn = (url: string) => {
    const config = parseConfig({
      mqtt: { url, base_topic: 'tp' },
      board: { type: 'tpi1', id: 'lab', poll_interval: '1h' },
      state_dir: path.join(dir, 'state'),
    });
    const sim = createSimulatedTpi1({ clock });
    return createBridge(config, { clock, logger: log.logger, i2cBus: sim.bus });
  };

  const retrying = (): boolean => log.messages().some((m) => m.includes('not connected to'));

  it('bridge, broker refusing connections: the retries end and start() rejects', async () => {
    const bridge = bridgeOn(`mqtt://127.0.0.1:${await freePort()}`);
    const start = bridge.start();
    await until(retrying, 'a failed first connection');
    await bridge.stop();
    assertStopped(await outcome(start, 2000), /bridge was stopped before it was started/);
    assert.equal(clock.pending, 0, 'a timer of the bridge is left (a retry of the connection)');
  });

  it('bridge, broker that never answers: every connection it opened is closed', async () => {
    const broker = await silentServer();
    try {
      const bridge = bridgeOn(broker.url);
      const start = bridge.start();
      await until(() => broker.open.size > 0, 'a connection to the broker');
      await bridge.stop();
      assertStopped(await outcome(start, 2000), /bridge was stopped before it was started/);
      await until(() => broker.open.size === 0, 'every connection closed', 2000);
      assert.equal(clock.pending, 0);
    } finally {
      await broker.close();
    }
  });

  it('bridge: start() after stop() rejects, and opens nothing', async () => {
    const broker = await silentServer();
    try {
      const bridge = bridgeOn(broker.url);
      await bridge.stop();
      assertStopped(await outcome(bridge.start(), 2000), /bridge was stopped before it was started/);
      await delay(50);
      assert.equal(broker.open.size, 0);
    } finally {
      await broker.close();
    }
  });

  describe('agent', () => {
    let agent: Agent;

    const agentOn = (url: string): Agent =>
      createAgent(agentConfig(url), { clock, logger: log.logger, run: () => Promise.resolve({ code: 0, stderr: '' }) });

    it('broker refusing connections: the retries end and start() rejects', async () => {
      agent = agentOn(`mqtt://127.0.0.1:${await freePort()}`);
      const start = agent.start();
      await until(retrying, 'a failed first connection');
      await agent.stop();
      assertStopped(await outcome(start, 2000), /agent of node 3 was stopped before it was started/);
      assert.equal(clock.pending, 0);
    });

    it('broker that never answers: its connection is closed', async () => {
      const broker = await silentServer();
      try {
        agent = agentOn(broker.url);
        const start = agent.start();
        await until(() => broker.open.size > 0, 'a connection to the broker');
        await agent.stop();
        assertStopped(await outcome(start, 2000), /agent of node 3 was stopped before it was started/);
        await until(() => broker.open.size === 0, 'the connection closed', 2000);
      } finally {
        await broker.close();
      }
    });

    it('start() after stop() rejects', async () => {
      agent = agentOn(`mqtt://127.0.0.1:${await freePort()}`);
      await agent.stop();
      assertStopped(await outcome(agent.start(), 2000), /agent of node 3 was stopped before it was started/);
    });
  });
});

/**
 * A stop() while the start restores power (restore_on_start: last, one on_stagger apart): found
 * by a review of the stop-during-start change, which had the stop wait for the start to end
 * before the power service was stopped, so every remaining node was still switched on.
 */
describe('stop() during a start() that restores power', () => {
  const env = brokerAndFolder();

  it('switches no further node on, and the stop ends at once', async () => {
    const stateDir = path.join(env.dir, 'state');
    mkdirSync(stateDir, { recursive: true });
    // Nodes 2-5 were last commanded on; the board came back with them off.
    const commanded = { '2': true, '3': true, '4': true, '5': true };
    writeFileSync(path.join(stateDir, 'bridge.json'), JSON.stringify({ ...defaultBridgeState(), commanded }));
    const sim = createSimulatedTpi1({ clock: systemClock });
    await sim.bus.writeByte(DS4520_ADDRESS, DS4520.CONFIG, SEE_BIT);
    const off = [2, 3, 4, 5].reduce((pins, n) => pins | (TPI1_SLOT_PINS[n] ?? 0), 0);
    await sim.bus.writeByte(DS4520_ADDRESS, DS4520.IO_CONTROL_0, sim.ds4520.control & ~off);
    assert.deepEqual(
      [2, 3, 4, 5].map((n) => sim.ds4520.nodePowered(n)),
      [false, false, false, false],
    );

    const config = parseConfig({
      mqtt: { url: env.broker.url, base_topic: 'tp' },
      board: { type: 'tpi1', id: 'lab', poll_interval: '1h' },
      nodes: { '2': { agent: false }, '3': { agent: false }, '4': { agent: false }, '5': { agent: false } },
      power: { restore_on_start: 'last', on_stagger: '1s' },
      homeassistant: { enabled: false },
      state_dir: stateDir,
    });
    const bridge = createBridge(config, { i2cBus: sim.bus, logger: captureLogger('warn').logger });
    const start = bridge.start();
    start.catch(() => undefined); // it rejects during the stop, before `outcome` looks
    await until(() => sim.ds4520.nodePowered(2), 'node 2 switched on by the restore', 5000);
    const asked = Date.now();
    await bridge.stop();
    const took = Date.now() - asked;
    assertStopped(await outcome(start, 2000), /bridge was stopped before it was started/);
    await delay(1500); // past the next on_stagger: a node switched on late would show now
    assert.deepEqual(
      [3, 4, 5].map((n) => sim.ds4520.nodePowered(n)),
      [false, false, false],
      'nodes 3-5 stay off',
    );
    assert.ok(took < 900, `the stop took ${took} ms: it waited for the restore`);
  });
});

/** `inner`, and `onLine` called with each message as it is logged (children included). */
function watchedLogger(inner: Logger, onLine: (message: string) => void): Logger {
  const watch = (method: LogMethod): LogMethod =>
    ((...args: unknown[]) => {
      const message = args.find((arg) => typeof arg === 'string');
      if (typeof message === 'string') onLine(message);
      (method as (...a: unknown[]) => void)(...args);
    }) as LogMethod;
  return {
    debug: watch(inner.debug.bind(inner)),
    info: watch(inner.info.bind(inner)),
    warn: watch(inner.warn.bind(inner)),
    error: watch(inner.error.bind(inner)),
    child: (bindings) => watchedLogger(inner.child(bindings), onLine),
    get level() {
      return inner.level;
    },
  };
}

/**
 * A stop while a schedule's missed run is being made up (found by a review: the scheduler was
 * stopped only after the power service, so the catch-up was recorded as done, with the power
 * service refusing it, and the next start did not make it up).
 */
describe('stop() while a schedule catches up', () => {
  const env = brokerAndFolder();

  it('records no run: the next start makes it up', async () => {
    const clock = new FakeClock(Date.parse('2027-03-10T05:12:00Z'));
    const sim = createSimulatedTpi1({ clock });
    const config = parseConfig({
      mqtt: { url: env.broker.url, base_topic: 'tp' },
      board: { type: 'tpi1', id: 'lab', poll_interval: '1h' },
      nodes: { '4': { agent: false } },
      power: { min_off_time: 0, on_stagger: 0 },
      homeassistant: { enabled: false },
      schedules: [{ name: 'early-off', cron: '10 05 * * *', timezone: 'UTC', action: 'off', nodes: [4] }],
      state_dir: path.join(env.dir, 'state'),
    });
    const log = captureLogger('debug');
    const first = createBridge(config, { clock, logger: log.logger, i2cBus: sim.bus });
    await first.start(); // arms the schedule at 05:12
    await first.stop();

    // Back the next day with the clock not set yet (before this build): the schedule waits. The
    // clock is set at 05:20, 05:10 was missed, and the stop comes as the scheduler arms.
    clock.jump(Date.parse('2020-01-01T00:00:00Z'));
    let stopping: Promise<void> | undefined;
    const second: Bridge = createBridge(config, {
      clock,
      i2cBus: sim.bus,
      logger: watchedLogger(log.logger, (message) => {
        if (message.startsWith('system clock is plausible')) stopping ??= second.stop();
      }),
    });
    await second.start();
    clock.jump(Date.parse('2027-03-11T05:20:00Z'));
    await clock.advance(0); // the scheduler's wait for a plausible clock ends
    assert.ok(stopping, 'the scheduler did not arm');
    await stopping;
    assert.equal(sim.ds4520.nodePowered(4), true, 'node 4 untouched');
    const file = JSON.parse(readFileSync(path.join(env.dir, 'state', 'schedules.json'), 'utf8')) as {
      schedules: Record<string, { done: string[]; last_result: string | null }>;
    };
    assert.deepEqual(file.schedules['early-off']?.done, [], 'the missed run is not recorded as handled');
    assert.equal(file.schedules['early-off']?.last_result, null);

    const third = createBridge(config, { clock, logger: log.logger, i2cBus: sim.bus });
    await third.start();
    try {
      await until(() => !sim.ds4520.nodePowered(4), 'node 4 switched off by the catch-up');
    } finally {
      await third.stop();
    }
  });
});
