/**
 * Text from outside (a topic, an action, a key) as it may appear in a log line: control
 * characters are written as escapes (`\n`, `\x1b`, `\u2028`), so a message cannot start a
 * forged line of its own or send terminal escape sequences to whoever reads the log.
 */
export function escapeControl(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001F\u007F-\u009F\u2028\u2029]/g, (char) => {
    const code = char.charCodeAt(0);
    if (char === '\n') return '\\n';
    if (char === '\r') return '\\r';
    if (char === '\t') return '\\t';
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
  });
}
