import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Child processes measured from outside, through /proc (Linux), as `ps` would. */

/** Resident memory of a process in KiB (VmRSS of /proc/<pid>/status). */
export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]);
}

/** Anonymous resident memory of a process in KiB (RssAnon: heap and code, not the mapped binary). */
export function anonKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^RssAnon:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no RssAnon for process ${pid}`);
  return Number(match[1]);
}

/** Clock ticks per second of /proc/<pid>/stat times: 100 on every Linux this runs on (USER_HZ). */
export const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU time a process has used so far, in milliseconds: its threads' time on a CPU in
 * nanoseconds (/proc/<pid>/task/<tid>/schedstat, the scheduler's own count), plus that of the
 * children it has waited for in clock ticks (a helper process per sample would be the
 * agent's cost too). The 10 ms ticks of /proc/<pid>/stat alone show an idle process as 0 or 10.
 */
export function cpuMs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // cutime, cstime: fields 16-17 of proc(5).
  const childTicks = Number(fields[13]) + Number(fields[14]);
  return ns / 1e6 + (childTicks * 1000) / CLOCK_TICKS_PER_SECOND;
}

/**
 * Starts counting the CPU time of each process of `pids`: the function returned gives each one's
 * microseconds per command over `commands` commands since then. While commands are timed in
 * turns, each process works only for its own: the others' leave it idle.
 */
export function countCpu<K extends string>(pids: Record<K, number>): (commands: number) => Record<K, number> {
  const keys = Object.keys(pids) as K[];
  const at = Object.fromEntries(keys.map((k) => [k, cpuMs(pids[k])])) as Record<K, number>;
  return (commands) =>
    Object.fromEntries(keys.map((k) => [k, ((cpuMs(pids[k]) - at[k]) * 1000) / commands])) as Record<K, number>;
}

export interface Child {
  process: ChildProcess;
  pid: number;
  /** The last few KiB of stdout and stderr, to say why a child failed. */
  output(): string;
  stop(): Promise<number | null>;
}

/** Starts `node <args>`, keeping the tail of its output. */
export function spawnNode(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Child {
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString()).slice(-4096);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return {
    process: child,
    pid: child.pid ?? 0,
    output: () => tail,
    stop: () => stopProcess(child),
  };
}

/** SIGTERM, then SIGKILL after 5 s; resolves with the exit code. */
export function stopProcess(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.kill('SIGTERM');
  });
}

/** Rejects when the child exits before `promise` settles, with its output as the reason. */
export function whileAlive<T>(child: Child, promise: Promise<T>, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onExit = (code: number | null): void =>
      reject(new Error(`${what}: the process exited (${code}) first. Its output:\n${child.output()}`));
    child.process.once('exit', onExit);
    promise.then(
      (value) => {
        child.process.off('exit', onExit);
        resolve(value);
      },
      (error: unknown) => {
        child.process.off('exit', onExit);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
