#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ConfigError, formatProblems, type Problem } from './config/problems.js';
import type { Config } from './config/schema.js';
import { VERSION } from './app/version.js';
import { TpmError, errorMessage } from './util/errors.js';
import type { Logger } from './util/logger.js';
import { loadConfigSeparately } from './config/load-separately.js';
import { parseTimeoutOption } from './cli/timeout-option.js';
import { argumentsProblem, optionNotTaken } from './cli/options.js';
import { listenForStop, runService, type StopSignals } from './cli/run-service.js';

const HELP = `turingpi-mqtt ${VERSION}: Turing Pi cluster boards in MQTT and Home Assistant

Usage:
  turingpi-mqtt [bridge] [-c FILE]     run the bridge (default: config/turingpi-mqtt.yaml, else the demo)
  turingpi-mqtt agent -c FILE          run the node agent
  turingpi-mqtt validate -c FILE       check a config file (exit 0 valid, 2 invalid)
  turingpi-mqtt power NODE|all ACTION [-c FILE] [--json] [--timeout S]
                                       ACTION: on off force-off toggle reboot shutdown status
                                       prints each step of the action while it waits; --timeout
                                       default: long enough for the config's power sequence
                                       (default power settings: on 22 s, off/shutdown 172 s,
                                       reboot 322 s; all: 2 s more per node beyond the first);
                                       docs/configuration.md
  turingpi-mqtt bmc trust -c FILE [--timeout S]
                                       show the Turing Pi 2 BMC's certificate and the line that
                                       pins it (exit 0 shown, 1 unreachable, 2 usage); no login
  turingpi-mqtt addon                  the Home Assistant add-on's start (inside the add-on only:
                                       addon/DOCS.md)
  turingpi-mqtt --version | --help
`;

const DEFAULT_CONFIG = 'config/turingpi-mqtt.yaml';

/** Exit codes: 0 ok, 1 runtime failure or error answer, 2 usage or config error (README.md "Command line"). */
async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      tokens: true,
      options: {
        config: { type: 'string', short: 'c' },
        json: { type: 'boolean' },
        timeout: { type: 'string' },
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    return usage(argumentsProblem(error));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const [command = 'bridge', ...rest] = positionals;
  const notTaken = optionNotTaken(command, values, parsed.tokens);
  if (notTaken) return usage(notTaken);
  switch (command) {
    case 'bridge':
      if (rest.length > 0) return usage(`unexpected argument "${rest[0]}"`);
      return runBridge(values.config);
    case 'agent':
      if (rest.length > 0) return usage(`unexpected argument "${rest[0]}"`);
      if (!values.config) return usage('agent needs -c FILE (the agent config of this node)');
      return runAgent(values.config);
    case 'validate': {
      if (rest.length > 0) return usage(`unexpected argument "${rest[0]}"`);
      if (!values.config) return usage('validate needs -c FILE');
      const { runValidate } = await import('./config/validate.js');
      return runValidate(values.config, process.stdout);
    }
    case 'power':
      return runPower(rest, values.config, values.json === true, values.timeout);
    case 'bmc':
      return runBmc(rest, values.config, values.timeout);
    case 'addon': {
      // The Home Assistant add-on's start (addon/): writes the bridge's config, then runs it.
      if (rest.length > 0) return usage(`unexpected argument "${rest[0]}"`);
      const { startAddon, asAddonOption } = await import('./cli/addon.js');
      let file: string;
      try {
        file = await startAddon(process.env, (line) => process.stdout.write(`${line}\n`));
      } catch (error) {
        return reportStartError(error);
      }
      // Not named in messages: the add-on's user pins the BMC in its options (addon/DOCS.md).
      return runBridge(file, asAddonOption);
    }
    default:
      return usage(`unknown command "${command}"`);
  }
}

function usage(reason: string): number {
  process.stderr.write(`turingpi-mqtt: ${reason}\nRun turingpi-mqtt --help for usage.\n`);
  return 2;
}

/**
 * Reads the config or says why not, one line per problem, no stack trace. A service (`separately`)
 * reads it in a short-lived child process (config/load-child.ts): the YAML parser and the schema
 * leave with it instead of staying for the months the bridge or the agent runs.
 */
