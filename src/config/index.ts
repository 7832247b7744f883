/** Configuration: schema, loading and validation (docs/configuration.md). */
export { configSchema } from './schema.js';
export type { Config, ConfigInput, NodeList, ScheduleConfig } from './schema.js';
export { findNode, resolveNodes, unknownNodeMessage } from './nodes.js';
export type { ResolvedNode } from './nodes.js';
export { ConfigError, formatProblems } from './problems.js';
export type { Problem } from './problems.js';
export { checkAgentConfig, parseConfig, type AgentConfig } from './parse.js';
export { checkConfigText, loadConfig, loadConfigFile } from './load.js';
export type { LoadedConfig, LoadOptions, TextCheck } from './load.js';
export { substituteEnv } from './env.js';
export type { Environment } from './env.js';
export { runValidate } from './validate.js';
export type { LineWriter } from './validate.js';
export { configJsonSchema } from './write-schema.js';
