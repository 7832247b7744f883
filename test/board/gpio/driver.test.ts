import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GpioDriver } from '../../../src/board/gpio/driver.js';
import type { GpioDirection, GpioFactory } from '../../../src/board/gpio/lines.js';
import { socGpioBase } from '../../../src/board/gpio/sysfs.js';
import { createSimulatedGpioLines } from '../../../src/board/simulator/generic.js';
import { TpmError } from '../../../src/util/errors.js';
import { FakeClock } from '../../../src/util/fake-clock.js';

describe('GpioDriver with injected lines', () => {
  function board(nodes: number, lines: Record<string, { line: number; active_low: boolean }>, faults = {}) {
    const sim = createSimulatedGpioLines({ nodes, faults });
    const driver = new GpioDriver({ lines, gpio: sim.gpio, currentLevel: sim.currentLevel, clock: new FakeClock() });
    return { sim, driver };
  }
  const plain = (n: number) => ({ line: n, active_low: false });

  it('opens every line as an output at its current level, so no node changes on start', async () => {
    const { sim, driver } = board(3, { 1: plain(1), 2: plain(2), 3: plain(3) });
    await sim.gpio(2, 'high'); // node 2 was left on by an earlier run
    const glitchesBefore = sim.stats.glitches;
    const opensBefore = { ...sim.stats.opens };
    await driver.open();
    assert.deepEqual((await driver.readPower()).power, [false, true, false]);
    assert.equal(sim.stats.opens.out, 0, "plain 'out' would drive low at once");
    assert.equal(sim.stats.opens.high - opensBefore.high, 1, 'node 2 reopened high');
    assert.equal(sim.stats.glitches, glitchesBefore);
    assert.deepEqual(
      [1, 2, 3].map((l) => sim.directionOf(l)),
      ['out', 'out', 'out'],
    );
  });

  it('inverts active_low lines: a low line means the node is on', async () => {
    const { sim, driver } = board(2, { 1: { line: 1, active_low: true }, 2: plain(2) });
    await driver.open();
    assert.deepEqual((await driver.readPower()).power, [true, false]);
    assert.equal(await driver.setPower(1, false), false);
    assert.equal(sim.levelOf(1), 1);
    assert.equal(await driver.setPower(1, true), true);
    assert.equal(sim.levelOf(1), 0);
  });

  it('switches node 3 on, verifies by reading the line back, and writes nothing when already so', async () => {
    const { sim, driver } = board(4, { 1: plain(1), 3: plain(3) });
    await driver.open();
    assert.equal(await driver.setPower(1, false), false);
    assert.equal(sim.stats.writes, 0);
    assert.equal(await driver.setPower(3, true), true);
    assert.equal(sim.stats.writes, 1);
    assert.equal(sim.isOn(3), true);
    assert.deepEqual((await driver.readPower()).power, [false, null, true], 'node 2 has no line');
    await assert.rejects(driver.setPower(2, true), (error: TpmError) => error.code === 'BAD_COMMAND');
  });

  it('reports a line that does not follow the write (dead relay) as a failed verification', async () => {
    const { sim, driver } = board(2, { 1: plain(1), 2: plain(2) }, { stuck: [2] });
    await driver.open();
    await assert.rejects(
      driver.setPower(2, true),
      (error: TpmError) => error.code === 'VERIFY' && /node 2/.test(error.message),
    );
    assert.equal(sim.levelOf(2), 0);
  });

  it('says a line another program made an input is an input, not a matter of the gpio group', async () => {
    // sysfs refuses a write to the value of an input with EPERM; the value file was opened long
    // before, so no group is missing: another program changed the line's direction.
    const { sim, driver } = board(2, { 1: plain(1), 2: plain(2) });
    await driver.open();
    await sim.gpio(2, 'in');
    await assert.rejects(driver.setPower(2, true), (error: TpmError) => {
      assert.equal(error.code, 'BUS');
      assert.doesNotMatch(error.message, /gpio group/);
      assert.match(error.message, /^node 2 was not switched on: GPIO BCM 2, node 2 \(sysfs 2\) is an input now/);
      return true;
    });
    assert.equal(sim.directionOf(2), 'in', 'the line is left to the program that took it');
  });

  it('opens each line once when an open is retried after a line failed (onoff frees one by unexporting)', async () => {
    const sim = createSimulatedGpioLines({ nodes: 3 });
    let refuse = true;
    const opens = new Map<number, number>();
    const gpio: GpioFactory = (line, direction) => {
      if (line === 3 && refuse) throw Object.assign(new Error('EBUSY: resource busy or locked'), { code: 'EBUSY' });
      opens.set(line, (opens.get(line) ?? 0) + 1);
      return sim.gpio(line, direction);
    };
    const driver = new GpioDriver({
      lines: { 1: plain(1), 2: plain(2), 3: plain(3) },
      gpio,
      currentLevel: sim.currentLevel,
    });
    const heldElsewhere = (error: TpmError): boolean => {
      assert.equal(error.code, 'BUS');
      assert.match(error.message, /^GPIO BCM 3, node 3 \(sysfs 3\) is held by another program or a kernel driver/);
      assert.match(error.message, /gpioset/);
      return true;
    };
    await assert.rejects(driver.open(), heldElsewhere);
    await assert.rejects(driver.open(), heldElsewhere);
    refuse = false;
    await driver.open();
    assert.deepEqual(
      [...opens],
      [
        [1, 1],
        [2, 1],
        [3, 1],
      ],
      'a retry opened a line again, leaking its value file',
    );
    assert.equal(await driver.setPower(1, true), true);
    assert.equal(sim.stats.glitches, 0);
  });

  it('says a line another program unexported meanwhile was unexported, and to restart', async () => {
    const { sim, driver } = board(2, { 1: plain(1), 2: plain(2) });
    await driver.open();
    await driver.setPower(2, true);
    (await sim.gpio(2, 'high')).unexport(); // e.g. echo 2 > /sys/class/gpio/unexport
    assert.equal(sim.isOn(2), false, 'an unexported line is an input: its node fell to the pull level');
    for (const attempt of [driver.readPower(), driver.setPower(2, true)]) {
      await assert.rejects(attempt, (error: TpmError) => {
        assert.equal(error.code, 'BUS');
        assert.match(error.message, /^GPIO BCM 2, node 2 \(sysfs 2\) was unexported by another program/);
        assert.match(error.message, /restart the bridge/);
        return true;
      });
    }
  });

  it('never unexports output lines on close, so powered nodes stay powered', async () => {
    const { sim, driver } = board(3, { 1: plain(1), 2: plain(2), 3: plain(3) });
    await driver.open();
    await driver.setPower(3, true);
    await driver.close();
    await driver.close();
    assert.equal(sim.stats.unexports, 0);
    assert.equal(sim.directionOf(3), 'out');
    assert.equal(sim.isOn(3), true);
    assert.equal(sim.stats.glitches, 0);
  });

  it('without a probe, reads an input line first and then drives the level it had', async () => {
    const sim = createSimulatedGpioLines({ nodes: 2 });
    const driver = new GpioDriver({ lines: { 1: plain(1), 2: plain(2) }, gpio: sim.gpio });
    await driver.open();
    assert.deepEqual(sim.stats.opens, { in: 2, out: 0, high: 0, low: 2 });
    assert.equal(sim.stats.glitches, 0);
    assert.deepEqual((await driver.readPower()).power, [false, false]);
  });

  it('names the gpio group when a line cannot be opened for lack of permission', async () => {
    const { driver } = board(2, { 1: plain(1), 2: plain(2) }, { noPermission: [2] });
    await assert.rejects(driver.open(), (error: TpmError) => {
      assert.equal(error.code, 'BUS');
      assert.match(error.message, /gpio group/);
      // the line as the config names it, and what to do under systemd: a restart, not a new login
      assert.match(error.message, /^no permission to use GPIO BCM 2, node 2 \(sysfs 2\):/);
      assert.match(error.message, /then restart the bridge$/);
      return true;
    });
  });

  /** Lines whose read() answers as `how` says: a number, a promise, a throw or a rejection (EACCES). */
  function linesReading(how: (line: number) => 'number' | 'promise' | 'throws' | 'rejects'): GpioFactory {
    const denied = (): Error => Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    return (line) => ({
      read: () => {
        const kind = how(line);
        if (kind === 'throws') throw denied();
        if (kind === 'rejects') return Promise.reject(denied());
        return kind === 'number' ? line % 2 : Promise.resolve(line % 2);
      },
      write: () => undefined,
      unexport: () => undefined,
    });
  }

  it('reads lines that answer at once and lines that answer with a promise (onoff) alike', async () => {
    const lines = { 1: plain(1), 2: plain(2), 3: plain(3), 4: plain(4) };
    const gpio = linesReading((line) => (line <= 2 ? 'number' : 'promise'));
    const driver = new GpioDriver({ lines, gpio, currentLevel: async () => 0, clock: new FakeClock() });
    await driver.open();
    assert.deepEqual((await driver.readPower()).power, [true, false, true, false]);
  });

  it('names the gpio group when a read fails for lack of permission, thrown or rejected', async () => {
    for (const failure of ['throws', 'rejects'] as const) {
      let failing = false;
      const gpio = linesReading(() => (failing ? failure : 'number'));
      const clock = new FakeClock();
      const driver = new GpioDriver({ lines: { 1: plain(5) }, gpio, currentLevel: async () => 0, clock });
      await driver.open();
      failing = true;
      await assert.rejects(driver.readPower(), (error: TpmError) => /gpio group/.test(error.message), failure);
    }
  });

  it('reads a board whose lines answer at once without a promise per node (a poll of 64 nodes made 192)', async () => {
    const lines = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [String(i + 1), plain(i + 1)]));
    const driver = new GpioDriver({ lines, gpio: linesReading(() => 'number'), currentLevel: async () => 0 });
    await driver.open();
    // Microtasks that run before the reading is in: one or two for the call itself, not some per node.
    let turns = 0;
    let reading = true;
    const count = (): void => {
      turns++;
      if (reading && turns < 1000) queueMicrotask(count);
    };
    queueMicrotask(count);
    const { power } = await driver.readPower();
    reading = false;
    assert.equal(power.length, 64);
    assert.ok(turns <= 3, `${turns} microtask turns went by while 64 lines were read`);
  });

  it('refuses two nodes on one line', () => {
    assert.throws(
      () =>
        new GpioDriver({ lines: { 1: plain(17), 2: plain(17) }, gpio: createSimulatedGpioLines({ nodes: 1 }).gpio }),
      (error: TpmError) => error.code === 'CONFIG' && /nodes 1 and 2 both use GPIO 17/.test(error.message),
    );
  });
});