async function readConfig(
  path: string | undefined,
  role: 'bridge' | 'agent' | 'either',
  separately = false,
  unsetVariables: 'refuse' | 'broker' = 'refuse',
): Promise<{ config: Config; warnings: string[]; demo: boolean }> {
  if (path === undefined && role !== 'agent' && !existsSync(DEFAULT_CONFIG)) {
    const { demoConfig } = await import('./cli/demo.js');
    return { config: demoConfig(), warnings: [], demo: true };
  }
  const file = path ?? DEFAULT_CONFIG;
  // Imported with the CLI, not on demand: the child is then started before the first await, ahead
  // of the service's own modules (whose evaluation would otherwise hold the event loop first).
  const { config, warnings } = separately
    ? await loadConfigSeparately(file, role === 'agent' ? 'agent' : 'bridge', loaderScript())
    : await (await import('./config/load.js')).loadConfigFile(file, { role, unsetVariables });
  return { config, warnings, demo: false };
}

/**
 * The config child's script, beside this file and of its kind: load-child.cjs next to the
 * shipped cli.cjs (the CommonJS build, scripts/bundle.ts), load-child.js next to the compiled
 * cli.js, load-child.ts when run from the sources.
 */
function loaderScript(): string {
  const own = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`./config/load-child${own.slice(own.lastIndexOf('.'))}`, import.meta.url));
}

/**
 * Start errors that exit 2, which the systemd units do not restart on: a config error, and a host
 * that cannot run the board (no sysfs GPIO, no native addon). Restarting fixes neither (a
 * PERMISSION it may: the gpio group given to sysfs by udev after the bridge's start at boot).
 */
const RESTART_CANNOT_FIX: ReadonlySet<string> = new Set(['CONFIG', 'USAGE', 'UNSUPPORTED']);

function reportStartError(error: unknown): number {
  if (error instanceof ConfigError) {
    for (const line of formatProblems(error.problems)) process.stderr.write(`${line}\n`);
    return 2;
  }
  process.stderr.write(`turingpi-mqtt: ${errorMessage(error)}\n`);
  if (!(error instanceof TpmError) && process.env.TURINGPI_DEBUG)
    process.stderr.write(`${(error as Error).stack ?? ''}\n`);
  return error instanceof TpmError && RESTART_CANNOT_FIX.has(error.code) ? 2 : 1;
}

/**
 * Starts loading a module at once; a failure stays quiet until the module is awaited, so that a
 * refused config, found meanwhile, is what gets reported.
 */
function prefetch<T>(load: () => Promise<T>): Promise<T> {
  const loading = load();
  loading.catch(() => undefined);
  return loading;
}

/**
 * A service's start: the config child first (synchronously, inside readConfig), then, while it
 * reads, the service's own modules and the logger. The config child (a node start, the YAML parser
 * and the schema: ~0.2 s) and that loading overlap: with two cores both are done in the time of
 * one. A refused config is reported and its exit code returned; a stop asked for meanwhile
 * (SIGTERM, SIGINT) ends it with exit 0, whatever the read gave (systemd stops the child too).
 */
async function startService<M>(
  path: string | undefined,
  role: 'bridge' | 'agent',
  load: () => Promise<M>,
  restate?: (problem: Problem) => Problem,
): Promise<
  { loaded: Awaited<ReturnType<typeof readConfig>>; logger: Logger; service: M; signals: StopSignals } | number
> {
  const signals = listenForStop();
  const reading = readConfig(path, role, true);
  const service = prefetch(load);
  const loggerModule = prefetch(() => import('./util/logger.js'));
  let loaded;
  try {
    loaded = await reading;
  } catch (error) {
    if (signals.asked !== undefined) return 0;
    // A file the user did not write (the add-on's) is told in the user's own terms.
    if (error instanceof ConfigError && restate) return reportStartError(new ConfigError(error.problems.map(restate)));
    return reportStartError(error);
  }
  const { createLogger } = await loggerModule;
  const logger = createLogger({ level: loaded.config.log.level, format: loaded.config.log.format });
  for (const warning of loaded.warnings) logger.warn(warning);
  return { loaded, logger, service: await service, signals };
}

