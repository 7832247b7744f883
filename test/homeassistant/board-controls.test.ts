import assert from 'node:assert/strict';
import { levelToPercentage, parseUsbCommand, percentageToLevel } from '../../src/app/board-controls.js';
import type { BoardInfo } from '../../src/board/types.js';
import { resolveNodes } from '../../src/config/nodes.js';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { buildDiscovery, type DiscoveryMessage } from '../../src/homeassistant/discovery.js';
import { InputError } from '../../src/app/input.js';
import { TPI2 } from './boards.js';

/**
 * The board device's own controls (src/homeassistant/board-controls.ts) and the bridge's fan and
 * USB payloads (src/app/board-controls.ts): docs/turing-pi-2.md "The fan", "Where the board's USB goes".
 */

const TPI25: BoardInfo = {
  ...TPI2,
  hasFans: true,
  firmware: '2.1',
  bmcd: '2.3.4',
  revision: '2.5.1',
  nodeNames: [null, 'k3s-server', 'bmc-three', null],
  usbModes: [],
};
const TPI24_205: BoardInfo = {
  ...TPI2,
  reportsPowerOnTime: false,
  firmware: '2.0.5',
  bmcd: '2.0.5',
  revision: null,
  usbModes: ['host', 'device'],
};

function discovery(board: BoardInfo, raw: ConfigInput = {}): DiscoveryMessage[] {
  const config = configSchema.parse({
    ...raw,
    board: { type: 'tpi2', id: 'tp2', name: 'Lab', bmc: { url: 'https://bmc.lan', password: 'x', insecure: true } },
  });
  return buildDiscovery({ config, nodes: resolveNodes(config), board, version: '9.9.9', schedules: [] });
}

function device(messages: DiscoveryMessage[], object: string): DiscoveryMessage['payload'] {
  const message = messages.find((m) => m.topic === `homeassistant/device/${object}/config`);
  assert.ok(message, object);
  return message.payload;
}

describe('Home Assistant: the Turing Pi 2 board controls', () => {
  it(
    'a 2.5 board with firmware 2.1: a fan with percentage on board/fan, no USB select, the firmware as ' + 'sw_version',
    () => {
      const board = device(discovery(TPI25), 'tp2');
      assert.equal(board.device.sw_version, '2.1 (bmcd 2.3.4)');
      assert.equal(board.device.hw_version, '2.5.1');
      assert.equal(board.origin.sw_version, '9.9.9', "the package version stays the origin's");
      const fan = board.components.fan;
      assert.ok(fan);
      assert.deepEqual(
        {
          platform: fan.platform,
          state_topic: fan.state_topic,
          command_topic: fan.command_topic,
          percentage_state_topic: fan.percentage_state_topic,
          percentage_command_topic: fan.percentage_command_topic,
          percentage_value_template: fan.percentage_value_template,
          retain: fan.retain,
        },
        {
          platform: 'fan',
          state_topic: 'turingpi/board/fan',
          command_topic: 'turingpi/board/fan/set',
          percentage_state_topic: 'turingpi/board/fan',
          percentage_command_topic: 'turingpi/board/fan/set',
          percentage_value_template: '{{ value_json.percentage }}',
          retain: false,
        },
      );
      assert.deepEqual(fan.availability, [
        { topic: 'turingpi/bridge/state', payload_available: 'online', payload_not_available: 'offline' },
        { topic: 'turingpi/board/state', payload_available: 'online', payload_not_available: 'offline' },
      ]);
      assert.equal(board.components.usb, undefined);
    },
  );

  it('a 2.4 board: a config select of node and mode, never flash; no fan', () => {
    const board = device(discovery(TPI24_205), 'tp2');
    assert.equal(board.components.fan, undefined);
    const usb = board.components.usb;
    assert.ok(usb);
    assert.equal(usb.platform, 'select');
    assert.equal(usb.entity_category, 'config');
    assert.equal(usb.command_topic, 'turingpi/board/usb/set');
    assert.deepEqual(usb.options, [
      'Node 1 (host)',
      'Node 1 (device)',
      'Node 2 (host)',
      'Node 2 (device)',
      'Node 3 (host)',
      'Node 3 (device)',
      'Node 4 (host)',
      'Node 4 (device)',
    ]);
    assert.equal(board.device.sw_version, '2.0.5 (bmcd 2.0.5)');
    assert.equal(board.device.hw_version, undefined);
  });

  it('no BMC reboot or bmcd restart button anywhere', () => {
    for (const message of [...discovery(TPI25), ...discovery(TPI24_205)]) {
      for (const [key, component] of Object.entries(message.payload.components)) {
        const topic = String(component.command_topic ?? '');
        // The BMC login's retry button is the one BMC button there is: it only logs in.
        assert.ok(
          !/bmc\w*(reboot|restart|reload)|reload|bmcd/i.test(
            `${key} ${topic} ${String(component.payload_press ?? '')}`,
          ),
          key,
        );
      }
    }
  });

  it('names node devices after the BMC where the config names none; a configured name wins', () => {
    const messages = discovery(TPI25, { nodes: { 3: { name: 'Worker' } } });
    assert.equal(device(messages, 'tp2_node1').device.name, 'Lab Node 1');
    assert.equal(device(messages, 'tp2_node2').device.name, 'Lab k3s-server');
    assert.equal(device(messages, 'tp2_node3').device.name, 'Lab Worker');
    assert.equal(
      device(messages, 'tp2_node2').components.power?.unique_id,
      'tp2_node2_power',
      'unique_ids do not follow names',
    );
  });

  it('maps cooling levels to percentages and back, each level to itself', () => {
    for (const max of [1, 4, 6, 10]) {
      for (let level = 0; level <= max; level++)
        assert.equal(percentageToLevel(levelToPercentage(level, max), max), level, `${level}/${max}`);
    }
    assert.equal(levelToPercentage(3, 6), 50);
    assert.equal(percentageToLevel(1, 6), 1, 'any percentage above 0 runs the fan');
    assert.equal(percentageToLevel(0, 6), 0);
    assert.equal(percentageToLevel(100, 6), 6);
  });

  it('reads a USB command as the select option or JSON, host or device only', () => {
    const modes = ['host', 'device'] as const;
    assert.deepEqual(parseUsbCommand('Node 3 (host)', modes, 4), { node: 3, mode: 'host' });
    assert.deepEqual(parseUsbCommand(' node 2 (Device) ', modes, 4), { node: 2, mode: 'device' });
    assert.deepEqual(parseUsbCommand('{"node": 4, "mode": "device"}', modes, 4), { node: 4, mode: 'device' });
    for (const bad of [
      'Node 3 (flash)',
      'Node 0 (host)',
      'Node 5 (host)',
      '{"node":1,"mode":3}',
      '{"node":"1","mode":"host"}',
      'host',
      '{',
    ]) {
      assert.throws(() => parseUsbCommand(bad, modes, 4), InputError, bad);
    }
    assert.throws(() => parseUsbCommand('Node 1 (host)', ['device'], 4), InputError, 'a mode the board does not offer');
  });
});
