import { dirname } from 'node:path';
import { stringify } from 'yaml';
import { SIMULATOR_FACTORY_FINGERPRINT } from '../board/simulator/factory-certificate.js';
import type { Problem } from '../config/problems.js';
import { TpmError, errorMessage } from '../util/errors.js';
import { chmod, mkdir, readFile, writeFile } from '../util/files.js';

/**
 * `turingpi-mqtt addon`: the Home Assistant add-on's start (addon/, docs in addon/DOCS.md). Reads
 * the add-on's options (/data/options.json) and the broker: the one named in the mqtt_server option,
 * else the one the Supervisor hands out (`GET http://supervisor/services/mqtt`, which only an add-on
 * providing MQTT fills, the Mosquitto add-on; the add-on declares `services: [mqtt:want]`), writes the
 * bridge's config (mode 0600, state_dir on /data, so the BMC login-failure count survives
 * restarts), and the bridge then runs from it. The passwords go into the bridge's environment,
 * not into the file.
 */

export interface AddonOptions {
  board_type: 'tpi2' | 'simulator';
  board_id: string;
  board_name: string;
  bmc_url: string;
  bmc_username: string;
  bmc_password?: string;
  bmc_fingerprint?: string;
  base_topic: string;
  nodes: { node: number; name?: string; agent?: boolean; protected?: boolean; enabled?: boolean }[];
  schedules: { name: string; cron: string; action: string; nodes: string; timezone?: string; enabled?: boolean }[];
  log_level: string;
  /** Another broker than the Mosquitto add-on: mqtt://host:port or mqtts://host:port. */
  mqtt_server?: string;
  mqtt_user?: string;
  mqtt_password?: string;
}

export interface MqttService {
  host: string;
  port: number;
  ssl: boolean;
  username?: string;
  password?: string;
}

export interface AddonPaths {
  /** The add-on's options, written by the Supervisor. */
  options: string;
  /** Where the bridge's config is written. */
  config: string;
  /** The bridge's state_dir (persistent: /data survives restarts and updates). */
  stateDir: string;
  /** The Supervisor's API, and the token it gave the add-on. */
  supervisorUrl: string;
  token: string | undefined;
}

export function addonPaths(env: NodeJS.ProcessEnv): AddonPaths {
  return {
    options: env['ADDON_OPTIONS'] ?? '/data/options.json',
    config: env['ADDON_CONFIG'] ?? '/data/turingpi-mqtt.yaml',
    stateDir: env['ADDON_STATE_DIR'] ?? '/data/state',
    supervisorUrl: env['SUPERVISOR_URL'] ?? 'http://supervisor',
    token: env['SUPERVISOR_TOKEN'],
  };
}

/** The broker of Home Assistant's MQTT service (e.g. the Mosquitto add-on), from the Supervisor. */
async function supervisorMqtt(paths: AddonPaths, fetchFn: typeof fetch = fetch): Promise<MqttService> {
  if (!paths.token) throw new TpmError('CONFIG', 'SUPERVISOR_TOKEN is not set: run this as a Home Assistant add-on');
  let response: Response;
  try {
    response = await fetchFn(`${paths.supervisorUrl}/services/mqtt`, {
      headers: { Authorization: `Bearer ${paths.token}` },
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new TpmError('BROKER', `cannot ask the Supervisor for the MQTT broker: ${errorMessage(error)}`);
  }
  const body = (await response.json().catch(() => undefined)) as
    { result?: string; data?: Partial<MqttService> } | undefined;
  const data = body?.data;
  if (!response.ok || body?.result !== 'ok' || !data?.host || !data.port) {
    throw new TpmError(
      'BROKER',
      `Home Assistant has no MQTT broker for this add-on (Supervisor answered ${response.status}): install and ` +
        'start the Mosquitto broker add-on, or name your broker in the add-on options mqtt_server, mqtt_user ' +
        'and mqtt_password',
    );
  }
  return {
    host: data.host,
    port: Number(data.port),
    ssl: data.ssl === true,
    ...(data.username ? { username: data.username } : {}),
    ...(data.password ? { password: data.password } : {}),
  };
}

/**
 * The broker named in the options (a broker outside Home Assistant's add-ons, which the Supervisor
 * knows nothing of). The password stays in the options, never in the URL written to the config.
 */
function optionsMqtt(options: AddonOptions): MqttService {
  const text = (options.mqtt_server ?? '').trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Not repeated: what does not parse may hold a password.
    throw new TpmError('CONFIG', 'the add-on option mqtt_server is not a URL like mqtt://host:1883');
  }
  // Any "@": a user in the URL's own fields, or one a scheme it does not know left in the path.
  if (text.includes('@'))
    throw new TpmError('CONFIG', 'the add-on option mqtt_server holds a user: put it in mqtt_user and mqtt_password');
  // Not repeated either ("tcp:secret" parses as a scheme and a path).
  if (url.protocol !== 'mqtt:' && url.protocol !== 'mqtts:')
    throw new TpmError('CONFIG', 'the add-on option mqtt_server must start with mqtt:// or mqtts://');
  // "mqtt:host" and "mqtt:///host" parse with no host: MQTT.js would then try this container.
  if (!url.hostname || !/^mqtts?:\/\/[^/]/.test(text) || url.port === '0')
    throw new TpmError('CONFIG', `the add-on option mqtt_server must name a host, e.g. mqtt://broker.lan:1883`);
  const ssl = url.protocol === 'mqtts:';
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : ssl ? 8883 : 1883,
    ssl,
    ...(options.mqtt_user ? { username: options.mqtt_user } : {}),
    ...(options.mqtt_password ? { password: options.mqtt_password } : {}),
  };
}