/** `asOption`: the add-on's bridge, whose file the user never wrote or sees. */
async function runBridge(path: string | undefined, asOption?: (problem: Problem) => Problem): Promise<number> {
  const started = await startService(path, 'bridge', () => import('./app/bridge.js'), asOption);
  if (typeof started === 'number') return started;
  const { loaded, logger, service, signals } = started;
  const { config, demo } = loaded;
  if (demo) logger.info(`no ${DEFAULT_CONFIG}: running the demo (simulated Turing Pi 1, embedded broker)`);
  // Absolute: the message that names it reaches MQTT and Home Assistant, far from this directory.
  const configFile = demo || asOption ? undefined : resolve(path ?? DEFAULT_CONFIG);
  const bridge = service.createBridge(config, { logger, configFile });
  const withAgents = config.board.type === 'simulator' && config.board.simulate.agents;
  const run = withAgents ? (await import('./cli/demo.js')).withDemoAgents(bridge, config, logger) : bridge;
  return runService(run, logger, 5000 + config.power.reboot_off_time, signals, reportStartError);
}

async function runAgent(path: string): Promise<number> {
  const started = await startService(path, 'agent', () => import('./app/agent.js'));
  if (typeof started === 'number') return started;
  const { loaded, logger, service, signals } = started;
  const journalDir = process.env.RUNTIME_DIRECTORY || undefined;
  // Under systemd (INVOCATION_ID) with a unit file from before RuntimeDirectory= was added to it.
  if (process.env.INVOCATION_ID && !journalDir)
    logger.warn('the unit sets no RuntimeDirectory=: a restart forgets a command under way (docs/agent.md)');
  const agent = service.createAgent(loaded.config, { logger, journalDir });
  return runService(agent, logger, 5000, signals, reportStartError);
}

async function runPower(
  args: string[],
  path: string | undefined,
  json: boolean,
  timeout: string | undefined,
): Promise<number> {
  const { parsePowerArgs, powerPrinter, requestPower } = await import('./cli/power-client.js');
  let command;
  let timeoutMs: number | undefined;
  let config: Config;
  try {
    if (args.length > 2) throw new TpmError('USAGE', `unexpected argument "${args[2]}"`);
    command = parsePowerArgs(args[0], args[1]);
    timeoutMs = parseTimeoutOption(timeout);
    // Only the broker's settings are used: the BMC's password need not be in this shell, and an
    // agent's file serves as well as the bridge's.
    config = (await readConfig(path, 'either', false, 'broker')).config;
  } catch (error) {
    if (error instanceof TpmError && error.code === 'USAGE') return usage(error.message);
    return reportStartError(error);
  }
  const { createLogger } = await import('./util/logger.js');
  const logger = createLogger({ level: 'silent' });
  try {
    // Each step of the action, one line as it happens (not with --json: that prints the answer only).
    const printer = powerPrinter((line) => process.stdout.write(`${line}\n`));
    const answer = await requestPower(
      config,
      { ...command, ...(timeoutMs === undefined ? {} : { timeoutMs }) },
      logger,
      json ? undefined : (event) => printer.event(event),
    );
    if (json) process.stdout.write(`${JSON.stringify(answer)}\n`);
    else printer.answer(answer);
    return answer.status === 'ok' ? 0 : 1;
  } catch (error) {
    // With --json a script reads stdout: a broker never reached is answered there, as a lost one is.
    if (json) process.stdout.write(`${JSON.stringify({ status: 'error', error: errorMessage(error) })}\n`);
    else process.stderr.write(`turingpi-mqtt: ${errorMessage(error)}\n`);
    return 1;
  }
}

async function runBmc(args: string[], path: string | undefined, timeout: string | undefined): Promise<number> {
  if (args[0] !== 'trust')
    return usage(
      args[0] === undefined ? 'bmc needs a subcommand: bmc trust -c FILE' : `unknown bmc subcommand "${args[0]}"`,
    );
  if (args.length > 1) return usage(`unexpected argument "${args[1]}"`);
  if (!path) return usage('bmc trust needs -c FILE (the bridge config with board.bmc)');
  let timeoutMs: number | undefined;
  try {
    timeoutMs = parseTimeoutOption(timeout);
  } catch (error) {
    return usage(errorMessage(error));
  }
  const { runBmcTrust } = await import('./cli/bmc-trust.js');
  return runBmcTrust(path, timeoutMs ?? 10_000, {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Bridges and agents end their connections in stop(); a short-lived command may leave sockets.
    setTimeout(() => process.exit(code), 200).unref();
  },
  (error: unknown) => {
    process.stderr.write(`turingpi-mqtt: ${errorMessage(error)}\n`);
    process.exit(1);
  },
);
