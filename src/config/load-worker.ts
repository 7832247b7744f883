import { parentPort, workerData } from 'node:worker_threads';
import { errorMessage, TpmError } from '../util/errors.js';
import { loadConfigFile, type LoadedConfig } from './load.js';
import { ConfigError, type Problem } from './problems.js';

/**
 * The config loader in a worker thread: the agent reads its file here, so that the YAML
 * parser and the schema (some MiB of code and objects, needed once at start) go away with
 * the thread instead of staying in the agent for the months it runs. See loadInWorker.
 */
export type WorkerAnswer =
  | { ok: true; loaded: LoadedConfig }
  | { ok: false; problems: Problem[] }
  | { ok: false; code: string | undefined; message: string };

const { path, role } = workerData as { path: string; role: 'bridge' | 'agent' };
let answer: WorkerAnswer;
try {
  answer = { ok: true, loaded: await loadConfigFile(path, { role }) };
} catch (error) {
  if (error instanceof ConfigError) answer = { ok: false, problems: error.problems };
  else answer = { ok: false, code: error instanceof TpmError ? error.code : undefined, message: errorMessage(error) };
}
parentPort?.postMessage(answer);
