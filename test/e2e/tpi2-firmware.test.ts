import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SimulatedBoardRevision, SimulatedFirmware } from '../../src/board/simulator/bmc-firmware.js';
import { startBmcSimulator, type BmcSimulator } from '../../src/board/simulator/bmc-server.js';
import { startBridge, tempDir, testBridgeConfig, writeConfig, type CliProcess } from '../support/cli.js';
import { requireMosquitto, startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { Recorder } from '../support/recorder.js';
import { delay } from '../support/wait.js';

/**
 * The bridge CLI (a real process) with `board.type: tpi2` against the simulated BMC in each
 * firmware/board profile, through a real mosquitto, seen as Home Assistant sees it: what the
 * discovery offers, what its command topics do, what its state topics then say.
 */

interface Component {
  platform: string;
  unique_id: string;
  state_topic?: string;
  command_topic?: string;
  percentage_state_topic?: string;
  percentage_command_topic?: string;
  options?: string[];
  [key: string]: unknown;
}

interface Discovery {
  device: { name: string; sw_version?: string; hw_version?: string };
  components: Record<string, Component>;
}

const PROFILES: { release: SimulatedFirmware; board: SimulatedBoardRevision }[] = [
  { release: '2.0.5', board: '2.4' },
  { release: '2.1.0', board: '2.4' },
  { release: '2.1.0', board: '2.5' },
  { release: '2.0.5', board: '2.5' },
];

describe('e2e: the bridge process against BMC firmware 2.0.5 and 2.1.0 on 2.4 and 2.5 boards', function () {
  this.timeout(40_000);
  let broker: Mosquitto;

  before(async function () {
    broker = await startMosquitto({ binary: requireMosquitto(this) });
  });

  after(async () => {
    await broker?.stop();
  });

  for (const { release, board } of PROFILES) {
    describe(`firmware ${release}, board ${board}`, () => {
      const base = `fw${release.replace(/\./g, '')}b${board.replace('.', '')}`;
      const id = `tp${base}`;
      const password = `pw-${base}`;
      const topic = (suffix: string): string => `${base}/${suffix}`;
      let bmc: BmcSimulator;
      let recorder: Recorder;
      let bridge: CliProcess | undefined;
      let dir: string;
      let boardDevice: Discovery;
      let nodeDevices: Discovery[];

      before(async () => {
        bmc = await startBmcSimulator({ password, release, board, power: [true, false, true, false] });
        // Names a user gave nodes 2 and 3 on the BMC; node 3 also has one in our config.
        bmc.firmware.names[1] = 'k3s-server';
        bmc.firmware.names[2] = 'bmc-name-3';
        recorder = await Recorder.connect(broker.url, base, { filters: [`${base}/#`, 'homeassistant/#'] });
        dir = tempDir('tpm-e2e-fw-');
        const caFile = path.join(dir, 'bmc-ca.pem');
        writeFileSync(caFile, bmc.ca);
        const config = testBridgeConfig({ dir, url: broker.url, base, id });
        config.board = {
          type: 'tpi2',
          id,
          name: 'Lab',
          poll_interval: '1s',
          bmc: { url: bmc.url, username: 'root', password, ca: caFile },
        };
        config.nodes = { 3: { name: 'Worker' } };
        bridge = await startBridge(writeConfig(dir, config, 'bridge.yaml'));
        const discovery = async (object: string): Promise<Discovery> => {
          const message = await recorder.waitFor(
            `homeassistant/device/${object}/config`,
            (m) => m.payload.length > 0,
            5000,
          );
          return JSON.parse(message.payload) as Discovery;
        };
        boardDevice = await discovery(id);
        nodeDevices = [];
        for (let n = 1; n <= 4; n++) nodeDevices.push(await discovery(`${id}_node${n}`));
      });

      after(async () => {
        if (bridge) {
          const exit = await bridge.stop();
          assert.equal(exit.code, 0, bridge.describe());
        }
        await recorder?.close();
        await bmc?.close();
        rmSync(dir, { recursive: true, force: true });
      });

      it(
        'stays online poll after poll, switches node power, and shows the firmware in bridge/info and ' + 'sw_version',
        async () => {
          await recorder.waitForPayload(topic('board/state'), 'online', 5000);
          const from = recorder.mark();
          await recorder.command(2, 'ON');
          await recorder.waitForPayload(topic('node/2/power'), 'ON', 5000, from);
          assert.equal(bmc.state.stored[1], true);
          await delay(3500); // three polls and more: three failures in a row would say offline
          assert.deepEqual(
            recorder.since(0, topic('board/state')).map((m) => m.payload),
            ['online'],
            bridge!.describe(),
          );
          const info = JSON.parse(recorder.last(topic('bridge/info'))!.payload) as {
            board: { firmware: string; bmcd: string };
          };
          const expected =
            release === '2.0.5' ? { firmware: '2.0.5', bmcd: '2.0.5' } : { firmware: '2.1', bmcd: '2.3.4' };
          assert.deepEqual({ firmware: info.board.firmware, bmcd: info.board.bmcd }, expected);
          assert.equal(boardDevice.device.sw_version, `${expected.firmware} (bmcd ${expected.bmcd})`);
          assert.equal(
            boardDevice.device.hw_version,
            release === '2.0.5' ? undefined : board === '2.5' ? '2.5.1' : '2.4',
          );
          if (release === '2.0.5') {
            assert.equal(bmc.firmware.callsOf('node_info'), 0, 'node_info never asked of bmcd 2.0.5');
            assert.equal(bmc.firmware.callsOf('cooling'), 0, 'cooling never asked of bmcd 2.0.5');
          } else {
            assert.ok(bmc.firmware.callsOf('node_info') >= 4, 'node_info read at each poll');
          }
          assert.ok(!bmc.firmware.calls.has('reboot:set') && !bmc.firmware.calls.has('reload:set'));
          assert.equal(bmc.stats.crashes, 0);
        },
      );

      it('offers no BMC reboot or bmcd restart; Booted sensors and BMC node names only with node_info', () => {
        for (const device of [boardDevice, ...nodeDevices]) {
          for (const [key, component] of Object.entries(device.components)) {
            assert.doesNotMatch(
              `${key} ${JSON.stringify(component)}`,
              /reboot_bmc|bmc_reboot|reload|restart_bmc/i,
              key,
            );
          }
        }
        const hasNodeInfo = release === '2.1.0';
        assert.equal('booted' in nodeDevices[0]!.components, hasNodeInfo, 'Booted needs node_info');
        assert.equal(
          nodeDevices[1]!.device.name,
          hasNodeInfo ? 'Lab k3s-server' : 'Lab Node 2',
          'the BMC name where none is configured',
        );
        assert.equal(nodeDevices[2]!.device.name, 'Lab Worker', 'a configured name wins');
        assert.equal(nodeDevices[3]!.device.name, 'Lab Node 4');
      });

      const hasFan = release === '2.1.0' && board === '2.5';
      it(
        hasFan
          ? 'the fan from Home Assistant: a percentage set changes the cooling level, the state comes back'
          : 'has no fan entity',
        async () => {
          const fan = boardDevice.components.fan;
          if (!hasFan) {
            assert.equal(fan, undefined);
            assert.equal(recorder.last(topic('board/fan')), undefined);
            return;
          }
          assert.ok(fan, JSON.stringify(boardDevice.components));
          assert.equal(fan.platform, 'fan');
          const state = await recorder.waitFor(fan.percentage_state_topic!);
          assert.deepEqual(JSON.parse(state.payload), { percentage: 50, level: 3, max_level: 6 });
          // HA publishes the percentage as a number on percentage_command_topic.
          let from = recorder.mark();
          await recorder.publish(fan.percentage_command_topic!, '84');
          const after = await recorder.waitFor(fan.percentage_state_topic!, () => true, 5000, from);
          assert.equal(bmc.firmware.fanLevel, 5, '84 % of levels 0-6 is level 5');
          assert.deepEqual(JSON.parse(after.payload), { percentage: 83, level: 5, max_level: 6 });
          // Each command's own event, so that a later mark is past it (the event follows the state).
          const done = (level: number, since: number) =>
            recorder.waitForEvent(
              (e) => e.type === 'fan' && e.message?.startsWith(`fan set to level ${level} `) === true,
              5000,
              since,
            );
          await done(5, from);
          from = recorder.mark();
          await recorder.publish(fan.command_topic!, 'OFF');
          await done(0, from);
          assert.equal(bmc.firmware.fanLevel, 0, 'the fan stopped');
          from = recorder.mark();
          await recorder.publish(fan.command_topic!, 'ON');
          await done(5, from);
          assert.equal(bmc.firmware.fanLevel, 5, 'the fan came back at its last level');
          from = recorder.mark();
          await recorder.publish(fan.command_topic!, 'fast');
          const refused = await recorder.waitForEvent((e) => e.type === 'fan', 5000, from);
          assert.equal(refused.result, 'error', JSON.stringify(recorder.events().filter((e) => e.type === 'fan')));
          assert.match(refused.error ?? '', /ON, OFF or a percentage/);
          assert.equal(bmc.firmware.fanLevel, 5, 'bad input changes nothing');
          // Someone sets the fan on the BMC: the next poll publishes it, once.
          bmc.firmware.fanLevel = 6;
          await recorder.waitFor(topic('board/fan'), (m) => JSON.parse(m.payload).level === 6, 5000, from);
          await delay(2200);
          assert.equal(recorder.since(from, topic('board/fan')).length, 1, 'published on change only');
        },
      );

      const hasUsb = !(release === '2.1.0' && board === '2.5');
      it(
        hasUsb
          ? 'the USB select: routes the port to a node as host or device, never flash'
          : 'has no USB select (2.5 hub)',
        async () => {
          const usb = boardDevice.components.usb;
          if (!hasUsb) {
            assert.equal(usb, undefined);
            return;
          }
          assert.ok(usb);
          assert.equal(usb.platform, 'select');
          assert.equal(usb.entity_category, 'config');
          assert.equal(usb.options!.length, 8);
          assert.ok(usb.options!.includes('Node 3 (host)') && !usb.options!.some((o) => /flash/i.test(o)));
          const state = await recorder.waitFor(usb.state_topic!);
          assert.deepEqual(JSON.parse(state.payload), { node: 1, mode: 'device', route: 'port' });
          let from = recorder.mark();
          await recorder.publish(usb.command_topic!, 'Node 3 (host)');
          const changed = await recorder.waitFor(usb.state_topic!, () => true, 5000, from);
          assert.deepEqual(JSON.parse(changed.payload), { node: 3, mode: 'host', route: 'port' });
          assert.deepEqual(bmc.firmware.usb, { node: 2, mode: 'Host', route: 'Port' });
          // The set's own event follows its state: waited for, so the marks below are past it.
          await recorder.waitForEvent((e) => e.type === 'usb' && e.result === 'ok', 5000, from);
          for (const bad of ['Node 2 (flash)', 'Node 5 (host)', '{"node":2,"mode":3}', ' ']) {
            from = recorder.mark();
            await recorder.publish(usb.command_topic!, bad);
            const refused = await recorder.waitForEvent((e) => e.type === 'usb', 5000, from);
            assert.equal(refused.result, 'error', bad);
          }
          assert.deepEqual(bmc.firmware.usb, { node: 2, mode: 'Host', route: 'Port' }, 'bad input changes nothing');
          assert.equal(bmc.stats.crashes, 0);
        },
      );

      if (release === '2.1.0') {
        it(
          'a BMC clock stepped back makes power_on_time wrap: Booted goes unknown, the board stays ' + 'online',
          async () => {
            await recorder.waitFor(topic('node/1/booted'), (m) => m.payload !== 'unknown', 5000);
            const from = recorder.mark();
            bmc.state.clockOffsetMs = -7_200_000;
            await recorder.waitForPayload(topic('node/1/booted'), 'unknown', 5000, from);
            await delay(3500);
            assert.deepEqual(recorder.since(from, topic('board/state')), [], 'board/state did not change');
            assert.equal(recorder.last(topic('board/state'))!.payload, 'online');
            bmc.state.clockOffsetMs = 0;
            await recorder.waitFor(topic('node/1/booted'), (m) => m.payload !== 'unknown', 5000, from);
          },
        );
      }
    });
  }

  for (const simulate of [{ model: 'tpi2', firmware: '2.0.5', board: '2.4' }, { model: 'tpi2' }]) {
    it(
      `board.type simulator with simulate ${JSON.stringify(simulate)}: the simulated BMC of that ` + `profile`,
      async () => {
        const dir = tempDir('tpm-e2e-fwsim-');
        const base = simulate.firmware ? 'fwsim205' : 'fwsimdefault';
        const recorder = await Recorder.connect(broker.url, base, {
          filters: [`${base}/#`, `homeassistant/device/${base}/config`],
        });
        let bridge: CliProcess | undefined;
        try {
          const config = testBridgeConfig({ dir, url: broker.url, base, id: base, overrides: { board: { simulate } } });
          bridge = await startBridge(writeConfig(dir, config, 'bridge.yaml'));
          type Info = { board: { firmware: string; bmcd: string } };
          const info = JSON.parse((await recorder.waitFor(`${base}/bridge/info`)).payload) as Info;
          const discovery = await recorder.waitFor(`homeassistant/device/${base}/config`, (m) => m.payload.length > 0);
          const device = JSON.parse(discovery.payload) as Discovery;
          await recorder.waitForPayload(`${base}/board/state`, 'online');
          if (simulate.firmware === '2.0.5') {
            assert.deepEqual([info.board.firmware, info.board.bmcd], ['2.0.5', '2.0.5']);
            assert.equal(device.components.fan, undefined);
            assert.equal(device.components.usb?.platform, 'select');
          } else {
            // The defaults: firmware 2.1.0 on a 2.5 board.
            assert.deepEqual([info.board.firmware, info.board.bmcd], ['2.1', '2.3.4']);
            assert.equal(device.components.fan?.platform, 'fan');
            assert.equal(device.components.usb, undefined);
            await recorder.waitFor(`${base}/board/fan`);
          }
        } finally {
          if (bridge) assert.equal((await bridge.stop()).code, 0, bridge.describe());
          await recorder.close();
          rmSync(dir, { recursive: true, force: true });
        }
      },
    );
  }
});
