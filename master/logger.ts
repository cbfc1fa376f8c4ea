// The master logs through the shared logger (src/telemetry/logger.ts), which the agent uses too;
// master modules keep importing it from here.
export { createLogger, silentLogger, type Logger, type LogFormat, type LogLevel } from "../src/telemetry/logger.js";