describe('GpioDriver on a (fake) sysfs tree', () => {
  let root: string;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'tpm-sysfs-'));
    writeFileSync(join(root, 'export'), '');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  function chip(name: string, label: string, base: number, ngpio?: number): void {
    mkdirSync(join(root, name));
    writeFileSync(join(root, name, 'label'), `${label}\n`);
    writeFileSync(join(root, name, 'base'), `${base}\n`);
    if (ngpio !== undefined) writeFileSync(join(root, name, 'ngpio'), `${ngpio}\n`);
  }
  function exported(line: number, value: string, activeLow = '0'): void {
    mkdirSync(join(root, `gpio${line}`));
    writeFileSync(join(root, `gpio${line}`, 'value'), `${value}\n`);
    writeFileSync(join(root, `gpio${line}`, 'active_low'), `${activeLow}\n`);
  }

  it('adds the base of the SoC gpiochip to the BCM number and opens each line at its sysfs level', async () => {
    chip('gpiochip512', 'pinctrl-bcm2711', 512);
    chip('gpiochip570', 'raspberrypi-exp-gpio', 570);
    exported(529, '1'); // BCM 17, driven high
    exported(534, '1', '1'); // BCM 22, active_low set in sysfs: physically low
    const opened: [number, GpioDirection][] = [];
    const levels = new Map<number, number>();
    const fake: GpioFactory = (line, direction) => {
      opened.push([line, direction]);
      levels.set(line, direction === 'high' ? 1 : 0);
      writeFileSync(join(root, `gpio${line}`, 'active_low'), '0\n'); // as onoff does: activeLow false
      return { read: () => levels.get(line) ?? 0, write: async (v) => void levels.set(line, v), unexport: () => {} };
    };
    const driver = new GpioDriver({
      lines: { 1: { line: 17, active_low: false }, 2: { line: 22, active_low: false } },
      gpio: fake,
      sysfsRoot: root,
      clock: new FakeClock(),
    });
    await driver.open();
    assert.deepEqual(opened, [
      [529, 'high'],
      [534, 'low'],
    ]);
    assert.deepEqual((await driver.readPower()).power, [true, false]);
    assert.equal(readFileSync(join(root, 'export'), 'utf8'), '', 'already exported lines are not exported again');
  });

  it("refuses a line past the SoC chip's last one: it would be a line of the firmware's expander", async () => {
    // A newcomer's line: 60 on a Pi 4 opened sysfs 572, line 2 of raspberrypi-exp-gpio, and wrote to it.
    chip('gpiochip512', 'pinctrl-bcm2711', 512, 58);
    chip('gpiochip570', 'raspberrypi-exp-gpio', 570, 8);
    const opened: number[] = [];
    const fake: GpioFactory = (line) => {
      opened.push(line);
      return { read: () => 0, write: () => undefined, unexport: () => {} };
    };
    const lines = { 1: { line: 17, active_low: false }, 2: { line: 60, active_low: false } };
    const driver = new GpioDriver({ lines, gpio: fake, sysfsRoot: root, clock: new FakeClock() });
    await assert.rejects(driver.open(), (error: TpmError) => {
      assert.equal(error.code, 'CONFIG');
      assert.match(error.message, /^board\.gpio\.2\.line: BCM 60 is not a line of the chip .*\(lines 0-57; /);
      return true;
    });
    assert.deepEqual(opened, [], 'a line was opened: none is, when one is wrong');
    assert.doesNotMatch(readFileSync(join(root, 'export'), 'utf8'), /572/);
  });

  it('says a line given as its sysfs number (529 for BCM 17 on a 6.6 kernel) is one, with the BCM number', async () => {
    // Guides for current Raspberry Pi OS export 529 for BCM 17; board.gpio takes the BCM number.
    chip('gpiochip512', 'pinctrl-bcm2711', 512, 58);
    const fake: GpioFactory = () => ({ read: () => 0, write: () => undefined, unexport: () => {} });
    const lines = { 1: { line: 529, active_low: false } };
    const driver = new GpioDriver({ lines, gpio: fake, sysfsRoot: root, clock: new FakeClock() });
    await assert.rejects(driver.open(), (error: TpmError) => {
      assert.equal(error.code, 'CONFIG');
      assert.match(error.message, /529 is the sysfs number of BCM 17 \(base 512\): write line: 17/);
      return true;
    });
  });

  it('refuses a line whose sysfs active_low stayed 1: every read and write through it would be inverted', async () => {
    // onoff resets active_low on a line exported before (the probe's export) but says nothing when it
    // cannot; then a write of "on" drove the line off, and its read-back said on.
    chip('gpiochip512', 'pinctrl-bcm2711', 512, 58);
    exported(529, '1', '1');
    writeFileSync(join(root, 'gpio529', 'direction'), 'out\n');
    const fake: GpioFactory = () => ({ read: () => 1, write: () => undefined, unexport: () => {} });
    const lines = { 1: { line: 17, active_low: false } };
    const driver = new GpioDriver({ lines, gpio: fake, sysfsRoot: root, clock: new FakeClock() });
    await assert.rejects(driver.open(), (error: TpmError) => {
      assert.equal(error.code, 'BUS');
      assert.match(error.message, /^GPIO BCM 17, node 1 \(sysfs 529\) has active_low 1 in sysfs/);
      return true;
    });
  });

  it('refuses a line that stayed an input after it was opened as an output (onoff says nothing then)', async () => {
    chip('gpiochip512', 'pinctrl-bcm2711', 512, 58);
    exported(529, '0');
    writeFileSync(join(root, 'gpio529', 'direction'), 'in\n');
    let setsDirection = false;
    const fake: GpioFactory = (line) => {
      if (setsDirection) writeFileSync(join(root, `gpio${line}`, 'direction'), 'out\n');
      return { read: () => 0, write: () => undefined, unexport: () => {} };
    };
    const lines = { 1: { line: 17, active_low: false } };
    const make = () => new GpioDriver({ lines, gpio: fake, sysfsRoot: root, clock: new FakeClock() });
    await assert.rejects(make().open(), (error: TpmError) => {
      assert.match(
        error.message,
        /^GPIO BCM 17, node 1 \(sysfs 529\) is still an input after it was opened as an output/,
      );
      return true;
    });
    setsDirection = true;
    await make().open();
  });

  it('picks the RP1 chip on a Raspberry Pi 5', async () => {
    chip('gpiochip512', 'pinctrl-bcm2712', 512);
    chip('gpiochip571', 'pinctrl-rp1', 571);
    assert.equal((await socGpioBase(root)).base, 571);
  });

  it('explains a host without sysfs GPIO', async () => {
    const driver = new GpioDriver({ lines: { 1: { line: 17, active_low: false } }, sysfsRoot: join(root, 'missing') });
    await assert.rejects(
      driver.open(),
      (error: TpmError) => error.code === 'UNSUPPORTED' && /sysfs GPIO/.test(error.message),
    );
  });
});
