import { z } from 'zod';
import { formatDuration, parseDuration } from './duration.js';

/**
 * The one source of the configuration's types, defaults, validation and config/schema.json
 * (ARCHITECTURE habit 6). Keys stay snake_case as users write them; durations become
 * milliseconds. Every object is strict: unknown keys are errors (SPEC section 3).
 */

/** A duration between min and max, written `500ms`, `5s`, `10m`, `2h` or as milliseconds. */
export function duration(min: number, max: number) {
  return z
    .union([z.number(), z.string()])
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration (use 500ms, 5s, 10m, 2h or milliseconds)` });
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
export const ID_PATTERN = /^[a-z0-9_-]{1,32}$/;

const tlsSchema = z.strictObject({
  ca: nullableString.default(null).describe('path of a CA certificate file (PEM)'),
  cert: nullableString.default(null).describe('path of a client certificate file (PEM)'),
  key: nullableString.default(null).describe('path of the client key file (PEM)'),
  reject_unauthorized: z.boolean().default(true),
  server_name: nullableString.default(null),
});

const mqttSchema = z.strictObject({
  url: z
    .string()
    .refine((url) => url === 'embedded' || /^(mqtts?|wss?):\/\/[^\s]+$/.test(url), {
      message: 'must be mqtt://, mqtts://, ws://, wss:// URL or "embedded"',
    })
    .default('mqtt://127.0.0.1:1883'),
  embedded: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(1883),
    })
    .prefault({}),
  username: nullableString.default(null),
  password: nullableString.default(null),
  client_id: nullableString.default(null),
  base_topic: z
    .string()
    .regex(/^[^#+\s]+$/, 'must not be empty and must not contain #, + or white space')
    .refine((t) => !t.startsWith('/') && !t.endsWith('/'), 'must not start or end with /')
    .default('turingpi'),
  keepalive: z.number().int().min(5).max(3600).default(30),
  protocol_version: z.union([z.literal(4), z.literal(5)]).default(4),
  tls: tlsSchema.prefault({}),
});

const homeassistantSchema = z.strictObject({
  enabled: z.boolean().default(true),
  discovery_prefix: z.string().regex(/^[^#+\s]+$/, 'must not contain #, + or white space').default('homeassistant'),
  status_topic: z.string().regex(/^[^#+\s]+$/, 'must not contain #, + or white space').default('homeassistant/status'),
});

const gpioLineSchema = z.strictObject({
  line: z.number().int().min(0).max(1023).describe('BCM line number'),
  active_low: z.boolean().default(false),
});

const nodeKey = z.string().regex(/^[0-9]+$/, 'node keys are node numbers (1, 2, ...)');

const boardSchema = z.strictObject({
  type: z.enum(['simulator', 'tpi1', 'tpi2', 'gpio']).default('simulator'),
  id: z.string().regex(ID_PATTERN, 'must be 1-32 characters of a-z, 0-9, _ and -').default('turingpi'),
  name: z.string().min(1).max(64).default('Turing Pi'),
  poll_interval: duration(SECOND, HOUR).default(5 * SECOND),
  i2c_bus: z.number().int().min(0).max(255).default(1),
  persist_power_state: z.boolean().default(false),
  eeprom_writes_per_day: z.number().int().min(1).max(10_000).default(200),
  bmc: z
    .strictObject({
      url: z.string().regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL').default('https://turingpi.local'),
      username: z.string().default('root'),
      password: nullableString.default(null),
      ca: nullableString.default(null).describe('path of the BMC certificate or its CA (PEM)'),
      insecure: z.boolean().default(false).describe('accept any certificate (not recommended)'),
    })
    .prefault({}),
  gpio: z.record(nodeKey, gpioLineSchema).default({}),
  simulate: z
    .strictObject({
      model: z.enum(['tpi1', 'tpi2', 'generic']).default('tpi1'),
      nodes: z.number().int().min(1).max(1024).nullable().default(null),
      state_file: nullableString.default(null),
    })
    .prefault({}),
});

const nodeSchema = z.strictObject({
  name: z.string().min(1).max(64).nullable().default(null),
  protected: z.boolean().nullable().default(null).describe('default: true for tpi1 node 1, else false'),
  agent: z.boolean().default(false),
  enabled: z.boolean().default(true),
});

const powerSchema = z.strictObject({
  off_mode: z.enum(['graceful', 'hard']).default('graceful'),
  reboot_mode: z.enum(['graceful', 'hard']).default('graceful'),
  reboot_off_time: duration(500, 30 * SECOND).default(2 * SECOND),
  graceful_timeout: duration(5 * SECOND, HOUR).default(120 * SECOND),
  settle_time: duration(0, 10 * MINUTE).default(30 * SECOND),
  min_off_time: duration(0, 10 * MINUTE).default(3 * SECOND),
  on_stagger: duration(0, 10 * MINUTE).default(2 * SECOND),
  restore_on_start: z.enum(['keep', 'last']).default('keep'),
});

const nodeList = z.union([z.literal('all'), z.array(z.number().int().min(1).max(1024)).min(1)]);

const scheduleSchema = z.strictObject({
  name: z.string().regex(ID_PATTERN, 'must be 1-32 characters of a-z, 0-9, _ and -'),
  cron: z.string().min(1),
  timezone: z.string().nullable().default(null).describe("IANA time zone; default: the host's"),
  action: z.enum(['on', 'off', 'reboot', 'shutdown']),
  nodes: nodeList,
  enabled: z.boolean().default(true),
  catch_up: duration(0, DAY).default(15 * MINUTE),
});

const policiesSchema = z.strictObject({
  watchdog: z
    .strictObject({
      enabled: z.boolean().default(false),
      nodes: nodeList.default('all'),
      offline_after: duration(MINUTE, DAY).default(10 * MINUTE),
      max_per_hour: z.number().int().min(1).max(60).default(2),
    })
    .prefault({}),
  thermal: z
    .strictObject({
      enabled: z.boolean().default(false),
      nodes: nodeList.default('all'),
      max_celsius: z.number().min(30).max(125).default(85),
      clear_celsius: z.number().min(20).max(120).default(75),
      action: z.enum(['shutdown', 'off']).default('shutdown'),
    })
    .prefault({}),
});

const argv = z.array(z.string().min(1)).min(1);

const agentSchema = z.strictObject({
  node: z.number().int().min(1).max(1024).nullable().default(null),
  interval: duration(SECOND, HOUR).default(15 * SECOND),
  shutdown_command: argv.default(['systemctl', 'poweroff']),
  reboot_command: argv.default(['systemctl', 'reboot']),
});

const logSchema = z.strictObject({
  level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
  format: z.enum(['pretty', 'json']).default('pretty'),
});

export const configSchema = z.strictObject({
  mqtt: mqttSchema.prefault({}),
  homeassistant: homeassistantSchema.prefault({}),
  board: boardSchema.prefault({}),
  nodes: z.record(nodeKey, nodeSchema.prefault({}).nullable()).default({}),
  power: powerSchema.prefault({}),
  schedules: z.array(scheduleSchema).default([]),
  policies: policiesSchema.prefault({}),
  agent: agentSchema.prefault({}),
  state_dir: z.string().min(1).default('./data'),
  log: logSchema.prefault({}),
});

/** The configuration as the program uses it: defaults filled, durations in milliseconds. */
export type Config = z.output<typeof configSchema>;
/** The configuration as a user writes it. */
export type ConfigInput = z.input<typeof configSchema>;
export type ScheduleConfig = Config['schedules'][number];
export type NodeList = z.output<typeof nodeList>;