function nodeList(text: string): number[] | 'all' {
  const trimmed = text.trim();
  if (trimmed === 'all') return 'all';
  const nodes = trimmed
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(Number);
  if (nodes.length === 0 || nodes.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new TpmError('CONFIG', `schedule nodes must be "all" or node numbers like "1, 2", not "${text}"`);
  }
  return nodes;
}

/** The bridge's config (as an object) from the options and the broker; passwords as ${VAR}. */
function bridgeConfig(options: AddonOptions, mqtt: MqttService, stateDir: string): Record<string, unknown> {
  const host = mqtt.host.includes(':') ? `[${mqtt.host}]` : mqtt.host;
  const board: Record<string, unknown> = { type: options.board_type, id: options.board_id, name: options.board_name };
  if (options.board_type === 'tpi2') {
    board['bmc'] = {
      url: options.bmc_url,
      username: options.bmc_username,
      ...(options.bmc_password ? { password: '${TPI_BMC_PASSWORD}' } : {}),
      ...(options.bmc_fingerprint ? { fingerprint: options.bmc_fingerprint.trim() } : {}),
    };
  } else {
    // A simulated Turing Pi 2 (a BMC over HTTPS inside the add-on), pinned like the demo's.
    board['simulate'] = { model: 'tpi2', state_file: `${stateDir}/simulator.json` };
    board['bmc'] = { fingerprint: SIMULATOR_FACTORY_FINGERPRINT };
  }
  const nodes: Record<string, unknown> = {};
  for (const node of options.nodes) {
    const { node: n, ...settings } = node;
    if (nodes[String(n)]) throw new TpmError('CONFIG', `the add-on option nodes lists node ${n} twice: keep one`);
    nodes[String(n)] = settings;
  }
  return {
    mqtt: {
      url: `${mqtt.ssl ? 'mqtts' : 'mqtt'}://${host}:${mqtt.port}`,
      ...(mqtt.username ? { username: mqtt.username } : {}),
      ...(mqtt.password ? { password: '${MQTT_PASSWORD}' } : {}),
      base_topic: options.base_topic,
    },
    board,
    nodes,
    schedules: options.schedules.map((s) => ({ ...s, nodes: nodeList(s.nodes) })),
    state_dir: stateDir,
    log: { level: options.log_level, format: 'pretty' },
  };
}

/**
 * Writes the bridge's config (0600) and returns its path, the environment the bridge needs (the
 * passwords, never logged) and the options it was written from.
 */
export async function prepareAddon(
  paths: AddonPaths,
  fetchFn: typeof fetch = fetch,
): Promise<{ file: string; env: Record<string, string>; options: AddonOptions }> {
  let options: AddonOptions;
  try {
    options = JSON.parse(await readFile(paths.options, 'utf8')) as AddonOptions;
  } catch (error) {
    throw new TpmError('CONFIG', `cannot read the add-on options ${paths.options}: ${errorMessage(error)}`);
  }
  const mqtt = options.mqtt_server?.trim() ? optionsMqtt(options) : await supervisorMqtt(paths, fetchFn);
  const config = bridgeConfig(
    { ...options, nodes: options.nodes ?? [], schedules: options.schedules ?? [] },
    mqtt,
    paths.stateDir,
  );
  await mkdir(paths.stateDir, { recursive: true, mode: 0o700 });
  await mkdir(dirname(paths.config), { recursive: true });
  const header =
    "# Written by the add-on at every start from its options (and the Supervisor's MQTT service): edit the options.\n";
  await writeFile(paths.config, header + stringify(config), { mode: 0o600 });
  await chmod(paths.config, 0o600); // an existing file keeps its mode on writeFile
  const env: Record<string, string> = {};
  if (mqtt.password) env['MQTT_PASSWORD'] = mqtt.password;
  if (options.board_type === 'tpi2' && options.bmc_password) env['TPI_BMC_PASSWORD'] = options.bmc_password;
  return { file: paths.config, env, options };
}

