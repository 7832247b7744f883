import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { BmcSimulator, BmcSimulatorOptions } from '../../../src/board/simulator/bmc-server.js';
import type { Tpi2Driver, Tpi2DriverOptions } from '../../../src/board/tpi2/driver.js';
import type { FakeClock } from '../../../src/util/fake-clock.js';
import { TpmError } from '../../../src/util/errors.js';
import { createLogger } from '../../../src/util/logger.js';
import { BmcRig } from '../../support/bmc-rig.js';

const PASSWORD = 'S3cret-turing!';

describe('Tpi2Driver against the simulated BMC over HTTPS', () => {
  let rig: BmcRig;
  let clock: FakeClock;
  let bmc: BmcSimulator;

  async function startBmc(options: Partial<BmcSimulatorOptions> = {}): Promise<BmcSimulator> {
    bmc = await rig.startBmc(options);
    return bmc;
  }

  const driverFor = (options: Partial<Tpi2DriverOptions> = {}): Tpi2Driver => rig.driver(options);

  beforeEach(() => {
    rig = new BmcRig(PASSWORD);
    clock = rig.clock;
  });

  afterEach(() => rig.close());

  it('logs in once, then reads power with the bearer token, string values as booleans', async () => {
    await startBmc({ power: [true, false, false, true] });
    const driver = driverFor();
    await driver.open();
    assert.deepEqual((await driver.readPower()).power, [true, false, false, true]);
    await driver.readPower();
    assert.equal(bmc.stats.logins, 1);
    assert.equal(bmc.stats.staleTokens, 0);
    assert.deepEqual(
      {
        model: driver.info.model,
        nodes: driver.info.nodes,
        rtc: driver.info.hasRtc,
        presence: driver.info.canTellPresence,
      },
      { model: 'Turing Pi 2', nodes: 4, rtc: false, presence: false },
    );
  });

  it('logs in afresh (without a failed request) when the token is about to expire after 3 h idle', async () => {
    await startBmc();
    const driver = driverFor();
    await driver.open();
    await clock.advance(10_800_000);
    await driver.readPower();
    assert.equal(bmc.stats.successfulLogins, 2);
    assert.equal(bmc.stats.staleTokens, 0);
  });

  it('answers a 401 for an expired token with exactly one new login and one retry', async () => {
    await startBmc({ power: [false, true, false, false] });
    // The driver does not know the lifetime here, so the BMC's expiry surprises it.
    const driver = driverFor({ tokenLifetimeMs: 10 * 10_800_000 });
    await driver.open();
    await clock.advance(10_800_001);
    assert.deepEqual((await driver.readPower()).power, [false, true, false, false]);
    assert.equal(bmc.stats.expiredTokens, 1);
    assert.equal(bmc.stats.staleTokens, 0);
    assert.equal(bmc.stats.successfulLogins, 2);
    assert.equal(bmc.stats.maxPenalty, 0, 'bmcd does not count an expired token');
  });

  it('costs exactly one login after a BMC restart made every token stale', async () => {
    await startBmc();
    const driver = driverFor();
    await driver.open();
    const loginsBefore = bmc.stats.logins;
    bmc.restart();
    await Promise.all([driver.readPower(), driver.readPower(), driver.readPower()]);
    await driver.readPower();
    assert.equal(bmc.stats.logins - loginsBefore, 1);
    assert.equal(bmc.stats.staleTokens, 1, 'only the first request meets the stale token');
    assert.equal(bmc.stats.bans, 0);
  });

  it('with a wrong password polls for a simulated day: 3 logins, then paused, never near a ban', async () => {
    await startBmc();
    const driver = driverFor({ password: 'wrong-password' });
    const errors: TpmError[] = [];
    for (let second = 0; second < 86_400; second += 60) {
      await driver.readPower().catch((error: TpmError) => errors.push(error));
      await clock.advance(60_000);
    }
    assert.equal(errors.length, 1440);
    assert.ok(errors.every((error) => error.code === 'BMC_AUTH'));
    assert.equal(bmc.stats.logins, 3, 'three attempts, then no more');
    assert.equal(bmc.stats.maxPenalty, 3);
    assert.equal(bmc.stats.bans, 0);
    assert.match(errors.at(-1)!.message, /automatic logins paused after 3 failed logins/);
    assert.deepEqual(
      { ...driver.login.status(), reason: undefined },
      { login: 'paused', failures: 3, reason: undefined },
    );
  });

  it('refuses an http:// URL (firmware 1.x) before sending anything: the password never goes in clear', async () => {
    await startBmc({ firmware: 1, power: [true, false, false, false] });
    assert.throws(
      () => driverFor(),
      (error: TpmError) => {
        // The address alone cannot tell firmware 1.x: a config error that names both ways out.
        assert.equal(error.code, 'CONFIG');
        assert.match(error.message, /firmware 1\.x/);
        assert.match(error.message, /upgrade .*2\.x/);
        return true;
      },
    );
    assert.equal(bmc.stats.requests, 0);
  });

  it('refuses the http:// address of a firmware 2.x BMC (which redirects): asks for https://, no upgrade', async () => {
    // bmcd 2.x answers plain HTTP on port 80 with 308 to HTTPS: http:// says nothing about the firmware.
    await startBmc({ redirectHttp: true });
    assert.throws(
      () => driverFor({ url: bmc.httpUrl! }),
      (error: TpmError) => {
        assert.match(error.message, /must be https:\/\//);
        assert.doesNotMatch(error.message, /the BMC runs firmware 1\.x/);
        return true;
      },
    );
    assert.equal(bmc.stats.requests, 0);
  });

  it('resets node 3 with the zero-based index 2, and the node goes off for 1 s', async () => {
    await startBmc({ power: [true, true, true, true] });
    const driver = driverFor();
    await driver.open();
    await driver.reset(3);
    assert.equal(bmc.stats.resets, 1);
    assert.deepEqual(bmc.state.physical, [true, true, false, true]);
    await clock.advance(1_000);
    assert.deepEqual(bmc.state.physical, [true, true, true, true]);
  });

  it('refuses to reset a node that is off, without sending the reset', async () => {
    await startBmc({ power: [true, false, true, true] });
    const driver = driverFor();
    await driver.open();
    await assert.rejects(
      driver.reset(2),
      (error: TpmError) => error.code === 'NODE_OFF' && /node 2 is off/.test(error.message),
    );
    assert.equal(bmc.stats.resets, 0);
    assert.equal(bmc.state.physical[1], false);
  });

  it('reports "Unknown" as null rather than guessing', async () => {
    await startBmc({ power: [true, true, false, false] });
    bmc.state.unknown[1] = true;
    const driver = driverFor();
    await driver.open();
    assert.deepEqual((await driver.readPower()).power, [true, null, false, false]);
  });

  it('switches node 2 on with node2=1, verifies by reading back, and writes nothing when already so', async () => {
    await startBmc({ power: [true, false, false, false] });
    const driver = driverFor();
    await driver.open();
    assert.equal(await driver.setPower(1, true), true);
    assert.equal(bmc.stats.powerSets, 0);
    assert.equal(await driver.setPower(2, true), true);
    assert.equal(bmc.stats.powerSets, 1);
    assert.deepEqual(bmc.state.stored, [true, true, false, false]);
    assert.equal(await driver.setPower(1, false), false);
    assert.deepEqual(bmc.state.stored, [false, true, false, false]);
  });

  it('fails the verification when the read-back disagrees', async () => {
    await startBmc({ power: [false, false, false, false] });
    bmc.state.unknown[3] = true;
    const driver = driverFor();
    await driver.open();
    await assert.rejects(
      driver.setPower(4, true),
      (error: TpmError) => error.code === 'VERIFY' && /Unknown/.test(error.message),
    );
  });

  it('reads power-on times from node_info', async () => {
    await startBmc();
    const driver = driverFor();
    await driver.open();
    await driver.setPower(4, true);
    await clock.advance(90_000);
    assert.deepEqual((await driver.readNodeTimes()).powerOnSeconds, [null, null, null, 90]);
  });

  it('reads and sets the fan of a 2.5 board as a cooling level, and reports no fan on a 2.4 board', async () => {
    await startBmc({ board: '2.5' });
    const withFan = driverFor();
    await withFan.open();
    assert.equal(withFan.info.hasFans, true);
    assert.deepEqual(await withFan.readFan(), { device: 'system fan', speed: 3, maxSpeed: 6 });
    assert.deepEqual(await withFan.setFanLevel(5), { device: 'system fan', speed: 5, maxSpeed: 6 });
    assert.equal(bmc.firmware.fanLevel, 5);
    await assert.rejects(
      withFan.setFanLevel(7),
      (error: TpmError) => error.code === 'BAD_COMMAND' && /0-6/.test(error.message),
    );
    assert.equal(bmc.firmware.fanLevel, 5, 'a level out of range is not sent');
    await bmc.close();

    await startBmc({ board: '2.4' });
    const without = driverFor();
    await without.open();
    assert.equal(without.info.hasFans, false);
    await assert.rejects(without.readFan(), (error: TpmError) => error.code === 'UNSUPPORTED');
  });

  it('fails fast with a clear timeout when the BMC stops answering', async () => {
    await startBmc();
    const driver = driverFor({ requestTimeoutMs: 10_000 });
    await driver.open();
    bmc.stopAnswering(true);
    const reading = driver.readPower();
    reading.catch(() => {});
    await clock.advance(10_000);
    await assert.rejects(reading, (error: TpmError) => {
      assert.equal(error.code, 'TIMEOUT');
      assert.match(error.message, /did not answer power get within 10 s/);
      return true;
    });
  });

  it('never puts the password in an error message or a log line', async () => {
    await startBmc({ password: 'the-right-one' });
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ level: 'debug', destination });
    const messages: string[] = [];
    const driver = driverFor({ password: PASSWORD, logger });
    await driver.open().catch((error: Error) => messages.push(error.message));
    await driver.readPower().catch((error: Error) => messages.push(error.message));
    bmc.stopAnswering(true);
    await clock.advance(3_600_000);
    const reading = driver.readPower().catch((error: Error) => messages.push(error.message));
    await clock.advance(10_000);
    await reading;
    assert.equal(messages.length, 3);
    assert.match(messages[0]!, /refused the login/);
    for (const text of [...messages, ...lines]) assert.ok(!text.includes(PASSWORD), `leaked in: ${text}`);
  });
});
