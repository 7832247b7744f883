
/** What the bridge may ask an agent (docs/topics.md, `agent/command`). */
export type AgentAction = 'shutdown' | 'reboot';

export interface RunResult {
  code: number;
  stderr: string;
}

/** Runs an argv (never through a shell) and reports its exit code and standard error. */
export type CommandRunner = (argv: string[]) => Promise<RunResult>;

/** `SHUTDOWN` / `REBOOT`, case-insensitive, surrounding white space ignored; anything else is undefined. */
export function parseAgentCommand(payload: string): AgentAction | undefined {
  const word = payload.trim().toUpperCase();
  if (word === 'SHUTDOWN') return 'shutdown';
  if (word === 'REBOOT') return 'reboot';
  return undefined;
}

const STDERR_LIMIT = 4096;

/**
 * The real runner: spawn without a shell, so no word of any payload or config can become
 * shell syntax; killed when it outlives `timeoutMs`. A spawn error (command not found,
 * permission denied) rejects.
 */
export function spawnRunner(timeoutMs: number): CommandRunner {
  return async (argv) => {
    // Loaded when a command comes, not kept by every idle agent (with it node loads dgram & co.).
    const { spawn } = await import('node:child_process');
    return new Promise((resolve, reject) => {
      const [file, ...args] = argv;
      if (!file) {
        reject(new Error('empty command'));
        return;
      }
      const child = spawn(file, args, { shell: false, stdio: ['ignore', 'ignore', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
      let stderr = '';
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (chunk: string) => {
        if (stderr.length < STDERR_LIMIT) stderr += chunk.slice(0, STDERR_LIMIT - stderr.length);
      });
      child.on('error', reject);
      child.on('close', (code, signal) => {
        if (code !== null) resolve({ code, stderr: stderr.trim() });
        else resolve({ code: -1, stderr: (stderr.trim() || `killed by ${signal ?? 'a signal'}`).trim() });
      });
    });
  };
}

/** A one-line description of a failed run, for the log and the `agent/event` error. */
export function describeFailure(argv: string[], result: RunResult): string {
  const detail = result.stderr ? `: ${result.stderr.split('\n').slice(-3).join(' ').slice(0, 300)}` : '';
  return `${JSON.stringify(argv)} exited with code ${result.code}${detail}`;
}
