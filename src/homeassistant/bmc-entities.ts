import type { Config } from '../config/schema.js';
import type { Topics } from '../mqtt/topics.js';
import type { AvailabilityTopic, ComponentConfig } from './device-parts.js';

/** Boards whose controller wants a login: the Turing Pi 2 BMC, real or simulated. */
export function boardHasBmcLogin(config: Config): boolean {
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
  const available = { availability: [bridge], availability_mode: 'all' as const };
  return {
    bmc_login: {
      platform: 'binary_sensor',
      unique_id: uid('bmc_login'),
      name: 'BMC login',
      device_class: 'problem',
      entity_category: 'diagnostic',
      state_topic: t.boardBmc,
      // A problem is ON: a login that failed or is paused.
      value_template: "{{ 'OFF' if value_json.login == 'ok' else 'ON' }}",
      payload_on: 'ON',
      payload_off: 'OFF',
      // {login, reason, failures, firmware, bmcd}
      json_attributes_topic: t.boardBmc,
      ...available,
    },
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
