import type { BoardFacts } from './board-facts.js';
import type { Config } from '../config/schema.js';
import type { Topics } from '../mqtt/topics.js';
import type { AvailabilityTopic, ComponentConfig, DeviceInfo } from './device-parts.js';

/**
 * The board device's own controls (docs/topics.md, docs/turing-pi-2.md), built beside
 * discovery.ts with its conventions: the fan of a Turing Pi 2.5 and where the board's USB goes.
 * Neither offers a way to reboot the BMC or restart bmcd: on today's firmware either can change
 * node power (bmcd issue 90).
 */

export interface BoardControlSources {
  t: Topics;
  bridge: AvailabilityTopic;
  board: AvailabilityTopic;
}

/** The select's options: each node in each mode the board allows, e.g. "Node 2 (device)". Never flash. */
function usbOptions(board: BoardFacts): string[] {
  const modes = (board.usbModes ?? []).filter((m) => m === 'host' || m === 'device');
  const options: string[] = [];
  for (let node = 1; node <= board.nodes; node++) for (const mode of modes) options.push(`Node ${node} (${mode})`);
  return options;
}

export function boardControlComponents(
  board: BoardFacts,
  uid: (key: string) => string,
  { t, bridge, board: boardOnline }: BoardControlSources,
): Record<string, ComponentConfig> {
  const components: Record<string, ComponentConfig> = {};
  const available = { availability: [bridge, boardOnline], availability_mode: 'all' as const };
  if (board.hasFans) {
    // `<b>/board/fan` is {percentage, level, max_level}; the bridge maps percentages to the
    // BMC's cooling levels both ways, so HA's own percentage range (1-100) is used as is.
    components.fan = {
      platform: 'fan',
      unique_id: uid('fan'),
      name: 'Fan',
      state_topic: t.fan,
      state_value_template: "{{ 'ON' if value_json.level > 0 else 'OFF' }}",
      command_topic: t.fanSet,
      payload_on: 'ON',
      payload_off: 'OFF',
      percentage_state_topic: t.fan,
      percentage_value_template: '{{ value_json.percentage }}',
      percentage_command_topic: t.fanSet,
      json_attributes_topic: t.fan,
      retain: false,
      ...available,
    };
  }
  const options = usbOptions(board);
  if (options.length > 0) {
    // Anything the select cannot set (flash mode, or the USB routed to the BMC) reads as unknown.
    components.usb = {
      platform: 'select',
      unique_id: uid('usb'),
      name: 'USB',
      icon: 'mdi:usb',
      entity_category: 'config',
      state_topic: t.usb,
      value_template:
        "{% if value_json.route == 'port' and value_json.mode in ['host', 'device'] %}" +
        'Node {{ value_json.node }} ({{ value_json.mode }}){% else %}None{% endif %}',
      json_attributes_topic: t.usb,
      command_topic: t.usbSet,
      options,
      retain: false,
      ...available,
    };
  }
  return components;
}

/** The board device's software and hardware versions: the BMC's firmware where it says. */
export function boardVersions(board: BoardFacts, version: string): Pick<DeviceInfo, 'sw_version' | 'hw_version'> {
  // e.g. "2.1 (bmcd 2.3.4)"; "bmcd 2.4.0" when the firmware line is not known.
  const bmcd = board.bmcd ? `bmcd ${board.bmcd}` : null;
  const firmware = bmcd && board.firmware ? `${board.firmware} (${bmcd})` : bmcd;
  return {
    sw_version: firmware ?? version,
    ...(board.revision ? { hw_version: board.revision } : {}),
  };
}

/** A node's device name: the configured name, else the name given on the BMC, else "Node n". */
export function nodeDisplayName(config: Config, board: BoardFacts, node: { number: number; name: string }): string {
  if (config.nodes[String(node.number)]?.name) return node.name;
  return board.nodeNames?.[node.number - 1] ?? node.name;
}
