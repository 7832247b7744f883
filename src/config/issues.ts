import type { z } from 'zod';
import { configSchema } from './schema.js';

/** A path into the configuration object: map keys and list indexes. */
export type PathSegment = string | number;

/**
 * A problem before it is placed in a file: `segments` name the key; `at: 'key'` points at the
 * key itself (an unknown key) rather than at its value.
 */
export interface RawProblem {
  segments: PathSegment[];
  message: string;
  at?: 'key' | 'value';
  /** Where in the text, when no path names the place (an item whose key cannot be shown). */
  offset?: number;
}

export function dottedPath(segments: readonly PathSegment[]): string {
  return segments.map(String).join('.');
}

type AnySchema = z.ZodType;
interface Def {
  type: string;
  innerType?: AnySchema;
  shape?: Record<string, AnySchema>;
  valueType?: AnySchema;
  element?: AnySchema;
  in?: AnySchema;
  options?: AnySchema[];
}

function defOf(schema: AnySchema): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** Strips defaults, nullability and transforms: the schema that decides the value's shape. */
function unwrap(schema: AnySchema): AnySchema {
  let current = schema;
  for (;;) {
    const def = defOf(current);
    if (def.innerType && ['default', 'prefault', 'nullable', 'optional'].includes(def.type)) current = def.innerType;
    else if (def.type === 'pipe' && def.in) current = def.in;
    else return current;
  }
}

/** The part of the config schema that validates the value at `segments`, if the path exists in it. */
export function schemaAt(segments: readonly PathSegment[], root: AnySchema = configSchema): AnySchema | undefined {
  let current: AnySchema | undefined = root;
  for (const segment of segments) {
    if (current === undefined) return undefined;
    const def = defOf(unwrap(current));
    if (def.type === 'object') current = def.shape?.[String(segment)];
    else if (def.type === 'record') current = def.valueType;
    else if (def.type === 'array') current = def.element;
    else return undefined;
  }
  return current;
}

/**
 * The description nearest to the value's type: the innermost schema that has one. Outer
 * wrappers describe the key ("how often the board is read"), inner ones the kind of value
 * ("a duration: 500ms, ..."), which is what an error message needs.
 */
function descriptionAt(segments: readonly PathSegment[]): string | undefined {
  const chain: AnySchema[] = [];
  let current = schemaAt(segments);
  while (current) {
    chain.push(current);
    const def = defOf(current);
    current = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
  }
  return chain.reverse().find((schema) => schema.description)?.description;
}

