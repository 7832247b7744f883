/** The environment a config reads `${VAR}` from; injectable so tests need not touch process.env. */
export type Environment = Readonly<Record<string, string | undefined>>;

export interface Substitution {
  /** The text with every reference replaced (missing ones by ""). */
  value: string;
  /** Whether the text held at least one reference. */
  substituted: boolean;
  /** What is wrong with the text itself, one message per bad reference. Never quotes the text. */
  problems: string[];
  /** Variables referenced without a usable value or default (for a secret: unset or empty). */
  unset: string[];
}

export interface SubstituteOptions {
  /**
   * The text is a secret (a password): an empty variable counts as unset, and a default is a
   * problem, so that a missing password can never turn into a login with another one.
   */
  secret?: boolean;
}

const REFERENCE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

/**
 * Replaces `${VAR}` and `${VAR:-default}` (docs/configuration.md, "Secrets and the environment").
 * The default applies when VAR is unset or empty, as in the shell. `$${` writes a literal `${`.
 * A `$` not followed by `{` is left alone, so passwords with a dollar sign need no escaping.
 * The messages name the place by character position, never by the text around it: the text
 * may be a password or a URL with credentials.
 */
export function substituteEnv(text: string, env: Environment, options: SubstituteOptions = {}): Substitution {
  let value = '';
  let substituted = false;
  const problems: string[] = [];
  const unset: string[] = [];
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
      problems.push(`the "\${" at character ${start + 1} has no closing "}" (write $\${ for a literal "\${")`);
      value += text.slice(start);
      break;
    }
    substituted = true;
    const match = REFERENCE.exec(text.slice(start + 2, end));
    if (!match) {
      problems.push(
        `the "\${...}" at character ${start + 1} is not a variable reference: use \${NAME} or \${NAME:-default}`,
      );
    } else {
      const [, name, fallback] = match as unknown as [string, string, string | undefined];
      const fromEnv = env[name];
      const present = fromEnv !== undefined && !(options.secret === true && fromEnv === '');
      if (fallback !== undefined && options.secret === true) {
        problems.push(
          `\${${name}:-...} gives a password a default: a missing ${name} would log in with it; write \${${name}}`,
        );
      } else if (fallback !== undefined) {
        value += fromEnv === undefined || fromEnv === '' ? fallback : fromEnv;
      } else if (present) {
        value += fromEnv;
      } else {
        unset.push(name);
      }
    }
    index = end + 1;
  }
  return { value, substituted, problems, unset };
}
