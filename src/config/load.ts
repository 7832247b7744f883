import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { isInlinePem } from '../util/fingerprint.js';
import { urlPassword } from '../util/redact.js';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Scalar } from 'yaml';
import { isBmcLogin, roleProblems, unsetLogin, type UnsetLogin } from './checks.js';
import { substituteEnv, type Environment } from './env.js';
import { dottedPath, schemaAt, type PathSegment, type RawProblem } from './issues.js';
import { validateConfigObject } from './parse.js';
import { ConfigError, formatProblem, sortProblems, type Problem } from './problems.js';
import {
  keyPathAt,
  keyText,
  locate,
  openerOf,
  unresolvedAlias,
  unshownKey,
  unusedAnchors,
  yamlMessage,
} from './syntax-place.js';
import type { Config } from './schema.js';

export interface LoadOptions {
  /** Where `${VAR}` is looked up; default process.env. */
  env?: Environment;
  /**
   * 'agent' also requires what the agent role needs (agent.node), located in the file; 'either'
   * (validate, which is not told whose file it is) requires it of a file that writes an `agent`
   * section, which only the agent reads; 'bridge' refuses an agent's file (an `agent` section and
   * no `board`). None: no check of the role.
   */
  role?: 'bridge' | 'agent' | 'either';
  /**
   * An unset `${VAR}`: 'refuse' (the default: a start) makes it a problem; 'warn' (validate, which
   * may run where the service's environment is not) makes it a warning and checks the rest;
   * 'broker' (the `power` command, which only talks to the broker) refuses it under `mqtt` alone,
   * since the BMC's password lives in the bridge's environment, not in the user's shell.
   */
  unsetVariables?: 'refuse' | 'warn' | 'broker';
}

const EMPTY_FILE =
  'holds no settings: every key takes its default, which is a simulated board (board.type: simulator), not hardware';

const DUPLICATE_KEY = 'written twice in its map (a key is given once)';

function isEmptyMap(contents: unknown): boolean {
  return isMap(contents) && contents.items.length === 0;
}

/** Keys whose value is a secret: no `${VAR:-default}`, and an empty variable counts as unset. */
const SECRET_PATHS = new Set(['mqtt.password', 'board.bmc.password']);

/** Why a config file could not be read, in words: "EISDIR: illegal operation on a directory, read" was told. */
const READ_FAILURES: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EISDIR: 'it is a directory',
  EACCES: 'permission denied',
};

export interface LoadedConfig {
  config: Config;
  /** Formatted lines, e.g. `FILE:LINE:COL path: message`: worth telling, not fatal. */
  warnings: string[];
}

export interface TextCheck {
  /** Present when there are no problems. */
  config: Config | undefined;
  problems: Problem[];
  warnings: string[];
  /** Dotted paths of scalars that were exactly one `${VAR}` without a default: their value lives outside the file. */
  fromEnvironment: Set<string>;
}

type YamlDocument = Document.Parsed;

/**
 * Validates YAML text as a config file named `file`, without throwing: YAML syntax, `${VAR}`
 * substitution, the schema and the checks across keys, each problem placed at its line:col.
 */
