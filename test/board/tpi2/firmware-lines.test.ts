import assert from 'node:assert/strict';
import type { BmcSimulator, BmcSimulatorOptions } from '../../../src/board/simulator/bmc-server.js';
import type { Tpi2Driver } from '../../../src/board/tpi2/driver.js';
import type { FakeClock } from '../../../src/util/fake-clock.js';
import type { TpmError } from '../../../src/util/errors.js';
import { BmcRig } from '../../support/bmc-rig.js';

/**
 * The driver against both BMC firmware lines and both boards (docs/turing-pi-2.md "Firmware
 * lines"): 2.0.5 (bmcd 2.0.5, no node_info, no cooling) and 2.1.0 (bmcd 2.3.4), on a 2.4 and a
 * 2.5 board; what each has is found out at open and never asked again when it is missing.
 */
describe('Tpi2Driver: firmware 2.0.5 and 2.1.0, boards 2.4 and 2.5', () => {
  const PASSWORD = 'turing-fw';
  let rig: BmcRig;
  let clock: FakeClock;
  let bmc: BmcSimulator;

  /** A BMC (nodes 1 and 4 on unless `options` say otherwise) and an open driver against it. */
  async function open(options: Partial<BmcSimulatorOptions>): Promise<Tpi2Driver> {
    bmc = await rig.startBmc({ power: [true, false, false, true], ...options });
    const driver = rig.driver();
    await driver.open();
    return driver;
  }

  beforeEach(() => {
    rig = new BmcRig(PASSWORD);
    clock = rig.clock;
  });

  afterEach(() => rig.close());

  it('firmware 2.0.5: tells it from about, never asks node_info or cooling, and power works', async () => {
    const driver = await open({ release: '2.0.5', board: '2.4' });
    const { firmware, bmcd, revision, reportsPowerOnTime, hasFans, usbModes } = driver.info;
    assert.deepEqual(
      { firmware, bmcd, revision, reportsPowerOnTime, hasFans, usbModes },
      {
        firmware: '2.0.5',
        bmcd: '2.0.5',
        revision: null,
        reportsPowerOnTime: false,
        hasFans: false,
        usbModes: ['host', 'device'],
      },
    );
    assert.deepEqual((await driver.readNodeTimes()).powerOnSeconds, [null, null, null, null]);
    assert.equal(await driver.setPower(2, true), true);
    assert.deepEqual((await driver.readPower()).power, [true, true, false, true]);
    assert.equal(bmc.firmware.callsOf('node_info'), 0, 'node_info is not asked of bmcd 2.0.5');
    assert.equal(bmc.firmware.callsOf('cooling'), 0, 'cooling is not asked of bmcd 2.0.5');
  });

  it(
    'firmware 2.1.0 on a 2.5 board: bmcd 2.3.4, firmware line 2.1, revision, fan, node_info; no USB switch on ' +
      'the hub',
    async () => {
      const driver = await open({ release: '2.1.0', board: '2.5' });
      const { firmware, bmcd, revision, reportsPowerOnTime, hasFans, usbModes } = driver.info;
      assert.deepEqual(
        { firmware, bmcd, revision, reportsPowerOnTime, hasFans, usbModes },
        {
          firmware: '2.1',
          bmcd: '2.3.4',
          revision: '2.5.1',
          reportsPowerOnTime: true,
          hasFans: true,
          usbModes: [],
        },
      );
      await assert.rejects(driver.setUsb(2, 'device'), (error: TpmError) => error.code === 'UNSUPPORTED');
      assert.equal(bmc.firmware.callsOf('usb') <= 1, true, 'only the get at open');
    },
  );

  it('firmware 2.1.0 on a 2.4 board: node_info, no fan (cooling answers [])', async () => {
    const driver = await open({ release: '2.1.0', board: '2.4' });
    assert.equal(driver.info.revision, '2.4');
    assert.equal(driver.info.hasFans, false);
    assert.equal(driver.info.reportsPowerOnTime, true);
    assert.deepEqual(driver.info.usbModes, ['host', 'device']);
  });

  it('a call that answers 400 "Invalid `type` parameter" is missing: asked once, never again, no error', async () => {
    bmc = await rig.startBmc({ release: '2.1.0', board: '2.5' });
    bmc.firmware.withheld.add('node_info');
    const driver = rig.driver();
    await driver.open();
    assert.equal(driver.info.reportsPowerOnTime, false);
    for (let i = 0; i < 3; i++)
      assert.deepEqual((await driver.readNodeTimes()).powerOnSeconds, [null, null, null, null]);
    assert.equal(bmc.firmware.callsOf('node_info'), 1, 'asked once at open');
  });

  it(
    'power_on_time that makes no sense (u64 wrap after a clock step back, decades after an NTP jump) is ' + 'unknown',
    async () => {
      const driver = await open({ release: '2.1.0', board: '2.5' });
      await clock.advance(90_000);
      assert.deepEqual((await driver.readNodeTimes()).powerOnSeconds, [90, null, null, 90]);
      // The BMC's clock steps back an hour: bmcd's unsigned difference wraps to about 1.8e19.
      bmc.state.clockOffsetMs = -3_600_000;
      assert.deepEqual((await driver.readNodeTimes()).powerOnSeconds, [null, null, null, null]);
      // Switched on at a 1970 clock, then NTP set the time: decades.
      bmc.state.clockOffsetMs = 0;
      bmc.state.poweredSince[0] = 5_000;
      assert.deepEqual((await driver.readNodeTimes()).powerOnSeconds, [null, null, null, 90]);
      assert.deepEqual((await driver.readPower()).power, [true, false, false, true], 'the board still answers');
    },
  );

  it('takes the names set on the BMC from node_info, null where unset', async () => {
    bmc = await rig.startBmc();
    bmc.firmware.names[1] = 'k3s-server';
    const driver = rig.driver();
    await driver.open();
    assert.deepEqual(driver.info.nodeNames, [null, 'k3s-server', null, null]);
    bmc.firmware.names[3] = 'storage';
    await driver.readNodeTimes();
    assert.deepEqual(driver.info.nodeNames, [null, 'k3s-server', null, 'storage']);
  });

  for (const release of ['2.0.5', '2.1.0'] as const) {
    it(
      `firmware ${release} on a 2.4 board: routes the USB port to a node as host or device, verified, never ` + `flash`,
      async () => {
        const driver = await open({ release, board: '2.4' });
        assert.deepEqual(await driver.readUsb(), { node: 1, mode: 'device', route: 'port' });
        assert.deepEqual(await driver.setUsb(3, 'host'), { node: 3, mode: 'host', route: 'port' });
        assert.deepEqual(bmc.firmware.usb, { node: 2, mode: 'Host', route: 'Port' }, 'mode 0, node index 2');
        assert.deepEqual(await driver.setUsb(2, 'device'), { node: 2, mode: 'device', route: 'port' });
        await assert.rejects(driver.setUsb(2, 'flash' as 'host'), (error: TpmError) => error.code === 'BAD_COMMAND');
        await assert.rejects(driver.setUsb(5, 'host'), (error: TpmError) => error.code === 'BAD_COMMAND');
        assert.deepEqual(bmc.firmware.usb, { node: 1, mode: 'Device', route: 'Port' }, 'nothing sent for bad input');
        assert.equal(bmc.stats.crashes, 0);
      },
    );
  }
});
