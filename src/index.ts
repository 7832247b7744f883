/**
 * The library's public face (docs/library.md): embed the bridge or the agent in a program,
 * and put fake hardware under the real code in tests.
 */
export { createBridge, BridgeApp, type Bridge, type BridgeDeps } from './app/bridge.js';
export { createAgent, type AgentDeps, type Agent } from './app/agent.js';
export {
  loadConfig,
  loadConfigFile,
  parseConfig,
  checkAgentConfig,
  configSchema,
  configJsonSchema,
  ConfigError,
  formatProblems,
  resolveNodes,
  type Config,
  type ConfigInput,
  type Problem,
  type ResolvedNode,
} from './config/index.js';
export type { BoardDriver, BoardInfo, PowerReading, RtcReading } from './board/types.js';
export { Tpi1Driver, openI2cBus, type I2cBus } from './board/tpi1/index.js';
export { Tpi2Driver, type FetchLike } from './board/tpi2/index.js';
export { GpioDriver, type GpioFactory, type GpioLine } from './board/gpio/index.js';
export { createSimulatedTpi1 } from './board/simulator/tpi1.js';
export { startBmcSimulator } from './board/simulator/bmc-server.js';
export { createSimulatedGpioLines } from './board/simulator/generic.js';
export { startSimulatedAgents } from './cli/simulated-agents.js';
export { systemClock, type Clock } from './util/clock.js';
export { FakeClock } from './util/fake-clock.js';
export { TpmError, type ErrorCode } from './util/errors.js';
export { createLogger, silentLogger, type Logger } from './util/logger.js';
