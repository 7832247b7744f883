import { CST, isAlias, isMap, isNode, isScalar, isSeq, Parser, visit, type Document } from 'yaml';
import type { PathSegment, RawProblem } from './issues.js';

const QUOTED = { '"': 'double-quoted-scalar', "'": 'single-quoted-scalar' } as const;
const OPENER = { '}': '{', ']': '[' } as const;

/**
 * Where to show a person a YAML syntax error. The parser reports an unclosed quote where the file
 * ends, and an unclosed `{` or `[` where the next line begins: the place to fix is where it was
 * opened. yaml's own tokens (its CST) tell strings, comments and brackets apart, so a `{` or a quote
 * inside a string or a comment is never taken for the opener. Other errors keep the parser's place.
 */
export function openerOf(text: string, message: string, offset: number): number {
  const closer = /end with an? ([}\]])/.exec(message)?.[1] as keyof typeof OPENER | undefined;
  const quote = /^Missing closing (["'])quote/.exec(message)?.[1] as keyof typeof QUOTED | undefined;
  if (!closer && !quote) return offset;
  let opened = -1;
  for (const token of valueTokens(text)) {
    if (token.offset >= offset || token.offset <= opened) continue;
    const unclosedFlow =
      closer !== undefined &&
      token.type === 'flow-collection' &&
      token.start.source === OPENER[closer] &&
      !token.end.some((end) => end.source === closer);
    // An unclosed quoted string runs on to where the parser gave up.
    const unclosedQuote =
      quote !== undefined && token.type === QUOTED[quote] && token.offset + token.source.length >= offset;
    if (unclosedFlow || unclosedQuote) opened = token.offset;
  }
  return opened >= 0 ? opened : offset;
}

/** Every key and value token of the file, nested ones included. */
function valueTokens(text: string): CST.Token[] {
  const tokens: CST.Token[] = [];
  for (const document of new Parser().parse(text)) {
    if (document.type !== 'document') continue;
    CST.visit(document, ({ key, value }) => {
      if (key) tokens.push(key);
      if (value) tokens.push(value);
    });
  }
  return tokens;
}

/**
 * yaml's message for a person, without the text it quotes: a password that begins with `*` or `!`
 * is YAML syntax (an alias, a tag) unless quoted, and "Unresolved alias ...: Hunter2" showed it.
 */
export function yamlMessage(message: string): string {
  if (message.startsWith('Source contains multiple documents'))
    return 'a second document (---): a config file is one YAML document';
  if (message.startsWith('Unresolved alias'))
    return 'an alias (*name) with no anchor (&name) before it: quote the value if it begins with * itself';
  if (message.startsWith('Unresolved tag'))
    return 'an unknown tag (!name), ignored: the value is read without it; quote the value if it begins with ! itself';
  if (message.startsWith('Invalid escape sequence'))
    return 'Invalid escape sequence in a "double-quoted" value: write \\\\ for \\, or use single quotes';
  // The messages below end with the text they found (`password: |Hunter2`, `password: }Hunter2`).
  if (message.startsWith('Block scalar header'))
    return 'a value that begins with | or > is a block of lines (| or > ends its line): quote the value';
  if (/^(Could not resolve tag|Not a valid tag|Verbatim tags|The .* tag has no suffix)/s.test(message))
    return 'a tag (!name, !a!name) that cannot be read: quote the value if it begins with ! itself';
  if (message.startsWith('Unknown directive'))
    return 'an unknown directive (a line that begins with %): quote a value that begins with % itself';
  for (const prefix of [
    'Not a YAML token',
    'Unresolved plain scalar',
    'Ordered maps must not include duplicate keys',
  ]) {
    if (message.startsWith(prefix)) return prefix;
  }
  // "Unexpected scalar token in YAML stream: "Hunter2"": the composer adds the token's text.
  return message.replace(/^(Unexpected [\w-]+ token in YAML stream): [\s\S]*$/, '$1');
}

/** The offset of the first alias whose anchor is not set before it, if any. */
export function unresolvedAlias(doc: Document.Parsed): number | undefined {
  let offset: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      if (!isAlias(node) || node.resolve(doc) !== undefined) return undefined;
      offset = node.range?.[0];
      return visit.BREAK;
    },
  });
  return offset;
}

/**
 * An unknown key that is not one, said without its text: in `{ password:Hunter2 }` or
 * `{ password: abc,Hunter2 }` yaml reads a key with no value (`password:Hunter2`, `Hunter2`), and a
 * key that is a list or a map (`{ [Hunter2]: 1 }`) is text too. Either is a piece of a value,
 * maybe of a password: the problem names the map that holds it, and points at the item.
 */