export function checkConfigText(source: string, file: string, options: LoadOptions = {}): TextCheck {
  // A byte order mark is no column to a person: yaml counted it, so line 1 was told one to the right.
  const text = source.replace(/^\uFEFF/, '');
  const env = options.env ?? process.env;
  const lineCounter = new LineCounter();
  // merge: true lets users share settings with anchors and `<<:` (e.g. across schedules).
  const doc = parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    merge: true,
    uniqueKeys: true,
    // yaml prints some warnings itself (a key that is a list: "...: [ Hunter2 ]"); ours say them without the text.
    logLevel: 'error',
  });
  const at = (offset: number | undefined): Pick<Problem, 'line' | 'col'> => {
    if (offset === undefined) return {};
    const { line, col } = lineCounter.linePos(offset);
    return { line, col };
  };
  const fromEnvironment = new Set<string>();
  const result = (problems: Problem[], warnings: string[], config?: Config): TextCheck => ({
    config: problems.length === 0 ? config : undefined,
    problems: sortProblems(problems),
    warnings,
    fromEnvironment,
  });

  const yamlWarnings = [
    ...doc.warnings.map((w): [string, number] => [yamlMessage(w.message), w.pos[0]]),
    ...(doc.errors.length === 0 ? unusedAnchors(doc, text) : []),
  ].map(([message, offset]) => formatProblem({ file, path: '', message, ...at(offset) }));
  // An empty file (or one of comments only) is valid, but every default then applies: a simulated board.
  if (doc.errors.length === 0 && (doc.contents === null || isEmptyMap(doc.contents))) {
    yamlWarnings.push(formatProblem({ file, path: '', message: EMPTY_FILE }));
  }
  if (doc.errors.length > 0) {
    const lines = text.split('\n');
    const problems = doc.errors.map((e) => {
      const position = at(openerOf(text, e.message, e.pos[0]));
      const twice = e.code === 'DUPLICATE_KEY' ? keyPathAt(doc, e.pos[0]) : undefined;
      if (twice) return { file, path: dottedPath(twice), message: DUPLICATE_KEY, ...position };
      // In [ ] and { }, "{" is YAML syntax: an unquoted ${VAR} there breaks the parse.
      const hint = lines[(position.line ?? 0) - 1]?.includes('${') ? ' (in [ ] or { }, quote a ${VAR}: "${VAR}")' : '';
      return { file, path: '', message: `YAML syntax error: ${yamlMessage(e.message)}${hint}`, ...position };
    });
    return result(problems, yamlWarnings);
  }

  const place = (raw: RawProblem): Problem => ({
    file,
    path: dottedPath(raw.segments),
    message: raw.message,
    ...at(raw.offset ?? locate(doc, raw.segments, raw.at ?? 'value')),
  });

  const substitution = substituteScalars(doc, env, fromEnvironment, options.unsetVariables ?? 'refuse');
  const envProblems = substitution.problems.map(place);
  const unsetWarnings = substitution.unset.map((raw) => formatProblem(place(raw)));
  // Only a Turing Pi 2 reaches a BMC: on any other board an unset login variable is unused.
  // Until the file is validated, the type as written (none is the schema's default, simulator).
  const writtenType = doc.hasIn(['board', 'type']) ? doc.getIn(['board', 'type']) : 'simulator';
  const login = (type: unknown) => unsetLogin(substitution.login, type !== 'tpi2');
  if (envProblems.length > 0) return result([...envProblems, ...login(writtenType).problems.map(place)], yamlWarnings);

  let object: unknown;
  try {
    object = doc.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    const message = `cannot read the YAML: ${yamlMessage(error instanceof Error ? error.message : String(error))}`;
    return result([{ file, path: '', message, ...at(unresolvedAlias(doc)) }], yamlWarnings);
  }
  const validation = validateConfigObject(object);
  const problems = validation.problems.map((raw) => place(unshownKey(doc, raw)));
  const written = (key: string): boolean => isMap(doc.contents) && doc.contents.has(key);
  const roles = roleProblems(options.role, { agent: written('agent'), board: written('board') }, validation.config);
  problems.push(...roles.map(place));
  const { problems: loginProblems, warnings: loginWarnings } = login(validation.config?.board.type ?? writtenType);
  problems.push(...loginProblems.map(place));
  // A key whose variable is unset has its own warning; what the schema says of its absence is noise.
  const unsetPaths = new Set(
    [...substitution.unset, ...substitution.login.map((u) => u.usual)].map((raw) => dottedPath(raw.segments)),
  );
  const schemaWarnings = validation.warnings.filter((w) => !unsetPaths.has(dottedPath(w.segments)));
  const warnings = [
    ...yamlWarnings,
    ...unsetWarnings,
    ...loginWarnings.map((w) => formatProblem(place(w))),
    ...schemaWarnings.map((w) => formatProblem(place(w))),
  ];
  return result(problems, warnings, validation.config);
}

/** Reads, substitutes and validates a config file; throws a ConfigError listing every problem. */
export async function loadConfigFile(path: string, options: LoadOptions = {}): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    const reason = READ_FAILURES[code] ?? (error as Error).message;
    throw new ConfigError([{ file: path, path: '', message: `cannot read the config file: ${reason}` }]);
  }
  const checked = checkConfigText(text, path, options);
  if (!checked.config) throw new ConfigError(checked.problems);
  const warnings = [...checked.warnings];
  if (await exposesPassword(path, text, checked.config, checked.fromEnvironment)) {
    warnings.push(`${path} is readable by other users and holds a password: chmod 600 ${path}`);
  }
  for (const [key, message] of await unreadableFiles(checked.config))
    warnings.push(formatProblem({ file: path, path: key, message }));
  return { config: checked.config, warnings };
}

/**
 * The files the config names (certificates and keys) that cannot be read here, each with its key:
 * `validate` said "valid" for a board.bmc.ca that did not exist, and the start then failed.
 * Warnings, not problems: validate may run as a user who is not the service's.
 */
async function unreadableFiles(config: Config): Promise<[string, string][]> {
  const { tls } = config.mqtt;
  const { bmc } = config.board;
  const files: [string, string | null][] = [
    ['mqtt.tls.ca', tls.ca],
    ['mqtt.tls.cert', tls.cert],
    ['mqtt.tls.key', tls.key],
  ];
  if (config.board.type === 'tpi2' && bmc.ca !== null && !isInlinePem(bmc.ca)) files.push(['board.bmc.ca', bmc.ca]);
  const unreadable: [string, string][] = [];
  for (const [key, file] of files) {
    if (file === null) continue;
    try {
      await access(file, constants.R_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code);
      unreadable.push([key, `cannot read ${file} (${reason}) here: the start fails unless the service can read it`]);
    }
  }
  return unreadable;
}

