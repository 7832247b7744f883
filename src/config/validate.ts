import { ConfigError, formatProblems } from './problems.js';
import { loadConfigFile, type LoadOptions } from './load.js';

/** Where runValidate writes: stdout-like, one call per line. */
export interface LineWriter {
  write(text: string): unknown;
}

/**
 * `turingpi-mqtt validate -c FILE` (SPEC section 2): prints "FILE: valid" and any warnings and
 * returns 0, or prints every problem as `FILE:LINE:COL path.to.key: message` and returns 2.
 */
export async function runValidate(path: string, out: LineWriter, options: LoadOptions = {}): Promise<0 | 2> {
  try {
    const { warnings } = await loadConfigFile(path, options);
    out.write(`${path}: valid\n`);
    for (const warning of warnings) out.write(`warning: ${warning}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const line of formatProblems(error.problems)) out.write(`${line}\n`);
    return 2;
  }
}
