// --log-level / --log-format: the same two settings in the master, the agent and dev.
import { LOG_FORMATS, LOG_LEVELS } from "../telemetry/log-format.js";
import type { Settings } from "./schema.js";

export const LOG_SETTINGS = {
  logLevel: {
    type: "enum",
    choices: LOG_LEVELS,
    default: "info",
    flag: "log-level",
    value: "LEVEL",
    env: "TASKGRID_LOG_LEVEL",
    help: "debug, info, warn or error",
    doc: "`debug`, `info`, `warn` or `error`",
  },
  logFormat: {
    type: "enum",
    choices: LOG_FORMATS,
    defaultText: "text on a terminal, json otherwise",
    flag: "log-format",
    value: "FORMAT",
    env: "TASKGRID_LOG_FORMAT",
    help: "text or json",
    doc: "`text` or `json`; see Logging",
  },
} as const satisfies Settings;
