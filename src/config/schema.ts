import { z } from 'zod';
import { cronProblem, timeZoneProblem } from '../util/cron.js';
import { formatDuration, parseDuration } from './duration.js';
import { parseFingerprint } from '../util/fingerprint.js';
import { MAX_NODES } from './limits.js';

export { MAX_NODES };

/**
 * The one source of the configuration's types, defaults, validation and config/schema.json
 * (docs/ARCHITECTURE.md "The parts"). Keys stay snake_case as users write them; durations become
 * milliseconds. Every object is strict: unknown keys are errors (docs/configuration.md).
 */

/** A duration between min and max, written `500ms`, `5s`, `10m`, `2h` or as milliseconds. */
function duration(min: number, max: number) {
  return z
    .union([z.number(), z.string()])
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `"${value}" is not a duration (use 500ms, 5s, 10m, 2h or milliseconds)`,
        });
        return z.NEVER;
      }
      if (ms < min || ms > max) {
        ctx.addIssue({ code: 'custom', message: `must be between ${formatDuration(min)} and ${formatDuration(max)}` });
        return z.NEVER;
      }
      return ms;
    })
    .meta({ description: 'a duration: 500ms, 5s, 10m, 2h, or milliseconds' });
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const nullableString = z.string().nullable();
/** How OFF and REBOOT go about it: through the agent first (the default), or straight at the power. */
const gracefulOrHard = z.enum(['graceful', 'hard']).default('graceful');
/** What board.bmc holds when the file says nothing (the checks tell a written login from these). */
export const BMC_DEFAULTS = { url: 'https://turingpi.local', username: 'root', password: null } as const;

/** Firmware 1.x is plain HTTP without a login: the bridge never sends a BMC password in clear. */
const BMC_URL_MESSAGE =
  'must be an https:// URL, e.g. https://turingpi.local (BMC firmware 2.x serves https; firmware 1.x, plain ' +
  'http:// without a login, is not supported: upgrade the BMC, https://docs.turingpi.com); the password is ' +
  'never sent in clear';
const ID_PATTERN = /^[a-z0-9_-]{1,32}$/;

/** Read as the clients read it (WHATWG URL): `mqtt://host:99999` passed, and the start failed with "Invalid URL". */
function parsesAsUrl(url: string): boolean {
  try {
    return new URL(url).hostname !== '';
  } catch {
    return false;
  }
}
/** A user or password in a URL (`https://root:pw@host`): the BMC's login has keys of its own. */
function hasUserInfo(url: string): boolean {
  const parsed = new URL(url);
  return parsed.username !== '' || parsed.password !== '';
}
const BMC_URL_LOGIN_MESSAGE =
  'must not hold a user or password: write the login in board.bmc.username and board.bmc.password ' +
  '(better password: ${TPI_BMC_PASSWORD})';
const URL_MESSAGE =
  'is not a URL: write scheme://host:port (a port up to 65535); in a user or password, write / # ? @ % as ' +
  '%2F %23 %3F %40 %25';

const tlsSchema = z.strictObject({
  ca: nullableString.default(null).describe('path of a CA certificate file (PEM)'),
  cert: nullableString.default(null).describe('path of a client certificate file (PEM)'),
  key: nullableString.default(null).describe('path of the client key file (PEM)'),
  reject_unauthorized: z.boolean().default(true).describe('refuse a broker whose certificate does not check out'),
  server_name: nullableString.default(null).describe('name expected in the broker certificate, if not the URL host'),
});

