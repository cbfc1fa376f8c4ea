// A settings table (src/config/schema.ts) as CLI flags: their specs and help, their values with the
// TASKGRID_* variables as fallbacks, each bad value a usage error that names the flag or variable.
import { boolFlag, listFlag, stringFlag, type FlagSpecs, type ParsedArgs } from "./args.js";
import { parseBoolEnv } from "./client-options.js";
import { parseList } from "./parse.js";
import { UsageError } from "./usage-error.js";
import { expected, helpLine, isNot, optionPath, type Given, type Settings } from "../config/schema.js";

/** Values read from flags, variables or a config file, and where each came from (for messages). */
export interface Sourced<T extends Settings> {
  values: Given<T>;
  sources: Partial<Record<keyof T, string>>;
}

/** The flag specs of every setting that has a flag, in table order. */
export function flagSpecs(table: Settings): FlagSpecs {
  const specs: FlagSpecs = {};
  for (const s of Object.values(table)) {
    if (!s.flag) continue;
    specs[s.flag] =
      s.type === "boolean"
        ? { type: "boolean", description: helpLine(s) }
        : { type: "string", ...(s.value ? { value: s.value } : {}), ...(s.type === "list" ? { multiple: true } : {}), description: helpLine(s) };
  }
  return specs;
}

/** A typed value from the text of a flag or variable (checked by the caller). */
function fromText(type: string, text: string): unknown {
  if (type === "integer") return /^-?\d+$/.test(text.trim()) ? Number(text) : text;
  if (type === "number") return text.trim() !== "" && Number.isFinite(Number(text)) ? Number(text) : text;
  if (type === "address") return text.trim();
  return text;
}

/** Flags win over variables; what neither gives stays unset (the defaults apply later). */
export function readFlagsAndEnv<T extends Settings>(table: T, args: ParsedArgs, env: Record<string, string | undefined>): Sourced<T> {
  const values: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  for (const [key, s] of Object.entries(table)) {
    if (s.type === "boolean") {
      // A boolean flag can only turn a setting on; the variable may say either ("1"/"0", "true"/"false", ...).
      if (s.flag && boolFlag(args, s.flag)) {
        [values[key], sources[key]] = [true, `--${s.flag}`];
      } else if (s.env) {
        const fromEnv = parseBoolEnv(env[s.env], s.env);
        if (fromEnv !== undefined) [values[key], sources[key]] = [fromEnv, s.env];
      }
      continue;
    }
    if (s.type === "list") {
      const list = s.flag ? listFlag(args, s.flag) : [];
      if (list.length > 0) [values[key], sources[key]] = [parseList(list), `--${s.flag}`];
      continue;
    }
    const flag = s.flag ? stringFlag(args, s.flag) : undefined;
    const fromEnv = s.env ? env[s.env] || undefined : undefined;
    const text = flag ?? fromEnv;
    if (text === undefined) continue;
    const source = flag !== undefined ? `--${s.flag}` : (s.env as string);
    const v = fromText(s.type, text);
    const what = expected(s, v, true);
    if (what !== undefined) throw new UsageError(isNot(source, text, what));
    values[key] = v;
    sources[key] = source;
  }
  return { values: values as Given<T>, sources: sources as Sourced<T>["sources"] };
}

/** How a setting is named where it was not given: "--tls-key (TASKGRID_TLS_SERVER_KEY)". */
export function flagAndEnv(table: Settings, key: string): string {
  const s = table[key];
  if (s.flag && s.env) return `--${s.flag} (${s.env})`;
  return s.flag ? `--${s.flag}` : (s.env ?? key);
}

/** Settings that go together (TLS certificate and key): the first one given without its partner is named. */
export function checkRequires<T extends Settings>(table: T, { values, sources }: Sourced<T>, missingName: (key: string, given: string) => string): void {
  const set = values as Record<string, unknown>;
  for (const [key, s] of Object.entries(table)) {
    if (set[key] === undefined || !s.requires) continue;
    const missing = s.requires.keys.find((k) => set[k] === undefined);
    const given = (sources as Record<string, string>)[key] ?? key;
    if (missing !== undefined) throw new UsageError(`${given} needs ${missingName(missing, given)} too (${s.requires.why})`);
  }
}

/** Values keyed by setting -> the options object (a setting with `option` "tls.certFile" goes to options.tls.certFile). */
export function toOptions(table: Settings, values: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(values)) {
    if (v === undefined) continue;
    const path = optionPath(table, key).split(".");
    let at = out;
    for (const part of path.slice(0, -1)) at = (at[part] ??= {}) as Record<string, unknown>;
    at[path[path.length - 1]] = v;
  }
  return out;
}

/** The defaults only the CLI applies (the metrics address), where the options leave them unset. */
export function withCliDefaults<O extends object>(table: Settings, options: O): O {
  const out = { ...options } as Record<string, unknown>;
  for (const [key, s] of Object.entries(table)) if (s.cliDefault !== undefined) out[key] ??= s.cliDefault;
  return out as O;
}