/** loadConfigFile without the warnings (the library's loadConfig, docs/library.md). */
export async function loadConfig(path: string, options: LoadOptions = {}): Promise<Config> {
  return (await loadConfigFile(path, options)).config;
}

/**
 * A password written in the file (not just a `${VAR}` reference) while group or others may read
 * it: in mqtt.password, board.bmc.password, or the user information of mqtt.url (one that the
 * file's text spells out, rather than one substituted into the URL; board.bmc.url holds none).
 */
async function exposesPassword(
  path: string,
  text: string,
  config: Config,
  fromEnvironment: Set<string>,
): Promise<boolean> {
  if (process.platform === 'win32') return false; // no POSIX modes to speak of
  const password = urlPassword(config.mqtt.url);
  const inUrl = password !== undefined && (text.includes(password) || text.includes(encodeURIComponent(password)));
  // An empty password is no secret to expose.
  const held =
    inUrl ||
    [
      ['mqtt.password', config.mqtt.password],
      ['board.bmc.password', config.board.bmc.password],
    ].some(([key, value]) => value !== null && value !== '' && !fromEnvironment.has(key as string));
  if (!held) return false;
  const { mode } = await stat(path);
  return (mode & 0o044) !== 0;
}

/**
 * Replaces `${VAR}` in every string value (not in keys), in place in the document so that
 * positions stay known. A value that was a reference and does not fit the schema as a string
 * is read as the number, boolean or null it spells: `port: ${MQTT_PORT:-1883}` works.
 * An unset variable is a problem, or with `unset: 'warn'` one of the returned `unset` (a value
 * that was only that reference is then left out, as if the key were not written). One in the
 * BMC's login is returned in `login`: only a Turing Pi 2 uses it (unsetLogin).
 */
function substituteScalars(
  doc: YamlDocument,
  env: Environment,
  fromEnvironment: Set<string>,
  unsetVariables: 'refuse' | 'warn' | 'broker',
): { problems: RawProblem[]; unset: RawProblem[]; login: UnsetLogin[] } {
  const problems: RawProblem[] = [];
  const unset: RawProblem[] = [];
  const login: UnsetLogin[] = [];
  const visitScalar = (node: Scalar, segments: PathSegment[]) => {
    if (typeof node.value !== 'string' || !node.value.includes('$')) return;
    const original = node.value;
    const secret = SECRET_PATHS.has(dottedPath(segments));
    const substitution = substituteEnv(original, env, { secret });
    for (const message of substitution.problems) problems.push({ segments, message });
    const onlyReference = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(original);
    for (const name of substitution.unset) {
      const what = `environment variable ${name} is not set${secret ? ' (or empty)' : ''}`;
      const needed = unsetVariables === 'refuse' || (unsetVariables === 'broker' && segments[0] === 'mqtt');
      let usual: RawProblem;
      if (!needed) {
        usual = { segments, message: `${what} here: set it where the service runs, or its start is refused` };
      } else {
        const hint = secret ? 'a password gets no default' : `or write \${${name}:-default} to give a default`;
        // The power command is no service: it needs the variable in the shell that runs it.
        const where = unsetVariables === 'broker' ? 'in the shell that runs this command' : 'where the service runs';
        usual = { segments, message: `${what}: set it ${where} (docs/configuration.md; ${hint})` };
      }
      const unused = { segments, message: `${what}: unused, as only a Turing Pi 2 (board.type: tpi2) reaches a BMC` };
      if (isBmcLogin(segments)) login.push({ usual, needed, unused });
      else (needed ? problems : unset).push(usual);
    }
    if (!substitution.substituted && substitution.value === original) return;
    node.value = substitution.unset.length > 0 && onlyReference ? undefined : coerce(substitution.value, segments);
    if (onlyReference) fromEnvironment.add(dottedPath(segments));
  };
  const walk = (node: unknown, segments: PathSegment[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = keyText(pair.key);
        if (key !== undefined) walk(pair.value, [...segments, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => walk(item, [...segments, index]));
    } else if (isScalar(node)) {
      visitScalar(node, segments);
    }
  };
  walk(doc.contents, []);
  return { problems, unset, login };
}

function coerce(text: string, segments: PathSegment[]): unknown {
  const schema = schemaAt(segments);
  if (!schema || schema.safeParse(text).success) return text;
  const trimmed = text.trim();
  const candidates: unknown[] = [];
  if (/^-?\d+(\.\d+)?$/.test(trimmed)) candidates.push(Number(trimmed));
  if (trimmed === 'true' || trimmed === 'false') candidates.push(trimmed === 'true');
  if (trimmed === '' || trimmed === 'null' || trimmed === '~') candidates.push(null);
  return candidates.find((candidate) => schema.safeParse(candidate).success) ?? text;
}
