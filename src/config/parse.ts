import type { z } from 'zod';
import { agentProblems, configWarnings, crossFieldProblems } from './checks.js';
import { dottedPath, problemsFromIssue, type RawProblem } from './issues.js';
import { ConfigError, type Problem } from './problems.js';
import { configSchema, type Config } from './schema.js';

export interface Validation {
  /** The config with defaults filled, when there are no problems. */
  config: Config | undefined;
  problems: RawProblem[];
  warnings: RawProblem[];
}

/**
 * Validates a plain object (parsed YAML or built by a program) and collects every problem:
 * first the schema, then, only if the schema passed, the checks across keys (they need the
 * defaults filled in). `null`/`undefined` stands for an empty file: all defaults.
 */
export function validateConfigObject(object: unknown): Validation {
  const input = object ?? {};
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    return {
      config: undefined,
      problems: withoutSafeIntegerBounds(parsed.error.issues).flatMap((issue) => problemsFromIssue(issue, input)),
      warnings: [],
    };
  }
  const problems = crossFieldProblems(parsed.data);
  if (problems.length > 0) return { config: undefined, problems, warnings: [] };
  return { config: parsed.data, problems: [], warnings: configWarnings(parsed.data) };
}

/**
 * Without the bound every whole number has (±2^53-1) where the key has its own: a number beyond
 * both got two problems, "at most 9007199254740991" and "at most 3600".
 */
function withoutSafeIntegerBounds(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  const key = (issue: z.core.$ZodIssue): string => issue.path.map(String).join('\0');
  const safeBound = (issue: z.core.$ZodIssue): boolean =>
    (issue.code === 'too_big' && Math.abs(Number(issue.maximum)) === Number.MAX_SAFE_INTEGER) ||
    (issue.code === 'too_small' && Math.abs(Number(issue.minimum)) === Number.MAX_SAFE_INTEGER);
  return issues.filter(
    (issue) => !(safeBound(issue) && issues.some((other) => other !== issue && key(other) === key(issue))),
  );
}

function toProblem(raw: RawProblem): Problem {
  return { path: dottedPath(raw.segments), message: raw.message };
}

/** Validates `object`, fills defaults and returns the config; throws a ConfigError listing every problem. */
export function parseConfig(object: unknown): Config {
  const { config, problems } = validateConfigObject(object);
  if (!config) throw new ConfigError(problems.map(toProblem));
  return config;
}

/** A config the agent can run on: one that names its node. */
export type AgentConfig = Config & { agent: { node: number } };

/** The agent role's extra requirement (agent.node); throws a ConfigError when it is not met. */
export function checkAgentConfig(config: Config): asserts config is AgentConfig {
  const problems = agentProblems(config);
  if (problems.length > 0) throw new ConfigError(problems.map(toProblem));
}
