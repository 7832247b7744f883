import { TpmError } from '../util/errors.js';

/** One thing wrong with a configuration, located as precisely as the source allows. */
export interface Problem {
  /** Dotted path of the key, e.g. "board.poll_interval" or "schedules.0.cron"; "" for the file itself. */
  path: string;
  /** What is wrong and what was expected, for a person. Never holds a secret's value. */
  message: string;
  /** 1-based line and column in `file`, when the problem comes from a file. */
  line?: number;
  col?: number;
  file?: string;
}

/**
 * A configuration that cannot be used. `problems` lists every problem found (not only the
 * first); the message is those problems, one per line.
 */
export class ConfigError extends TpmError {
  readonly problems: Problem[];

  constructor(problems: Problem[]) {
    super('CONFIG', formatProblems(problems).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** `FILE:LINE:COL path.to.key: message` (what `validate` prints); parts that are unknown are left out. */
export function formatProblem(problem: Problem): string {
  let where = problem.file ?? '';
  if (problem.file !== undefined && problem.line !== undefined) {
    where += `:${problem.line}:${problem.col ?? 1}`;
  }
  const prefix = [where, problem.path].filter((part) => part !== '').join(' ');
  return prefix === '' ? problem.message : `${prefix}: ${problem.message}`;
}

export function formatProblems(problems: readonly Problem[]): string[] {
  return problems.map(formatProblem);
}

/** Problems in reading order: by file position, those without a position last, stable otherwise. */
export function sortProblems(problems: readonly Problem[]): Problem[] {
  const position = (p: Problem) => (p.line === undefined ? Number.MAX_SAFE_INTEGER : p.line * 100_000 + (p.col ?? 0));
  return problems
    .map((problem, index) => ({ problem, index }))
    .sort((a, b) => position(a.problem) - position(b.problem) || a.index - b.index)
    .map(({ problem }) => problem);
}