export function unshownKey(doc: Document.Parsed, raw: RawProblem): RawProblem {
  if (raw.at !== 'key' || !raw.message.startsWith('unknown key')) return raw;
  const parent = raw.segments.slice(0, -1);
  const node = parent.length === 0 ? doc.contents : doc.getIn(parent, true);
  if (!isMap(node)) return raw;
  const name = String(raw.segments[raw.segments.length - 1]);
  const pair = node.items.find((p) => keyText(p.key) === name) ?? node.items.find((p) => !isScalar(p.key));
  if (!pair) return raw;
  const offset = rangeStart(pair.key);
  if (!isScalar(pair.key)) {
    const message = 'a key that is a list or a map: an item of [ ] or { } needs a plain key; quote the value';
    return { segments: parent, message, offset };
  }
  if (pair.value !== null) return raw;
  const message =
    'an item with no value (no ": " after it): a "," or a ":" with no space after it splits an unquoted ' +
    'value in { }; quote the value';
  return { segments: parent, message, offset };
}

export function keyText(key: unknown): string | undefined {
  return isScalar(key) ? String(key.value) : undefined;
}

/**
 * The offset in the text that a path names: the value (or with `at: 'key'`, the key); for a
 * path that is not in the file (a missing key), the nearest enclosing map or list, or no place
 * for a missing top-level key.
 */
export function locate(
  doc: Document.Parsed,
  segments: readonly PathSegment[],
  at: 'key' | 'value',
): number | undefined {
  let node: unknown = doc.contents;
  let offset = rangeStart(node);
  for (let index = 0; index < segments.length; index++) {
    if (isAlias(node)) node = node.resolve(doc);
    const segment = segments[index] as PathSegment;
    const last = index === segments.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p.key) === String(segment));
      // A missing top-level key belongs to no line: the file's first key would point elsewhere.
      if (!pair) return index === 0 ? undefined : offset;
      const keyStart = rangeStart(pair.key);
      const valueStart = hasSource(pair.value) ? rangeStart(pair.value) : undefined;
      if (last) return at === 'key' ? (keyStart ?? offset) : (valueStart ?? keyStart ?? offset);
      node = pair.value;
      offset = valueStart ?? keyStart ?? offset;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined) return offset;
      node = item;
      offset = rangeStart(item) ?? offset;
    } else {
      return offset;
    }
  }
  return offset;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range?.[0];
}

/** An empty value (`key:` with nothing after it) has no text to point at; its key does. */
function hasSource(node: unknown): boolean {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range !== undefined && range[1] > range[0];
}

/**
 * The offsets of anchors (`&name`) that no alias uses, whose message leaves the name out: a
 * password that begins with `&` and is not quoted is an anchor, and the value is what follows it
 * (nothing, for `password: &Hunter2`), which no message said.
 */
export function unusedAnchors(doc: Document.Parsed, text: string): [string, number | undefined][] {
  const anchored: { anchor: string; offset: number | undefined }[] = [];
  const used = new Set<string>();
  visit(doc, (_key, node) => {
    if (isAlias(node)) used.add(node.source);
    // The node begins after its anchor (`&name` is not part of its range): the anchor is the place.
    else if (isNode(node) && node.anchor) {
      const offset = text.lastIndexOf(`&${node.anchor}`, node.range?.[0]);
      anchored.push({ anchor: node.anchor, offset: offset >= 0 ? offset : node.range?.[0] });
    }
  });
  const message = 'an anchor (&name) that no alias (*name) uses: quote the value if it begins with & itself';
  return anchored.filter(({ anchor }) => !used.has(anchor)).map(({ offset }) => [message, offset]);
}

/** The path of the key that begins at `offset` (a key written twice: yaml names no key), or undefined. */
export function keyPathAt(doc: Document.Parsed, offset: number): PathSegment[] | undefined {
  const search = (node: unknown, segments: PathSegment[]): PathSegment[] | undefined => {
    if (isSeq(node)) {
      for (const [index, item] of node.items.entries()) {
        const found = search(item, [...segments, index]);
        if (found) return found;
      }
    } else if (isMap(node)) {
      for (const pair of node.items) {
        const key = keyText(pair.key);
        if (key === undefined) continue;
        if (rangeStart(pair.key) === offset) return [...segments, key];
        const found = search(pair.value, [...segments, key]);
        if (found) return found;
      }
    }
    return undefined;
  };
  return search(doc.contents, []);
}
