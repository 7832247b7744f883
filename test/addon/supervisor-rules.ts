/**
 * What Home Assistant's Supervisor checks in an add-on repository, written down from its source
 * so that addon/ and repository.yaml can be checked here, without a Supervisor and without a
 * network. Read in github.com/home-assistant/supervisor at commit 090ef31e (2026-08-21; the
 * Supervisor calls add-ons "apps" since 2026.04):
 * - supervisor/apps/validate.py: `_SCHEMA_APP_CONFIG` (config.yaml's keys and their types),
 *   `SCHEMA_ELEMENT` and `RE_SERVICE`, `SCHEMA_BUILD_CONFIG` (build.yaml) with
 *   `RE_DOCKER_IMAGE_BUILD`, `SCHEMA_APP_TRANSLATIONS` (translations/<language>.yaml);
 * - supervisor/apps/options.py: `RE_SCHEMA_ELEMENT` (the option types) and `AppOptions`, which
 *   checks the user's options against the schema at every install and start;
 * - supervisor/store/validate.py: `SCHEMA_REPOSITORY_CONFIG` (repository.yaml);
 * - supervisor/store/data.py: `_find_app_configs`: every `config.{yaml,yml,json}` in the cloned
 *   repository, outside folders starting with "." or named "rootfs", is read as an add-on;
 * - supervisor/const.py: the architectures (aarch64 and amd64; armhf, armv7 and i386 deprecated).
 * The Supervisor's schemas drop keys they do not know without a word (`extra=REMOVE_EXTRA`): a
 * misspelt key would be ignored there, so it is a problem here.
 */

export type Problems = string[];

/** config.yaml keys the Supervisor knows (`_SCHEMA_APP_CONFIG`). */
export const APP_CONFIG_KEYS = new Set(
  (
    'name version slug description arch machine url startup boot init advanced stage ports ports_description ' +
    'watchdog webui ingress ingress_port ingress_entry ingress_stream panel_icon panel_title panel_admin ' +
    'homeassistant host_network host_pid host_ipc host_uts host_dbus devices udev tmpfs map environment ' +
    'privileged apparmor full_access audio video gpio usb uart devicetree kernel_modules realtime hassio_api ' +
    'hassio_role homeassistant_api stdin legacy docker_api auth_api services discovery backup_exclude ' +
    'backup_pre backup_post backup options schema image ulimits timeout journald breaking_versions'
  ).split(' '),
);
export const ARCH_SUPPORTED = ['aarch64', 'amd64'];
export const ARCH_DEPRECATED = ['armhf', 'armv7', 'i386'];
const STARTUP = ['initialize', 'system', 'services', 'application', 'once'];
const BOOT = ['auto', 'manual', 'manual_only'];
const STAGE = ['stable', 'experimental', 'deprecated'];
const RE_SLUG = /^[-_.A-Za-z0-9]+$/;
const RE_SERVICE = /^(?<service>mqtt|mysql):(?<rights>provide|want|need)$/;
const RE_DOCKER_IMAGE_BUILD = /^([a-zA-Z\-.:\d{}]+\/)*?([-\w{}]+)\/([-\w{}]+)(:[.\-\w{}]+)?$/;

/** The option types (`RE_SCHEMA_ELEMENT`, Python's `(?P<name>` written as `(?<name>`). */
export const RE_SCHEMA_ELEMENT = new RegExp(
  '^(?:' +
    '|bool' +
    '|email' +
    '|url' +
    '|port' +
    '|device(?:\\((?<filter>subsystem=[a-z]+)\\))?' +
    '|str(?:\\((?<s_min>\\d+)?,(?<s_max>\\d+)?\\))?' +
    '|password(?:\\((?<p_min>\\d+)?,(?<p_max>\\d+)?\\))?' +
    '|int(?:\\((?<i_min>-?\\d+)?,(?<i_max>-?\\d+)?\\))?' +
    '|float(?:\\((?<f_min>-?\\d*\\.?\\d+)?,(?<f_max>-?\\d*\\.?\\d+)?\\))?' +
    '|match\\((?<match>.*)\\)' +
    '|list\\((?<list>.+)\\)' +
    ')\\??$',
);

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** voluptuous' `Url()`: urlparse must give a scheme and a network location. */
function isUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol.length > 1 && url.host.length > 0;
  } catch {
    return false;
  }
}

/** `SCHEMA_ELEMENT`: a type string, a dict of elements, or a list of one type string or dict (never a list). */
export function schemaElementProblems(element: unknown, where: string): Problems {
  if (typeof element === 'string')
    return RE_SCHEMA_ELEMENT.test(element) ? [] : [`${where}: unknown type "${element}"`];
  if (Array.isArray(element)) {
    if (element.length !== 1) return [`${where}: a list schema holds exactly one element`];
    if (Array.isArray(element[0])) return [`${where}: a list may not directly contain another list`];
    return schemaElementProblems(element[0], `${where}[]`);
  }
  if (isRecord(element))
    return Object.entries(element).flatMap(([key, value]) => schemaElementProblems(value, `${where}.${key}`));
  return [`${where}: not a type, a list or a dict`];
}

