import assert from 'node:assert/strict';
import { nodeMask as maskOf } from '../../src/board/tpi1/registers.js';
import { Recorder } from '../support/recorder.js';
import { startAedes, type TestBroker } from '../support/aedes.js';
import { startLibraryBridge, until, type LibraryBridge, seconds, percentile } from './helpers.js';

/**
 * Issue 6, item 2: the REAL Tpi1Driver on the simulated bus with the FaultInjector, through the
 * library (createBridge with deps.i2cBus). Every step ends with the same check: what the bridge
 * published for each node is what the DS4520 drives, so no wrong power bit is ever left behind.
 */
describe('faults: the I2C bus fails, lies and stalls', function () {
  this.timeout(60_000);
  const DS4520 = { address: 0x57 };
  const CONTROL = 0xf2;
  let broker: TestBroker;
  let lab: LibraryBridge;
  let rec: Recorder;

  before(async () => {
    broker = await startAedes();
    lab = await startLibraryBridge(broker.url);
    rec = await Recorder.connect(broker.url, 'tp', { filters: ['tp/#'] });
    await until(() => publishedMatchesBoard(), 'the first published power of every node');
  });

  after(async () => {
    await rec?.close();
    await lab?.bridge.stop();
    await broker?.close();
  });

  function publishedMatchesBoard(): boolean {
    for (let n = 1; n <= 7; n++) {
      const published = rec.last(`tp/node/${n}/power`)?.payload;
      if (published !== (lab.sim.ds4520.nodePowered(n) ? 'ON' : 'OFF')) return false;
    }
    return true;
  }

  async function assertNoWrongPowerBit(context: string): Promise<void> {
    await until(() => publishedMatchesBoard(), `published power equal to the DS4520 (${context})`, 3000).catch(() => {
      const view = [1, 2, 3, 4, 5, 6, 7].map(
        (n) => `${n}:${rec.last(`tp/node/${n}/power`)?.payload}/${lab.sim.ds4520.nodePowered(n) ? 'ON' : 'OFF'}`,
      );
      assert.fail(`${context}: published/board power differ: ${view.join(' ')}`);
    });
  }

  /** A power request that flips node n; resolves with the response and its round trip. */
  async function flip(n: number): Promise<{ ok: boolean; wanted: boolean; ms: number; error?: string }> {
    const wanted = !lab.sim.ds4520.nodePowered(n);
    const started = Date.now();
    const response = await rec.request('power', { node: n, action: wanted ? 'on' : 'off' });
    return {
      ok: response.status === 'ok',
      wanted,
      ms: Date.now() - started,
      ...(response.error ? { error: response.error } : {}),
    };
  }

  it('retries transient bus errors and read glitches: every command takes, the right bit only', async () => {
    const { faults, ds4520 } = lab.sim;
    const errorsBefore = faults.counters.errors;
    const injections = [
      () => faults.failNext(1, { ...DS4520, operation: 'read' }),
      () => faults.failNext(2, { ...DS4520, operation: 'read' }),
      () => faults.failNext(1, { ...DS4520, operation: 'write', register: CONTROL }),
      () => faults.glitchReads((v) => v ^ 0xff, { ...DS4520, register: CONTROL }, 1),
    ];
    let ok = 0;
    const commands = 16;
    for (let i = 0; i < commands; i++) {
      const n = 2 + (i % 6);
      const others = ds4520.control & ~maskOf(n);
      injections[i % injections.length]!();
      const result = await flip(n);
      assert.ok(result.ok, `command ${i} on node ${n} failed: ${result.error}`);
      assert.equal(ds4520.nodePowered(n), result.wanted, `node ${n} is not what was commanded`);
      assert.equal(ds4520.control & ~maskOf(n), others, `a bit other than node ${n}'s changed`);
      ok++;
      await assertNoWrongPowerBit(`after transient command ${i}`);
    }
    faults.clear();
    const injected = faults.counters.errors - errorsBefore;
    assert.ok(injected >= 8, `expected the injected errors to be met (${injected})`);
    console.log(
      `      bus transient faults: ${commands} commands, ${ok} took, ${injected} bus errors + ${commands / 4} ` +
        `read glitches absorbed by retries, 0 wrong power bits`,
    );
  });

  it(
    'refuses a write that does not take (wrong read-back): error answer and event, power as the board has ' + 'it',
    async () => {
      const { faults, ds4520 } = lab.sim;
      const from = rec.mark();
      const before = ds4520.control;
      faults.dropWrites({ ...DS4520, register: CONTROL }, 1);
      const once = await flip(3);
      assert.equal(once.ok, false);
      assert.match(once.error ?? '', /did not switch/);
      assert.equal(ds4520.control, before, 'a dropped write changed nothing on the chip');
      await assertNoWrongPowerBit('after a dropped write');
      const event = await rec.waitForEvent(
        (e) => e.type === 'power' && e.node === 3 && e.result === 'error',
        3000,
        from,
      );
      assert.match(event.error ?? '', /read back/);

      const stopDropping = faults.dropWrites({ ...DS4520, register: CONTROL });
      const refused: boolean[] = [];
      for (const n of [4, 5, 6]) refused.push(!(await flip(n)).ok);
      stopDropping();
      assert.deepEqual(refused, [true, true, true]);
      assert.equal(ds4520.control, before);
      await assertNoWrongPowerBit('after persistently dropped writes');

      const again = await flip(3);
      assert.ok(again.ok, `the same command without the fault: ${again.error}`);
      await assertNoWrongPowerBit('after the retry');
      console.log(
        `      bus wrong read-back: 4 dropped writes, 4 refused with an error answer and event, 0 wrong power ` +
          `bits; next command took`,
      );
    },
  );

  it('stays correct when every transaction is slow', async () => {
    const { faults, ds4520 } = lab.sim;
    faults.setLatency(25, { timers: 'real' });
    const times: number[] = [];
    try {
      for (let i = 0; i < 6; i++) {
        const n = 2 + i;
        const result = await flip(n);
        assert.ok(result.ok, `slow command on node ${n}: ${result.error}`);
        assert.equal(ds4520.nodePowered(n), result.wanted);
        times.push(result.ms);
      }
    } finally {
      faults.setLatency(0);
    }
    await assertNoWrongPowerBit('after slow transactions');
    console.log(
      `      bus latency 25 ms per transaction: 6/6 commands took, round trip p50 ${percentile(times, 50)} ms, ` +
        `max ${Math.max(...times)} ms`,
    );
  });

  it('sets board/state offline after repeated failures and back online by itself', async () => {
    const { faults, ds4520 } = lab.sim;
    const from = rec.mark();
    const before = ds4520.control;
    const failedAt = Date.now();
    const heal = faults.failAlways(DS4520);
    await rec.waitForPayload('tp/board/state', 'offline', 10_000, from);
    const offlineAfter = Date.now() - failedAt;
    const event = await rec.waitForEvent((e) => e.type === 'board' && e.result === 'error', 3000, from);
    assert.match(event.error ?? '', /does not answer/);

    const during = await flip(2);
    assert.equal(during.ok, false, 'a command while the bus fails is refused');
    assert.equal(ds4520.control, before, 'nothing changed while the bus failed');

    const healedAt = Date.now();
    const healedMark = rec.mark();
    heal();
    await rec.waitForPayload('tp/board/state', 'online', 15_000, healedMark);
    const onlineAfter = Date.now() - healedAt;
    await assertNoWrongPowerBit('after the bus came back');
    const after = await flip(2);
    assert.ok(after.ok, `a command after recovery: ${after.error}`);
    console.log(
      `      bus persistent failure: board offline after ${seconds(offlineAfter)}, 1 command refused (no ` +
        `change), online again ${seconds(onlineAfter)} after the bus recovered (poll back-off), 0 wrong power bits`,
    );
  });
});
