// --log-level / --log-format for the process verbs (master, agent, dev), with TASKGRID_LOG_LEVEL and
// TASKGRID_LOG_FORMAT as fallbacks (LOG_SETTINGS). Each bad value is a usage error that names where it came from.
import type { FlagSpecs, ParsedArgs } from "./args.js";
import { LOG_SETTINGS } from "../config/log-settings.js";
import type { LogFormat, LogLevel } from "../telemetry/log-format.js";
import { flagSpecs, readFlagsAndEnv } from "./setting-flags.js";

export const LOG_FLAGS: FlagSpecs = flagSpecs(LOG_SETTINGS);

export interface LogCliOptions {
  logLevel?: LogLevel;
  logFormat?: LogFormat;
}

/** Flags win over the environment; unset stays unset (the logger then picks its defaults). */
export function logOptions(args: ParsedArgs, env: Record<string, string | undefined>): LogCliOptions {
  return readFlagsAndEnv(LOG_SETTINGS, args, env).values;
}
