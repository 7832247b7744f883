/**
 * The library's public face (docs/library.md): embed the bridge or the agent in a program,
 * and put fake hardware under the real code in tests.
 */
export { createBridge, BridgeApp, type Bridge, type BridgeDeps } from './app/bridge.js';
export { createAgent, type AgentDeps, type Agent } from './app/agent.js';
export type { SystemInfoSource } from './agent/system-info.js';
export type { CommandRunner, RunResult } from './agent/command.js';
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
  type AgentConfig,
  type Config,
  type ConfigInput,
  type Environment,
  type LoadOptions,
  type LoadedConfig,
  type Problem,
  type ResolvedNode,
} from './config/index.js';
export type { BoardDriver, BoardInfo, PowerReading, RtcReading } from './board/types.js';
export {
  Tpi1Driver,
  openI2cBus,
  type I2cBus,
  type OpenI2cBusOptions,
  type Tpi1DriverOptions,
  type Tpi1Timing,
} from './board/tpi1/index.js';
export {
  Tpi2Driver,
  type FetchInit,
  type FetchLike,
  type FetchResponse,
  type Tpi2DriverOptions,
} from './board/tpi2/index.js';
export {
  GpioDriver,
  type GpioDirection,
  type GpioDriverOptions,
  type GpioFactory,
  type GpioLine,
  type GpioLineConfig,
} from './board/gpio/index.js';
export { createSimulatedTpi1, type SimulatedTpi1, type SimulatedTpi1Options } from './board/simulator/tpi1.js';
export {
  startBmcSimulator,
  type BmcSimulator,
  type BmcSimulatorOptions,
  type SimulatorCertificate,
} from './board/simulator/bmc-server.js';
export {
  createSimulatedGpioLines,
  type SimulatedGpioFaults,
  type SimulatedGpioLines,
  type SimulatedGpioOptions,
} from './board/simulator/generic.js';
export { startSimulatedAgents, type SimulatedAgents, type SimulatedAgentsOptions } from './cli/simulated-agents.js';
export { systemClock, type Clock, type TimerHandle } from './util/clock.js';
export { FakeClock } from './util/fake-clock.js';
export { TpmError, type ErrorCode } from './util/errors.js';
export {
  createLogger,
  silentLogger,
  type LogFormat,
  type LogLevel,
  type LogMethod,
  type Logger,
  type LoggerOptions,
} from './util/logger.js';
