import { spawn } from 'node:child_process';
import { TpmError, type ErrorCode } from '../util/errors.js';
import type { LoaderAnswer } from './load-child.js';
import type { LoadedConfig } from './load.js';
import { ConfigError } from './problems.js';

/**
 * Loads a config in a short-lived child process (config/load-child.ts) and returns what it
 * answered: the bridge and the agent run for months and need the YAML parser and the schema
 * only here. The child gets this process's environment (the config's `${VAR}`s) and none of
 * its node flags (NODE_OPTIONS still applies); what it prints to stderr reaches ours.
 * `script`: the built load-child.cjs (the caller knows where it is: in the bundle, this module
 * lives in a chunk).
 */
export function loadConfigSeparately(path: string, role: 'bridge' | 'agent', script: string): Promise<LoadedConfig> {
  return new Promise<LoadedConfig>((resolve, reject) => {
    const child = spawn(process.execPath, [script, path, role], { stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    let settled = false;
    const settle = (answer: LoaderAnswer): void => {
      settled = true;
      if (answer.ok) resolve(answer.loaded);
      else if ('problems' in answer) reject(new ConfigError(answer.problems));
      else reject(answer.code ? new TpmError(answer.code as ErrorCode, answer.message) : new Error(answer.message));
    };
    /** The child failed to start, or ended without a whole answer. */
    const fail = (error: Error): void => {
      settled = true;
      reject(error);
    };
    const parsed = (): LoaderAnswer | undefined => {
      try {
        return JSON.parse(Buffer.concat(chunks).toString('utf8')) as LoaderAnswer;
      } catch {
        return undefined;
      }
    };
    child.stdout.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // The answer is one JSON object, which no strict prefix of it parses as: complete once it
      // parses, and used then, not when the child has also exited (its teardown, 5 ms here).
      const answer = settled || chunk.at(-1) !== 0x7d ? undefined : parsed();
      if (answer) settle(answer);
    });
    child.once('error', (error) => {
      if (!settled) fail(error);
    });
    child.once('close', (code, signal) => {
      if (settled) return;
      const answer = parsed();
      if (answer) settle(answer);
      else fail(new Error(`the config loader stopped (${signal ?? `exit ${code}`}) without an answer`));
    });
  });
}