/** config.yaml as `_SCHEMA_APP_CONFIG` (plus `_warn_app_config`'s deprecated architectures). */
export function appConfigProblems(config: Record<string, unknown>): Problems {
  const problems: Problems = [];
  const str = (key: string, required: boolean): void => {
    if (config[key] === undefined) {
      if (required) problems.push(`${key}: required`);
    } else if (typeof config[key] !== 'string') problems.push(`${key}: not a string`);
  };
  for (const key of Object.keys(config)) if (!APP_CONFIG_KEYS.has(key)) problems.push(`${key}: not an add-on key`);
  for (const key of ['name', 'slug', 'description']) str(key, true);
  if (config['version'] === undefined) problems.push('version: required');
  if (typeof config['slug'] === 'string' && !RE_SLUG.test(config['slug'])) problems.push('slug: not a slug');
  const arch = config['arch'];
  if (!Array.isArray(arch) || arch.length === 0) problems.push('arch: a list of architectures is required');
  else
    for (const a of arch) {
      if (ARCH_DEPRECATED.includes(String(a))) problems.push(`arch: ${String(a)} is deprecated`);
      else if (!ARCH_SUPPORTED.includes(String(a))) problems.push(`arch: ${String(a)} is not an architecture`);
    }
  if (config['url'] !== undefined && !isUrl(config['url'])) problems.push('url: not a URL');
  const oneOf = (key: string, values: string[]): void => {
    if (config[key] !== undefined && !values.includes(String(config[key])))
      problems.push(`${key}: one of ${values.join(', ')}`);
  };
  oneOf('startup', STARTUP);
  oneOf('boot', BOOT);
  oneOf('stage', STAGE);
  for (const key of ['init', 'host_network', 'hassio_api', 'homeassistant_api', 'ingress', 'udev', 'gpio', 'uart'])
    if (config[key] !== undefined && typeof config[key] !== 'boolean') problems.push(`${key}: not a boolean`);
  const services = config['services'];
  if (services !== undefined) {
    if (!Array.isArray(services)) problems.push('services: not a list');
    else for (const s of services) if (!RE_SERVICE.test(String(s))) problems.push(`services: "${String(s)}"`);
  }
  if (config['options'] !== undefined && !isRecord(config['options'])) problems.push('options: not a dict');
  const schema = config['schema'];
  if (schema !== undefined && schema !== false) {
    if (!isRecord(schema)) problems.push('schema: not a dict');
    else problems.push(...schemaElementProblems(schema, 'schema'));
  }
  const timeout = config['timeout'];
  if (timeout !== undefined && !(Number.isInteger(timeout) && Number(timeout) >= 10 && Number(timeout) <= 300))
    problems.push('timeout: 10-300 s');
  return problems;
}

/** One value against one type, as `AppOptions._single_validate`. */
function singleProblems(type: string, value: unknown, key: string): Problems {
  if (value === null || value === undefined) return [`Missing required option '${key}'`];
  if (typeof value === 'string' && value.startsWith('!secret ')) return []; // looked up in secrets.yaml
  const match = RE_SCHEMA_ELEMENT.exec(type);
  if (!match) return [`Unknown type '${type}' for '${key}'`];
  const g = match.groups ?? {};
  const bounds = (min?: string, max?: string): ((n: number) => boolean) => {
    return (n) => (min === undefined || n >= Number(min)) && (max === undefined || n <= Number(max));
  };
  const bad = [`'${key}': ${JSON.stringify(value)} is not a valid ${type}`];
  if (type.startsWith('str') || type.startsWith('password')) {
    const inRange = type.startsWith('str') ? bounds(g['s_min'], g['s_max']) : bounds(g['p_min'], g['p_max']);
    return typeof value === 'string' && inRange(value.length) ? [] : bad;
  }
  if (type.startsWith('int') || type.startsWith('port')) {
    const n = typeof value === 'string' ? Number(value.trim()) : value;
    if (typeof n !== 'number' || !Number.isFinite(n)) return bad;
    const inRange = type.startsWith('port') ? bounds('1', '65535') : bounds(g['i_min'], g['i_max']);
    return inRange(Math.trunc(n)) ? [] : bad;
  }
  if (type.startsWith('float')) {
    const n = Number(value);
    return Number.isFinite(n) && bounds(g['f_min'], g['f_max'])(n) ? [] : bad;
  }
  if (type.startsWith('bool')) {
    if (typeof value !== 'string') return [];
    return ['1', 'true', 'yes', 'on', 'enable', '0', 'false', 'no', 'off', 'disable'].includes(value.toLowerCase())
      ? []
      : bad;
  }
  if (type.startsWith('email')) return typeof value === 'string' && /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value) ? [] : bad;
  if (type.startsWith('url')) return isUrl(value) ? [] : bad;
  if (type.startsWith('match')) return new RegExp(`^(?:${g['match'] ?? ''})`).test(String(value)) ? [] : bad;
  if (type.startsWith('list')) return (g['list'] ?? '').split('|').includes(String(value)) ? [] : bad;
  if (type.startsWith('device')) return typeof value === 'string' ? [] : bad; // the host's devices: not here
  return bad;
}

