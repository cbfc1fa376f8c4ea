// Resolves the master's options from, in increasing precedence: the --config file (JSON or YAML),
// TASKGRID_* environment variables, and flags. Which settings exist, their flags, variables,
// config keys (camelCase or snake_case) and checks are MASTER_SETTINGS (src/config/master-settings.ts).
import type { MasterOptions } from "../../master/config.js";
import { MASTER_SETTINGS } from "../config/master-settings.js";
import { stringFlag, type FlagSpecs, type ParsedArgs } from "./args.js";
import { readConfigFile } from "./config-file.js";
import { checkRequires, flagAndEnv, flagSpecs, readFlagsAndEnv, toOptions, type Sourced } from "./setting-flags.js";
import { UsageError } from "./usage-error.js";

/** Options passed to startMaster: what the flags, variables and config file set, nothing else. */
export type MasterCliOptions = Omit<MasterOptions, "random" | "log" | "clock" | "tracing">;

export const CONFIG_FLAG: FlagSpecs = {
  config: { type: "string", value: "FILE", description: "config file, JSON or YAML (env TASKGRID_CONFIG); flags and env override it" },
};

/** Every flag of `taskgrid master`: its settings', with --config after --weights. */
export const MASTER_FLAGS: FlagSpecs = Object.fromEntries(
  Object.entries(flagSpecs(MASTER_SETTINGS)).flatMap((entry) =>
    entry[0] === MASTER_SETTINGS.weightsPath.flag ? [entry, ...Object.entries(CONFIG_FLAG)] : [entry],
  ),
);

/** Parses a config file's text (JSON when it looks like JSON, YAML otherwise) and checks its keys and values. */
export function parseConfigFile(text: string, file: string): MasterCliOptions {
  return toOptions(MASTER_SETTINGS, readConfigFile(MASTER_SETTINGS, text, file).values) as MasterCliOptions;
}

/** Merges file < env < flags, setting by setting. `readFile` is injected so this stays testable. */
export function resolveMasterOptions(args: ParsedArgs, env: Record<string, string | undefined>, readFile: (path: string) => string): MasterCliOptions {
  const configPath = stringFlag(args, "config") ?? env.TASKGRID_CONFIG;
  let fromFile: Sourced<typeof MASTER_SETTINGS> = { values: {}, sources: {} };
  if (configPath) {
    let text: string;
    try {
      text = readFile(configPath);
    } catch (err) {
      throw new UsageError(`--config: cannot read ${configPath} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    fromFile = readConfigFile(MASTER_SETTINGS, text, configPath);
  }
  // Each setting on its own: a flag or variable replaces the file's value for that setting only
  // (so --tls-key can replace the file's key and keep its certificate).
  const given = readFlagsAndEnv(MASTER_SETTINGS, args, env);
  const merged = { values: { ...fromFile.values, ...given.values }, sources: { ...fromFile.sources, ...given.sources } };
  checkRequires(MASTER_SETTINGS, merged, (missing) => flagAndEnv(MASTER_SETTINGS, missing));
  return toOptions(MASTER_SETTINGS, merged.values) as MasterCliOptions;
}
