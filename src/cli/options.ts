/** The options each command takes (README.md "Command line"): any other is a usage error, not ignored. */
const TAKES: Readonly<Record<string, readonly string[]>> = {
  bridge: ['config'],
  agent: ['config'],
  validate: ['config'],
  power: ['config', 'json', 'timeout'],
  bmc: ['config', 'timeout'],
  addon: [],
};

const NOT_TAKEN: Readonly<Record<string, string>> = {
  json: '--json is an option of power only',
  timeout: '--timeout is an option of power and bmc trust only',
};

/**
 * Why `command` does not take one of the options given (or one is given twice), or undefined.
 * `validate -c FILE --json` printed text and `agent -c FILE --timeout 5` waited as ever: an option
 * ignored looks obeyed.
 */
export function optionNotTaken(
  command: string,
  given: Readonly<Record<string, unknown>>,
  tokens: readonly { kind: string; name?: string; rawName?: string }[] = [],
): string | undefined {
  // One value each: the last of two was taken, and `validate -c a.yaml -c b.yaml` checked b.yaml alone.
  const options = tokens.filter((token) => token.kind === 'option');
  const twice = options.find((token, index) => options.findIndex((other) => other.name === token.name) < index);
  if (twice) return `${twice.rawName ?? twice.name} is given twice`;
  const takes = TAKES[command];
  if (!takes) return undefined; // an unknown command: said as such
  const option = Object.keys(given).find((name) => given[name] !== undefined && !takes.includes(name));
  if (option === undefined) return undefined;
  return NOT_TAKEN[option] ?? `-c is not an option of ${command}${command === 'addon' ? ' (addon/DOCS.md)' : ''}`;
}

/**
 * node's parseArgs error as one line in this command's terms: it told of `--` for an unknown
 * option, and of '--config=-XYZ' over three lines for `-c` followed by another option.
 */
export function argumentsProblem(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string } | null)?.code;
  const option = /^Option '(-[\w-]+)|^Unknown option '(-[^']*)'/.exec(message);
  const name = option?.[1] ?? option?.[2];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && name) return `unknown option ${name}`;
  if (name && /argument missing|argument is ambiguous/.test(message)) {
    return `${name} needs a value: ${name.includes('timeout') ? '--timeout S' : '-c FILE'}`;
  }
  const line = message.split('\n', 1)[0] ?? message;
  return line.charAt(0).toLowerCase() + line.slice(1);
}
