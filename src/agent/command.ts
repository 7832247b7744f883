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
 * shell syntax; killed with every process it started when it outlives `timeoutMs`. A spawn error (command not found,
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
      // A process group of its own, killed whole at the time-out: a script's children (a drain's
      // kubectl) would go on after the agent said the command failed, and hold stderr open.
      const child = spawn(file, args, { shell: false, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
      const timer = setTimeout(() => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // the group is gone already
        }
      }, timeoutMs);
      let stderr = '';
      child.stderr?.setEncoding('utf8');
      // The last words are kept, not the first: a drain's conclusion ("not powering off") comes
      // after kilobytes of kubectl's retries, and the report quotes the last lines.
      child.stderr?.on('data', (chunk: string) => {
        stderr = (stderr + chunk).slice(-STDERR_LIMIT);
      });
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
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

/**
 * The failure as it is published on `agent/event`: which command (shutdown or reboot), its exit
 * code and its last words, but never its argv, which may hold a drain script's token or host
 * names (the log has the argv). Arguments the command echoes on stderr are masked too.
 */
export function describePublicFailure(action: AgentAction, argv: string[], result: RunResult): string {
  const stderr = result.stderr.split('\n').slice(-3).join(' ').slice(0, 300);
  const detail = stderr ? `: ${hideArguments(stderr, argv)}` : '';
  return `the ${action} command exited with code ${result.code}${detail}`;
}

/** `agent/event` text for a command that could not be started: the error code, no path or argument. */
export function describePublicSpawnError(action: AgentAction, error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reason =
    code === 'ENOENT' ? 'ENOENT, no such program' : code === 'EACCES' ? 'EACCES, not executable' : (code ?? 'error');
  return `the ${action} command could not be run (${reason})`;
}

function hideArguments(text: string, argv: string[]): string {
  let hidden = text;
  for (const arg of argv.slice(1)) if (arg.length >= 4) hidden = hidden.split(arg).join('***');
  return hidden;
}
