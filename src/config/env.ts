/** The environment a config reads `${VAR}` from; injectable so tests need not touch process.env. */
export type Environment = Readonly<Record<string, string | undefined>>;

export interface Substitution {
  /** The text with every reference replaced (missing ones by ""). */
  value: string;
  /** Whether the text held at least one reference. */
  substituted: boolean;
  /** What went wrong, one message per bad or missing reference. */
  problems: string[];
}

const REFERENCE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

/**
 * Replaces `${VAR}` and `${VAR:-default}` (SPEC section 3). The default applies when VAR is
 * unset or empty, as in the shell. `$${` writes a literal `${`. A `$` not followed by `{`
 * is left alone, so passwords with a dollar sign need no escaping.
 */
export function substituteEnv(text: string, env: Environment): Substitution {
  let value = '';
  let substituted = false;
  const problems: string[] = [];
  let index = 0;
  while (index < text.length) {
    const start = text.indexOf('$', index);
    if (start === -1) {
      value += text.slice(index);
      break;
    }
    value += text.slice(index, start);
    if (text.startsWith('$${', start)) {
      value += '${';
      index = start + 3;
      continue;
    }
    if (!text.startsWith('${', start)) {
      value += '$';
      index = start + 1;
      continue;
    }
    const end = text.indexOf('}', start + 2);
    if (end === -1) {
      problems.push(`"${text.slice(start)}" has no closing "}" (write $\${ for a literal "\${")`);
      value += text.slice(start);
      break;
    }
    substituted = true;
    const body = text.slice(start + 2, end);
    const match = REFERENCE.exec(body);
    if (!match) {
      problems.push(`"\${${body}}" is not a variable reference: use \${NAME} or \${NAME:-default}`);
    } else {
      const [, name, fallback] = match as unknown as [string, string, string | undefined];
      const fromEnv = env[name];
      if (fallback !== undefined) value += fromEnv === undefined || fromEnv === '' ? fallback : fromEnv;
      else if (fromEnv !== undefined) value += fromEnv;
      else problems.push(`environment variable ${name} is not set (write \${${name}:-default} to give a default)`);
    }
    index = end + 1;
  }
  return { value, substituted, problems };
}
