import { errorMessage, TpmError } from '../util/errors.js';
import { loadConfigFile, type LoadedConfig } from './load.js';
import { ConfigError, type Problem } from './problems.js';

/**
 * The config loader as a short-lived child process (`node load-child.cjs FILE ROLE`): the
 * bridge and the agent read their file here, so that the YAML parser and the schema (zod:
 * together some MiB of code, objects and touched pages of node itself, needed once at start)
 * leave with the process instead of staying in the service for the months it runs. A worker
 * thread would free its heap too, but the pages node touches to start a thread stay with the
 * service (about 4-6 MiB, docs/performance-log.md). The answer goes to stdout as JSON
 * (config/load-separately.ts reads it): a loaded config is plain data (strings, numbers,
 * booleans, null, arrays, objects), and JSON.parse is already in the service, where node's `v8`
 * serializer would load four more of node's modules.
 */
export type LoaderAnswer =
  | { ok: true; loaded: LoadedConfig }
  | { ok: false; problems: Problem[] }
  | { ok: false; code: string | undefined; message: string };

async function answer(path: string, role: 'bridge' | 'agent'): Promise<LoaderAnswer> {
  try {
    return { ok: true, loaded: await loadConfigFile(path, { role }) };
  } catch (error) {
    if (error instanceof ConfigError) return { ok: false, problems: error.problems };
    return { ok: false, code: error instanceof TpmError ? error.code : undefined, message: errorMessage(error) };
  }
}

const [path = '', role] = process.argv.slice(2);
// A promise chain, not a top-level await: the shipped build runs this file as CommonJS
// (scripts/bundle.ts), which has none.
void answer(path, role === 'agent' ? 'agent' : 'bridge').then((reply) => process.stdout.write(JSON.stringify(reply)));
