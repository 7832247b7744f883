import { ConfigError } from './problems.js';

/**
 * What the agent role needs beyond a valid file: the number of the node it runs on. Kept apart
 * from checks.ts so that createAgent throws checkAgentConfig's ConfigError without loading the
 * schema (the CLI's agent reads its config in a child process and never loads zod).
 */
export const AGENT_NODE_MISSING = 'the agent needs the number of the node it runs on, e.g. agent: { node: 3 }';

export function agentNodeMissing(): ConfigError {
  return new ConfigError([{ path: 'agent.node', message: AGENT_NODE_MISSING }]);
}
