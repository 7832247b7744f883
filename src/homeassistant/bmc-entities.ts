import type { Config } from '../config/schema.js';
import type { Topics } from '../mqtt/topics.js';
import { availability, onOffBinarySensor, type AvailabilityTopic, type ComponentConfig } from './device-parts.js';

/** Boards whose controller wants a login: the Turing Pi 2 BMC, real or simulated. */
function boardHasBmcLogin(config: Config): boolean {
  return config.board.type === 'tpi2' || (config.board.type === 'simulator' && config.board.simulate.model === 'tpi2');
}

/**
 * The board device's BMC login entities (docs/topics.md): a problem sensor fed by
 * `<b>/board/bmc` with its JSON as attributes (the reason among them), and the button a person
 * presses to allow one more login after logins were paused (docs/turing-pi-2.md).
 */
export function bmcLoginComponents(
  config: Config,
  t: Topics,
  bridge: AvailabilityTopic,
  uid: (key: string) => string,
): Record<string, ComponentConfig> {
  if (!boardHasBmcLogin(config)) return {};
  const available = availability(bridge);
  return {
    bmc_login: onOffBinarySensor({
      uniqueId: uid('bmc_login'),
      name: 'BMC login',
      options: { device_class: 'problem', entity_category: 'diagnostic' },
      stateTopic: t.boardBmc,
      // A problem is ON: a login that failed or is paused.
      valueTemplate: "{{ 'OFF' if value_json.login == 'ok' else 'ON' }}",
      // {login, reason, failures, firmware, bmcd}
      attributesTopic: t.boardBmc,
      availability: available,
    }),
    bmc_login_retry: {
      platform: 'button',
      unique_id: uid('bmc_login_retry'),
      name: 'Retry BMC login',
      icon: 'mdi:login',
      entity_category: 'config',
      command_topic: t.request('bmc/login'),
      payload_press: '{}',
      retain: false,
      ...available,
    },
  };
}
