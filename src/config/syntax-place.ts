import { CST, isAlias, Parser, visit, type Document } from 'yaml';

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
 * yaml's message without the text it quotes: a password that begins with `*` or `!` is YAML
 * syntax (an alias, a tag) unless quoted, and "Unresolved alias ...: Hunter2" showed it.
 */
export function withoutSource(message: string): string {
  if (message.startsWith('Unresolved alias'))
    return 'an alias (*name) with no anchor (&name) before it: quote the value if it begins with * itself';
  if (message.startsWith('Unresolved tag'))
    return 'an unknown tag (!name), ignored: the value is read without it; quote the value if it begins with ! itself';
  if (message.startsWith('Invalid escape sequence'))
    return 'Invalid escape sequence in a "double-quoted" value: write \\\\ for \\, or use single quotes';
  return message;
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
