// --log-level / --log-format for the process verbs (master, agent, dev), with TASKGRID_LOG_LEVEL and
// TASKGRID_LOG_FORMAT as fallbacks. Each bad value is a usage error that names where it came from.
import { stringFlag, type FlagSpecs, type ParsedArgs } from "./args.js";
import { isLogFormat, isLogLevel, LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "../telemetry/log-format.js";
import { UsageError } from "./usage-error.js";

export const LOG_FLAGS: FlagSpecs = {
  "log-level": { type: "string", value: "LEVEL", description: "debug, info, warn or error (env TASKGRID_LOG_LEVEL, default info)" },
  "log-format": { type: "string", value: "FORMAT", description: "text or json (env TASKGRID_LOG_FORMAT; default text on a terminal, json otherwise)" },
};

export interface LogCliOptions {
  logLevel?: LogLevel;
  logFormat?: LogFormat;
}

/** `source` names the flag, variable or config key in the message, e.g. "--log-level". */
export function checkLogLevel(value: unknown, source: string): LogLevel {
  if (!isLogLevel(value)) throw new UsageError(`${source}: ${JSON.stringify(value)} is not one of ${LOG_LEVELS.join(", ")}`);
  return value;
}

export function checkLogFormat(value: unknown, source: string): LogFormat {
  if (!isLogFormat(value)) throw new UsageError(`${source}: ${JSON.stringify(value)} is not one of ${LOG_FORMATS.join(", ")}`);
  return value;
}

/** Flags win over the environment; unset stays unset (the logger then picks its defaults). */
export function logOptions(args: ParsedArgs, env: Record<string, string | undefined>): LogCliOptions {
  const out: LogCliOptions = {};
  const level = stringFlag(args, "log-level");
  if (level !== undefined) out.logLevel = checkLogLevel(level, "--log-level");
  else if (env.TASKGRID_LOG_LEVEL) out.logLevel = checkLogLevel(env.TASKGRID_LOG_LEVEL, "TASKGRID_LOG_LEVEL");
  const format = stringFlag(args, "log-format");
  if (format !== undefined) out.logFormat = checkLogFormat(format, "--log-format");
  else if (env.TASKGRID_LOG_FORMAT) out.logFormat = checkLogFormat(env.TASKGRID_LOG_FORMAT, "TASKGRID_LOG_FORMAT");
  return out;
}