function knownKeys(segments: readonly PathSegment[]): string[] {
  const schema = schemaAt(segments);
  if (!schema) return [];
  const def = defOf(unwrap(schema));
  return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

function isNullable(schema: AnySchema | undefined): boolean {
  return schema !== undefined && schema.safeParse(null).success;
}

/**
 * Edit distance, for "did you mean" on misspelt keys: insertions, deletions, substitutions, and
 * two neighbouring letters swapped as one edit ("agnet" is one edit from "agent", as people type).
 */
function distance(a: string, b: string): number {
  // d[i][j]: the distance between the first i letters of a and the first j of b.
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => d[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const same = a[i - 1] === b[j - 1];
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + (same ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

function unknownKeyMessage(key: string, known: string[]): string {
  let message = `unknown key "${key}"`;
  if (known.length === 0) return message;
  const close = known.filter((k) => distance(k, key.toLowerCase()) <= Math.max(1, Math.floor(k.length / 3)));
  if (close.length > 0) message += ` (did you mean "${close[0]}"?)`;
  return `${message}; expected one of: ${known.join(', ')}`;
}

/** "a number", "a list", ...: how a person names a JSON/YAML type. */
function typeName(type: string): string {
  switch (type) {
    case 'array':
      return 'a list';
    case 'object':
      return 'a map of keys';
    case 'int':
      return 'a whole number';
    case 'undefined':
      return 'nothing';
    case 'null':
      return 'null';
    default:
      return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
  }
}

function describeInput(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a map of keys';
  return typeName(typeof input);
}

function quote(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** Why a value matched none of a union's alternatives. */
function unionMessage(issue: z.core.$ZodIssueInvalidUnion, segments: PathSegment[]): string {
  const description = descriptionAt(segments);
  if (description) return `must be ${description}`;
  const alternatives: string[] = [];
  for (const branch of issue.errors) {
    for (const inner of branch) {
      if (inner.code === 'invalid_type') alternatives.push(typeName(inner.expected));
      else if (inner.code === 'invalid_value') alternatives.push(...inner.values.map(quote));
    }
  }
  const unique = [...new Set(alternatives)];
  if (unique.length === 0) return 'is not valid here';
  return `must be ${unique.join(' or ')}`;
}

function requiredMessage(issue: z.core.$ZodIssue, segments: PathSegment[]): string {
  const description = descriptionAt(segments);
  if (description) return description;
  if (issue.code === 'invalid_type') return typeName(issue.expected);
  if (issue.code === 'invalid_value') return `one of ${issue.values.map(quote).join(', ')}`;
  if (issue.code === 'invalid_union') return unionMessage(issue, segments).replace(/^must be /, '');
  return issue.message;
}

function numberBound(value: number | bigint, inclusive: boolean | undefined, below: boolean): string {
  if (inclusive === false) return `${below ? 'less' : 'more'} than ${value}`;
  return `${below ? 'at most' : 'at least'} ${value}`;
}

/**
 * Turns one zod issue into problems with messages that say what was expected. Values are
 * echoed only where they cannot be secrets (enum words), never for free strings.
 */
export function problemsFromIssue(issue: z.core.$ZodIssue, rootInput: unknown): RawProblem[] {
  const segments = issue.path.filter((s): s is string | number => typeof s !== 'symbol');
  const input = valueAt(rootInput, segments);
  if (
    input === undefined &&
    ['invalid_type', 'invalid_union', 'invalid_value'].includes(issue.code) &&
    segments.length > 0
  ) {
    return [{ segments, message: `is required: ${requiredMessage(issue, segments)}` }];
  }
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeys(segments);
      return issue.keys.map((key) => ({
        segments: [...segments, key],
        message: unknownKeyMessage(key, known),
        at: 'key',
      }));
    }
    case 'invalid_type': {
      if (segments.length === 0) {
        return [{ segments, message: 'the file must be a map of sections (mqtt, board, nodes, ...)' }];
      }
      const expected = typeName(issue.expected) + (isNullable(schemaAt(segments)) ? ' or null' : '');
      // A number where a number belongs is named by its value: "got a number" said nothing of .inf or 1.5.
      const numeric = typeof input === 'number' && (issue.expected === 'number' || issue.expected === 'int');
      let message = `expected ${expected}, got ${numeric ? describeNumber(input) : describeInput(input)}`;
      if (issue.expected === 'boolean' && typeof input === 'string') message += ' (write true or false)';
      if (issue.expected === 'string' && (typeof input === 'number' || typeof input === 'boolean')) {
        message += ' (put the value in quotes)';
      }
      // `shutdown_command: systemctl poweroff`: a command is its program and arguments, no shell.
      if (issue.expected === 'array' && typeof input === 'string' && input.includes(' ')) {
        const words = input.trim().split(/\s+/);
        message += ` (one item per word: [${words.slice(0, 4).join(', ')}${words.length > 4 ? ', ...' : ''}])`;
      }
      return [{ segments, message }];
    }
    case 'invalid_value':
      return [
        { segments, message: `must be one of ${issue.values.map(quote).join(', ')}, not ${describeValue(input)}` },
      ];
    case 'invalid_union': {
      // A branch whose issues all lie deeper matched the value's shape (e.g. a list of nodes
      // with one bad number): its issues say more than "must be X or Y".
      const deeper = issue.errors.find((branch) => branch.length > 0 && branch.every((inner) => inner.path.length > 0));
      if (deeper) {
        return deeper.flatMap((inner) =>
          problemsFromIssue({ ...inner, path: [...segments, ...inner.path] } as z.core.$ZodIssue, rootInput),
        );
      }
      return [{ segments, message: unionMessage(issue, segments) }];
    }
    case 'too_small':
    case 'too_big': {
      const below = issue.code === 'too_big';
      const bound = below ? (issue as z.core.$ZodIssueTooBig).maximum : (issue as z.core.$ZodIssueTooSmall).minimum;
      if (issue.origin === 'number' || issue.origin === 'int') {
        return [{ segments, message: `must be ${numberBound(bound, issue.inclusive, below)}, not ${String(input)}` }];
      }
      if (issue.origin === 'array') {
        return [
          { segments, message: `must list ${below ? 'at most' : 'at least'} ${bound} item${bound === 1 ? '' : 's'}` },
        ];
      }
      if (issue.origin === 'string') {
        if (!below && bound === 1) return [{ segments, message: 'must not be empty' }];
        return [{ segments, message: `must be ${below ? 'at most' : 'at least'} ${bound} characters long` }];
      }
      return [{ segments, message: issue.message }];
    }
    case 'invalid_key': {
      const inner = issue.issues[0];
      return [{ segments, message: inner?.message ?? 'is not a valid key here', at: 'key' }];
    }
    case 'invalid_format':
    case 'custom':
    case 'not_multiple_of':
    case 'invalid_element':
    default:
      return [{ segments, message: issue.message }];
  }
}

/** A number as YAML writes it: `.inf` and `.nan` (also what 1e400 reads as) are no numbers to a person. */
function describeNumber(input: number): string {
  if (Number.isNaN(input)) return '.nan (not a number)';
  if (!Number.isFinite(input)) return `${input < 0 ? '-' : ''}.inf (infinity)`;
  return String(input);
}

function describeValue(input: unknown): string {
  if (typeof input === 'string') return JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}...` : input);
  if (typeof input === 'number' || typeof input === 'boolean' || input === null) return String(input);
  return describeInput(input);
}

/** The value at a path in a plain object tree, or undefined. */
function valueAt(root: unknown, segments: readonly PathSegment[]): unknown {
  let current = root;
  for (const segment of segments) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[String(segment)];
  }
  return current;
}
