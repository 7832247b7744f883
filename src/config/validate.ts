import { ConfigError, formatProblems } from './problems.js';
import { loadConfigFile, type LoadOptions } from './load.js';

/** Where runValidate writes: stdout-like, one call per line. */
export interface LineWriter {
  write(text: string): unknown;
}

/**
 * `turingpi-mqtt validate -c FILE` (docs/configuration.md, "Command line"): prints "FILE: valid" and any warnings and
 * returns 0, or prints every problem as `FILE:LINE:COL path.to.key: message` and returns 2.
 */
export async function runValidate(path: string, out: LineWriter, options: LoadOptions = {}): Promise<0 | 2> {
  try {
    // An unset ${VAR} is only a warning here: it may be set where the service runs.
    // A file with an `agent` section is an agent's: it must say its node, as the agent's start does.
    const { warnings } = await loadConfigFile(path, { unsetVariables: 'warn', role: 'either', ...options });
    out.write(`${path}: valid\n`);
    for (const warning of warnings) out.write(`warning: ${warning}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const line of formatProblems(error.problems)) out.write(`${line}\n`);
    return 2;
  }
}