const mqttSchema = z.strictObject({
  url: z
    .string()
    .refine((url) => url === 'embedded' || /^(mqtts?|wss?):\/\/[^\s]+$/.test(url), {
      message: 'must be mqtt://, mqtts://, ws://, wss:// URL or "embedded"',
    })
    .refine((url) => !/^(mqtts?|wss?):\/\/[^\s]+$/.test(url) || parsesAsUrl(url), { message: URL_MESSAGE })
    .default('mqtt://127.0.0.1:1883')
    .describe('broker URL (mqtt://, mqtts://, ws://, wss://), or "embedded" for the built-in broker'),
  embedded: z
    .strictObject({
      // An empty host listened on every address (logged as ":1883").
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(1883),
    })
    .prefault({})
    .describe('the built-in broker, used only with url: embedded'),
  username: nullableString.default(null),
  password: nullableString.default(null).describe('better ${MQTT_PASSWORD} than the password itself'),
  client_id: nullableString
    .default(null)
    .describe('default turingpi-<board.id>-bridge / turingpi-<board.id>-agent-<n>'),
  base_topic: z
    .string()
    .regex(/^[^#+\s]+$/, 'must not be empty and must not contain #, + or white space')
    .refine((t) => !t.startsWith('/') && !t.endsWith('/'), 'must not start or end with /')
    .default('turingpi')
    .describe('first level of every topic; one per board'),
  keepalive: z.number().int().min(5).max(3600).default(30).describe('seconds'),
  protocol_version: z
    .union([z.literal(4), z.literal(5)])
    .default(4)
    .describe('4 (MQTT 3.1.1) or 5 (MQTT 5)'),
  tls: tlsSchema.prefault({}).describe('certificates for mqtts:// and wss://'),
});

const homeassistantSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('publish Home Assistant MQTT discovery'),
  discovery_prefix: z
    .string()
    .regex(/^[^#+\s]+$/, 'must not contain #, + or white space')
    .default('homeassistant'),
  status_topic: z
    .string()
    .regex(/^[^#+\s]+$/, 'must not contain #, + or white space')
    .default('homeassistant/status'),
});

const gpioLineSchema = z.strictObject({
  line: z.number().int().min(0).max(1023).describe('BCM line number'),
  active_low: z.boolean().default(false).describe('true when a low level switches the node on'),
});

/** A node number (or, for simulate.nodes, a count of nodes): 1 to MAX_NODES. */
const nodeNumber = z.number().int().min(1).max(MAX_NODES);

const nodeKey = z.string().regex(/^[0-9]+$/, 'node keys are node numbers (1, 2, ...)');

const boardSchema = z.strictObject({
  type: z
    .enum(['simulator', 'tpi1', 'tpi2', 'gpio'])
    .default('simulator')
    .describe('simulator | tpi1 (I2C bus) | tpi2 (BMC over HTTPS) | gpio (one line per node)'),
  id: z
    .string()
    .regex(ID_PATTERN, 'must be 1-32 characters of a-z, 0-9, _ and -')
    .default('turingpi')
    .describe('[a-z0-9_-]{1,32}; part of every Home Assistant unique_id: do not change it later'),
  name: z.string().min(1).max(64).default('Turing Pi').describe('device name in Home Assistant'),
  poll_interval: duration(SECOND, HOUR)
    .default(5 * SECOND)
    .describe('how often the board is read'),
  i2c_bus: z.number().int().min(0).max(255).default(1).describe('tpi1: the I2C bus number (/dev/i2c-1)'),
  persist_power_state: z
    .boolean()
    .default(false)
    .describe('tpi1: false writes power to shadow SRAM (lost at power-up); true to EEPROM (survives, wears it)'),
  eeprom_writes_per_day: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(200)
    .describe('tpi1 with persist_power_state: writes beyond this per day are refused'),
  bmc: z
    .strictObject({
      url: z
        .string()
        .regex(/^https:\/\/[^\s]+$/, BMC_URL_MESSAGE)
        .refine((url) => !/^https:\/\/[^\s]+$/.test(url) || parsesAsUrl(url), { message: URL_MESSAGE })
        .refine((url) => !parsesAsUrl(url) || !hasUserInfo(url), { message: BMC_URL_LOGIN_MESSAGE })
        .default(BMC_DEFAULTS.url)
        .describe('https:// only (firmware 2.x); firmware 1.x (plain http://, no login) is not supported'),
      username: z.string().default(BMC_DEFAULTS.username),
      password: nullableString
        .default(BMC_DEFAULTS.password)
        .describe('better ${TPI_BMC_PASSWORD} than the password itself'),
      fingerprint: nullableString
        .default(null)
        .refine((value) => value === null || parseFingerprint(value) !== null, {
          message:
            'must be a SHA-256 fingerprint: 32 bytes as AA:BB:... or 64 hex digits (turingpi-mqtt bmc trust prints it)',
        })
        .describe(
          "SHA-256 of the BMC certificate (AA:BB:... or hex): pins it, whatever its dates and name; see 'bmc trust'",
        ),
      ca: nullableString
        .default(null)
        .describe("PEM file: the BMC's own self-signed certificate (pinned like fingerprint) or the CA that signed it"),
      insecure: z.boolean().default(false).describe('accept any certificate (not recommended)'),
    })
    .prefault({})
    .describe('tpi2: the BMC'),
  gpio: z.record(nodeKey, gpioLineSchema).default({}).describe('gpio: node number -> { line: 17, active_low: false }'),
  simulate: z
    .strictObject({
      model: z.enum(['tpi1', 'tpi2', 'generic']).default('tpi1').describe('the board the simulator behaves as'),
      nodes: nodeNumber.nullable().default(null).describe('generic: number of nodes (default 8)'),
      firmware: z
        .enum(['2.0.5', '2.1.0'])
        .default('2.1.0')
        .describe('tpi2: the BMC firmware release simulated (2.0.5 has no node_info and no cooling call)'),
      board: z
        .enum(['2.4', '2.5'])
        .default('2.5')
        .describe('tpi2: the board revision simulated (a 2.5 has a fan and a USB hub)'),
      state_file: nullableString.default(null).describe('keep the simulated power state in this file across restarts'),
      agents: z
        .boolean()
        .default(false)
        .describe(
          'run a simulated agent on every node with agent: true (the demo); leave false when real agents connect',
        ),
    })
    .prefault({})
    .describe('simulator: the simulated board'),
});

const nodeSchema = z.strictObject({
  name: z.string().min(1).max(64).nullable().default(null),
  protected: z.boolean().nullable().default(null).describe('default: true for tpi1 node 1, else false'),
  agent: z
    .union([z.boolean(), z.literal('auto')])
    .describe('true, false or "auto"')
    .default('auto')
    .describe(
      'auto: an agent node once its agent has been seen (remembered in state_dir); true: an agent runs here; ' +
        'false: none (its agent topics are ignored). Agent nodes shut their OS down gracefully and report telemetry',
    ),
  enabled: z.boolean().default(true).describe('false: the node is left out of MQTT, Home Assistant and "all"'),
});

const powerSchema = z.strictObject({
  off_mode: gracefulOrHard.describe('graceful: nodes with agent: true shut their OS down first; hard: cut power'),
  reboot_mode: gracefulOrHard.describe('graceful: the agent reboots the OS (power untouched); hard: power cycle'),
  reboot_off_time: duration(500, 30 * SECOND)
    .default(2 * SECOND)
    .describe('hard reboot: time off between off and on'),
  graceful_timeout: duration(5 * SECOND, HOUR)
    .default(120 * SECOND)
    .describe('wait this long for the OS to go down; on time-out nothing is cut'),
  settle_time: duration(0, 10 * MINUTE)
    .default(30 * SECOND)
    .describe('after the agent is gone, before power is cut'),
  min_off_time: duration(0, 10 * MINUTE)
    .default(3 * SECOND)
    .describe('a node switched off is not switched on sooner'),
  on_stagger: duration(0, 10 * MINUTE)
    .default(2 * SECOND)
    .describe('nodes switched on together start this far apart'),
  restore_on_start: z
    .enum(['keep', 'last'])
    .default('keep')
    .describe('keep: leave power as it is at start; last: restore the last commanded power'),
});

const nodeList = z
  .union([z.literal('all'), z.array(nodeNumber).min(1)])
  .describe('"all" (every enabled, non-protected node) or a list of node numbers, e.g. [2, 3]');

const scheduleSchema = z.strictObject({
  name: z.string().regex(ID_PATTERN, 'must be 1-32 characters of a-z, 0-9, _ and -'),
  cron: z
    .string()
    .min(1)
    .superRefine((expression, ctx) => {
      const problem = cronProblem(expression);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .describe('5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first'),
  timezone: z
    .string()
    .superRefine((zone, ctx) => {
      const problem = timeZoneProblem(zone);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .nullable()
    .default(null)
    .describe("IANA time zone, e.g. Europe/Berlin; default: the host's"),
  action: z.enum(['on', 'off', 'reboot', 'shutdown']).describe('on | off | reboot | shutdown'),
  nodes: nodeList,
  enabled: z.boolean().default(true),
  catch_up: duration(0, DAY)
    .default(15 * MINUTE)
    .describe(
      'on/off/shutdown runs missed while the bridge was down are made up within this window; 0 = never; ' +
        'never an occurrence from before the schedule (this cron, zone and action) was first armed',
    ),
});

const policiesSchema = z.strictObject({
  watchdog: z
    .strictObject({
      enabled: z.boolean().default(false),
      nodes: nodeList.default('all'),
      offline_after: duration(MINUTE, DAY).default(10 * MINUTE),
      max_per_hour: z.number().int().min(1).max(60).default(2),
    })
    .prefault({})
    .describe('hard power cycle of nodes whose agent has been offline for offline_after while powered'),
  thermal: z
    .strictObject({
      enabled: z.boolean().default(false),
      nodes: nodeList.default('all'),
      max_celsius: z.number().min(30).max(125).default(85),
      clear_celsius: z.number().min(20).max(120).default(75),
      action: z.enum(['shutdown', 'off']).default('shutdown'),
    })
    .prefault({})
    .describe('shut down or switch off nodes whose agent reports max_celsius, until they cool to clear_celsius'),
});

const argv = z.array(z.string().min(1)).min(1);

const agentSchema = z.strictObject({
  node: nodeNumber.nullable().default(null).describe('the node this agent runs on (required for the agent)'),
  interval: duration(SECOND, HOUR)
    .default(15 * SECOND)
    .describe('how often telemetry is published'),
  shutdown_command: argv
    .default(['systemctl', 'poweroff'])
    .describe('an argv, never a shell string; may be a script (drain first)'),
  reboot_command: argv.default(['systemctl', 'reboot']).describe('an argv, never a shell string'),
});

const logSchema = z.strictObject({
  level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
  format: z.enum(['pretty', 'json']).default('pretty').describe('pretty for people, json for log collectors'),
});

export const configSchema = z.strictObject({
  mqtt: mqttSchema.prefault({}).describe('the MQTT broker'),
  homeassistant: homeassistantSchema.prefault({}).describe('Home Assistant discovery'),
  board: boardSchema.prefault({}).describe('the board this bridge drives'),
  nodes: z
    .record(nodeKey, nodeSchema.prefault({}).nullable())
    .default({})
    .describe('optional per-node settings, keyed by node number'),
  power: powerSchema.prefault({}).describe('how power is switched'),
  schedules: z.array(scheduleSchema).default([]).describe('cron schedules of power actions'),
  policies: policiesSchema.prefault({}).describe('automatic actions: watchdog and thermal'),
  agent: agentSchema.prefault({}).describe('agent role only'),
  state_dir: z
    .string()
    .min(1)
    .default('./data')
    .describe('bridge state: schedule flags, occurrences run, last commanded power'),
  log: logSchema.prefault({}),
});

/** The configuration as the program uses it: defaults filled, durations in milliseconds. */
export type Config = z.output<typeof configSchema>;
/** The configuration as a user writes it. */
export type ConfigInput = z.input<typeof configSchema>;
export type ScheduleConfig = Config['schedules'][number];
export type NodeList = z.output<typeof nodeList>;
