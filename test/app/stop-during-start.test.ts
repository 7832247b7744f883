import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { createAgent, type Agent } from '../../src/app/agent.js';
import { createBridge } from '../../src/app/bridge.js';
import { createSimulatedTpi1 } from '../../src/board/simulator/tpi1.js';
import { parseConfig } from '../../src/config/parse.js';
import { TpmError } from '../../src/util/errors.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { agentConfig } from '../agent/helpers.js';
import { tempDir } from '../support/cli.js';
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
  return Promise.race([
    start.then(
      () => 'resolved',
      (error: unknown) => error,
    ),
    delay(ms).then(() => 'pending'),
  ]);
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
