import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { BridgeStateData } from '../../src/app/bridge-state.js';
import { createSimulatedTpi1, type SimulatedTpi1 } from '../../src/board/simulator/tpi1.js';
import { TPI1_SLOT_PINS } from '../../src/board/simulator/ds4520.js';
import type { I2cBus } from '../../src/board/tpi1/i2c.js';
import type { Clock } from '../../src/util/clock.js';
import type { FakeClock } from '../../src/util/fake-clock.js';
import { startAedes, type TestBroker } from '../support/aedes.js';
import { tempDir } from '../support/cli.js';
import { BASE, runBridge, stateDirOf, type BridgeRun, type RunOptions } from '../support/in-process-bridge.js';
import { Recorder } from '../support/recorder.js';
import { delay } from '../support/wait.js';

/**
 * Pieces the bridge feature tests share: a broker, recorder and state_dir set up around each
 * test (the bridge restarted on the same state_dir sees what the first run left), a bus that
 * counts power writes, and waiting that interleaves fake time with the real I/O of MQTT.
 */

export { BASE, BOARD_ID, type BridgeRun } from '../support/in-process-bridge.js';
export { delay, until } from '../support/wait.js';

/** DS4520 0x57, register 0xF2: the power pins of a Turing Pi 1 (docs/hardware.md). */
const DS4520_ADDRESS = 0x57;
const IO_CONTROL_0 = 0xf2;

/**
 * Moves fake time forward in `stepMs` steps, letting real I/O (the broker, the simulated bus)
 * catch up after each, until `test` holds; fails after `maxMs` of fake time.
 */
export async function advanceUntil(
  clock: FakeClock,
  test: () => boolean,
  what: string,
  stepMs = 250,
  maxMs = 60_000,
): Promise<void> {
  let passed = 0;
  while (!test()) {
    if (passed >= maxMs) throw new Error(`${what} did not happen within ${maxMs} ms of fake time`);
    await clock.advance(stepMs);
    passed += stepMs;
    await delay(5);
  }
}

/**
 * What every bridge feature test stands on: an in-process broker, a recorder subscribed to
 * `tp/#` and `homeassistant/#` (or `filters`), and a temporary folder whose `state` is the
 * bridge's state_dir. Torn down with the bridge the test started last: stopped, then the
 * recorder, the broker and the folders. `per: 'test'` sets all of it up afresh for each test
 * (beforeEach/afterEach); `per: 'suite'` once for the describe block, so a later test sees
 * what an earlier one left on the broker.
 */
export interface BridgeFixture {
  readonly broker: TestBroker;
  readonly rec: Recorder;
  readonly stateDir: string;
  /** The bridge `start` started last; fails when none is running. */
  readonly run: BridgeRun;
  /** runBridge on the fixture's broker, in `stateDir` unless given another one. */
  start(options: RunOptions, stateDir?: string): Promise<BridgeRun>;
  /** Stops the running bridge, if any (as a restart's first half). */
  stop(): Promise<void>;
  /** A state_dir in a further temporary folder, removed with the fixture's own. */
  anotherStateDir(): string;
}

export function bridgeFixture(per: 'test' | 'suite', options: { filters?: string[] } = {}): BridgeFixture {
  let broker: TestBroker | undefined;
  let rec: Recorder | undefined;
  let folders: string[] = [];
  let run: BridgeRun | undefined;
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the bridge fixture has no ${what} (outside its hooks?)`);
    return value;
  };
  const fixture: BridgeFixture = {
    get broker() {
      return ready(broker, 'broker');
    },
    get rec() {
      return ready(rec, 'recorder');
    },
    get stateDir() {
      return stateDirOf(ready(folders[0], 'folder'));
    },
    get run() {
      return ready(run, 'running bridge');
    },
    async start(runOptions, stateDir = fixture.stateDir) {
      run = await runBridge(fixture.broker.url, stateDir, runOptions);
      return run;
    },
    async stop() {
      const running = run;
      run = undefined;
      await running?.bridge.stop();
    },
    anotherStateDir() {
      const folder = tempDir('tpm-bridge-');
      folders.push(folder);
      return stateDirOf(folder);
    },
  };

  const setUp = async (): Promise<void> => {
    broker = await startAedes();
    rec = await Recorder.connect(broker.url, BASE, options.filters ? { filters: options.filters } : {});
    folders = [tempDir('tpm-bridge-')];
  };
  const tearDown = async (): Promise<void> => {
    await fixture.stop();
    await rec?.close();
    await broker?.close();
    for (const folder of folders) rmSync(folder, { recursive: true, force: true });
    rec = undefined;
    broker = undefined;
    folders = [];
  };
  if (per === 'test') {
    beforeEach(setUp);
    afterEach(tearDown);
  } else {
    before(setUp);
    after(tearDown);
  }
  return fixture;
}

/** state_dir/bridge.json as the bridge last wrote it. */
export function readBridgeState(stateDir: string): BridgeStateData {
  return JSON.parse(readFileSync(path.join(stateDir, 'bridge.json'), 'utf8')) as BridgeStateData;
}

export function filesIn(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** The simulated Turing Pi 1 plus a view of its bus that counts writes to the power register. */
export interface CountedBoard extends SimulatedTpi1 {
  /** The bus to hand to the bridge: the simulator's, with every 0xF2 write counted. */
  countingBus: I2cBus;
  /** Writes to DS4520 0xF2 so far, whatever they wrote. */
  powerWrites(): number;
  /** Every change of a node's power pin, in order. */
  changes: { node: number; on: boolean }[];
}

export function createCountedTpi1(clock: Clock): CountedBoard {
  const sim = createSimulatedTpi1({ clock });
  let writes = 0;
  const touchesPower = (address: number, register: number, length: number): boolean =>
    address === DS4520_ADDRESS && register <= IO_CONTROL_0 && IO_CONTROL_0 < register + length;
  const countingBus: I2cBus = {
    readByte: (address, register) => sim.bus.readByte(address, register),
    readI2cBlock: (address, register, length, buffer) => sim.bus.readI2cBlock(address, register, length, buffer),
    writeByte: (address, register, byte) => {
      if (touchesPower(address, register, 1)) writes++;
      return sim.bus.writeByte(address, register, byte);
    },
    writeI2cBlock: (address, register, length, buffer) => {
      if (touchesPower(address, register, length)) writes++;
      return sim.bus.writeI2cBlock(address, register, length, buffer);
    },
  };
  const changes: { node: number; on: boolean }[] = [];
  sim.ds4520.onPowerChange((control, previous) => {
    for (const [node, pin] of Object.entries(TPI1_SLOT_PINS)) {
      if ((control & pin) !== (previous & pin)) changes.push({ node: Number(node), on: (control & pin) !== 0 });
    }
  });
  return { ...sim, countingBus, powerWrites: () => writes, changes };
}

/** Which of nodes 1-7 the simulated chip powers now. */
export function poweredNodes(sim: SimulatedTpi1): number[] {
  return [1, 2, 3, 4, 5, 6, 7].filter((n) => sim.ds4520.nodePowered(n));
}