/**
 * What a user without a shell needs on first connection: the certificate the BMC presents, and
 * which option to paste its fingerprint into. Nothing is sent to the BMC (one TLS handshake).
 */
export async function fingerprintAdvice(options: {
  board_type: string;
  bmc_url: string;
  bmc_fingerprint?: string;
}): Promise<string | undefined> {
  if (options.board_type !== 'tpi2' || options.bmc_fingerprint) return undefined;
  const { fetchBmcCertificate } = await import('./bmc-trust.js');
  try {
    const cert = await fetchBmcCertificate(options.bmc_url, [], 10_000);
    return (
      `The BMC at ${new URL(options.bmc_url).origin} presents a certificate with the SHA-256 fingerprint\n` +
      `  ${cert.fingerprint}\n` +
      `(subject ${cert.subject}${cert.selfSigned ? ', self-signed' : ''}). If this is your BMC (compare it with ` +
      '`openssl x509 -in /etc/ssl/certs/bmcd_cert.pem -noout -fingerprint -sha256` on the BMC), paste the ' +
      'fingerprint ' +
      'into the add-on option "BMC certificate fingerprint" (bmc_fingerprint, Configuration tab) and restart the ' +
      'add-on. Until then the bridge ' +
      'does not trust the BMC and logs in to nothing.'
    );
  } catch (error) {
    return (
      `Could not read the BMC's certificate at ${options.bmc_url} (${errorMessage(error)}): check the ` +
      `option "bmc_url".`
    );
  }
}

/** Config keys the add-on writes from an option of the same meaning, by the option's name. */
const OPTION_OF: Record<string, string> = {
  'board.type': 'board_type',
  'board.id': 'board_id',
  'board.name': 'board_name',
  'board.bmc.url': 'bmc_url',
  'board.bmc.username': 'bmc_username',
  'board.bmc.password': 'bmc_password',
  'board.bmc.fingerprint': 'bmc_fingerprint',
  'mqtt.base_topic': 'base_topic',
  'mqtt.url': 'mqtt_server',
  'mqtt.username': 'mqtt_user',
  'mqtt.password': 'mqtt_password',
  'log.level': 'log_level',
};

/**
 * A problem of the config the add-on wrote, told in the add-on's options: the user never sees
 * that file, only the Configuration tab ("schedules.1.cron" is the cron of the second schedule).
 */
export function asAddonOption(problem: Problem): Problem {
  const { path } = problem;
  const [section, key, ...rest] = path.split('.');
  const field = rest.length ? `: ${rest.join('.')}` : '';
  let option = OPTION_OF[path];
  if (!option && section === 'nodes' && key !== undefined) option = `nodes, node ${key}${field}`;
  if (!option && section === 'schedules' && key !== undefined && /^\d+$/.test(key))
    option = `schedules, entry ${Number(key) + 1}${field}`;
  return { path: `add-on option ${option ?? path}`, message: problem.message };
}

/** The add-on's whole start: config written, fingerprint advice logged, environment set. */
export async function startAddon(env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<string> {
  const paths = addonPaths(env);
  const { file, env: secrets, options } = await prepareAddon(paths);
  const advice = await fingerprintAdvice(options);
  if (advice) log(advice);
  if (!options.mqtt_server?.trim() && (options.mqtt_user || options.mqtt_password))
    log('the options mqtt_user and mqtt_password apply only with mqtt_server: the Mosquitto add-on gives its own');
  // Not set yet (the option's default): a login with no password would only count towards the BMC's ban.
  if (options.board_type === 'tpi2' && !options.bmc_password) {
    throw new TpmError(
      'CONFIG',
      'the add-on option "BMC password" (bmc_password) is empty: ' +
        'set it in the Configuration tab and restart the add-on',
    );
  }
  Object.assign(process.env, secrets);
  log(`bridge config written to ${file} (mode 0600); starting the bridge`);
  return file;
}