function elementProblems(type: unknown, value: unknown, key: string): Problems {
  if (Array.isArray(type)) {
    if (!Array.isArray(value)) return [`Invalid list for option '${key}'`];
    return value.flatMap((item) => elementProblems(type[0], item, key));
  }
  if (isRecord(type)) {
    if (!isRecord(value)) return [`Invalid dict for option '${key}'`];
    return dictProblems(type, value, key);
  }
  return singleProblems(String(type), value, key);
}

/** Unknown keys (the Supervisor warns and drops them) and missing ones that are not optional. */
function dictProblems(schema: Record<string, unknown>, options: Record<string, unknown>, root: string): Problems {
  const problems: Problems = [];
  for (const [key, value] of Object.entries(options)) {
    if (!(key in schema)) problems.push(`Option '${key}' does not exist in the schema (${root})`);
    else problems.push(...elementProblems(schema[key], value, key));
  }
  for (const [key, type] of Object.entries(schema)) {
    if (key in options) continue;
    const element = Array.isArray(type) ? type[0] : type;
    if (typeof element === 'string' && element.endsWith('?')) continue;
    problems.push(`Missing option '${key}' in ${root}`);
  }
  return problems;
}

/** The user's options (the defaults merged with what they set) against the schema: `AppOptions.__call__`. */
export function optionsProblems(schema: Record<string, unknown>, options: Record<string, unknown>): Problems {
  return dictProblems(schema, options, 'root');
}

/** build.yaml as `SCHEMA_BUILD_CONFIG`. */
export function buildConfigProblems(build: Record<string, unknown>): Problems {
  const problems: Problems = [];
  for (const key of Object.keys(build))
    if (!['build_from', 'squash', 'args', 'labels'].includes(key)) problems.push(`${key}: not a build key`);
  const from = build['build_from'];
  if (typeof from === 'string') {
    if (!RE_DOCKER_IMAGE_BUILD.test(from)) problems.push(`build_from: "${from}" is not an image`);
  } else if (isRecord(from)) {
    for (const [arch, image] of Object.entries(from)) {
      if (![...ARCH_SUPPORTED, ...ARCH_DEPRECATED].includes(arch)) problems.push(`build_from.${arch}: no such arch`);
      if (!RE_DOCKER_IMAGE_BUILD.test(String(image))) problems.push(`build_from.${arch}: not an image`);
    }
  } else if (from !== undefined) problems.push('build_from: an image or {arch: image}');
  for (const key of ['args', 'labels']) {
    const value = build[key];
    if (value !== undefined && !(isRecord(value) && Object.values(value).every((v) => typeof v === 'string')))
      problems.push(`${key}: {string: string}`);
  }
  return problems;
}

/** translations/<language>.yaml as `SCHEMA_APP_TRANSLATIONS` (configuration: name, description, fields). */
export function translationProblems(translation: Record<string, unknown>): Problems {
  const problems: Problems = [];
  const entry = (value: unknown, where: string): void => {
    if (!isRecord(value)) {
      problems.push(`${where}: not a dict`);
      return;
    }
    if (typeof value['name'] !== 'string') problems.push(`${where}.name: required string`);
    const description = value['description'];
    if (description !== undefined && description !== null && typeof description !== 'string')
      problems.push(`${where}.description: a string`);
    const fields = value['fields'];
    if (fields !== undefined) {
      if (!isRecord(fields)) problems.push(`${where}.fields: not a dict`);
      else for (const [key, field] of Object.entries(fields)) entry(field, `${where}.fields.${key}`);
    }
  };
  const configuration = translation['configuration'];
  if (configuration !== undefined) {
    if (!isRecord(configuration)) problems.push('configuration: not a dict');
    else for (const [key, value] of Object.entries(configuration)) entry(value, `configuration.${key}`);
  }
  return problems;
}

/** repository.yaml as `SCHEMA_REPOSITORY_CONFIG`. */
export function repositoryProblems(repository: Record<string, unknown>): Problems {
  const problems: Problems = [];
  for (const key of Object.keys(repository))
    if (!['name', 'url', 'maintainer'].includes(key)) problems.push(`${key}: not a repository key`);
  if (typeof repository['name'] !== 'string') problems.push('name: required string');
  if (repository['url'] !== undefined && !isUrl(repository['url'])) problems.push('url: not a URL');
  if (repository['maintainer'] !== undefined && typeof repository['maintainer'] !== 'string')
    problems.push('maintainer: a string');
  return problems;
}

/** Whether the Supervisor reads this repository path as an add-on's config (`_find_app_configs`). */
export function isAddonConfigPath(file: string): boolean {
  const parts = file.split('/');
  const name = parts.at(-1) ?? '';
  if (!name.startsWith('config.') || !/\.(yaml|yml|json)$/.test(name)) return false; // glob config.*, suffix
  return !parts.some((part) => part.startsWith('.') || part === 'rootfs');
}
