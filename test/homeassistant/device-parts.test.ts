import assert from 'node:assert/strict';
import type { BoardInfo } from '../../src/board/types.js';
import { resolveNodes } from '../../src/config/nodes.js';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { buildDiscovery, type DiscoveryMessage } from '../../src/homeassistant/discovery.js';
import { TPI1, TPI2 } from './boards.js';

/**
 * What every device message holds whatever the board (src/homeassistant/device-parts.ts), checked
 * on boards that between them publish every platform: binary_sensor, sensor, switch, button, fan
 * and select.
 */

function discovery(raw: ConfigInput, board: BoardInfo): DiscoveryMessage[] {
  const config = configSchema.parse(raw);
  const schedules = config.schedules.map((s) => ({ name: s.name }));
  return buildDiscovery({ config, nodes: resolveNodes(config), board, version: '1.2.3', schedules });
}

const tpi1 = discovery(
  {
    board: { type: 'tpi1', id: 'rack1' },
    nodes: { 3: { agent: true } },
    schedules: [{ name: 'nightly-off', cron: '0 23 * * *', action: 'shutdown', nodes: [3] }],
  },
  TPI1,
);
const tpi2Board = { type: 'tpi2', id: 'tp2', bmc: { url: 'https://bmc.lan' } } as const;
const tpi25 = discovery({ board: tpi2Board }, { ...TPI2, hasFans: true });
const tpi24 = discovery({ board: { ...tpi2Board, id: 'tp24' } }, { ...TPI2, usbModes: ['host', 'device'] });
const all = [...tpi1, ...tpi25, ...tpi24];

describe('Home Assistant discovery: what every device message holds', () => {
  it('covers every platform the bridge publishes', () => {
    const platforms = new Set(all.flatMap((m) => Object.values(m.payload.components).map((c) => c.platform)));
    assert.deepEqual([...platforms].sort(), ['binary_sensor', 'button', 'fan', 'select', 'sensor', 'switch']);
  });

  // Home Assistant applies a device's shared options to its components only where a component does
  // not set them, and until core PR 170195 (merged 2026-05-09; the issue was seen on 2026.5.1) its
  // list of those options left out `qos`: homeassistant/components/mqtt/schemas.py, SHARED_OPTIONS
  // at home-assistant/core 0f5c1b547043f5395608e09de3dcf4b7cfafef3d, used by
  // _merge_common_device_options in discovery.py. Each platform's schema then defaults qos to 0
  // (config.py, SCHEMA_BASE), so HA 2024.11 up to that fix subscribed to the states and published the
  // commands at QoS 0 despite the device's `qos: 1`.
  it('gives every component QoS 1 itself, not only the device (which older Home Assistant ignores)', () => {
    for (const { topic, payload } of all) {
      assert.equal(payload.qos, 1, topic);
      for (const [key, component] of Object.entries(payload.components)) {
        assert.equal(component.qos, 1, `${topic} ${key}`);
      }
    }
  });
});
