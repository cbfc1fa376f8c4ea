// A small flag parser (node:util parseArgs gives no room for messages that name the flag and say
// what value was expected). Pure: argv in, { flags, positionals } out, UsageError on mistakes.
import { UsageError } from "./usage-error.js";

export interface FlagSpec {
  /** "string" flags take a value (`--name x` or `--name=x`); "boolean" flags take none. */
  type: "string" | "boolean";
  /** May be given more than once; the values are collected in order. */
  multiple?: boolean;
  /** One-letter alias, e.g. "h" for -h. */
  short?: string;
  /** Placeholder shown in help, e.g. "DURATION". */
  value?: string;
  /** One line for the help text. */
  description: string;
}

export type FlagSpecs = Record<string, FlagSpec>;

export interface ParsedArgs {
  /** string for single string flags, string[] for multiple ones, true for booleans given. */
  flags: Record<string, string | string[] | boolean>;
  positionals: string[];
  /** Everything after a bare `--` (the command of `submit`). */
  rest: string[];
  /** Whether `rest` came after a bare `--` (rather than from stopAtPositional): `submit -- ./x.sh` runs a command, `submit ./x.sh` a job script. */
  dashDash?: boolean;
}

export interface ParseOptions {
  /** Stop reading flags at the first positional (so `submit echo --x` passes --x to echo). */
  stopAtPositional?: boolean;
}

export function parseArgs(argv: readonly string[], specs: FlagSpecs, options: ParseOptions = {}): ParsedArgs {
  const flags: ParsedArgs["flags"] = {};
  const positionals: string[] = [];
  const byShort = new Map(Object.entries(specs).flatMap(([name, s]) => (s.short ? [[s.short, name] as const] : [])));

  let i = 0;
  const take = (name: string, spec: FlagSpec, inline: string | undefined) => {
    if (spec.type === "boolean") {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value (got "${inline}")`);
      flags[name] = true;
      return;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      // A following "--flag" almost always means the value was forgotten, not that it is "--flag".
      if (next === undefined || next === "--" || (next.startsWith("--") && next.length > 2)) {
        throw new UsageError(`--${name} needs a value${spec.value ? ` (${spec.value})` : ""}`);
      }
      value = next;
      i++;
    }
    if (spec.multiple) flags[name] = [...((flags[name] as string[] | undefined) ?? []), value];
    else if (flags[name] !== undefined) throw new UsageError(`--${name} given more than once`);
    else flags[name] = value;
  };

  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      return { flags, positionals, rest: argv.slice(i + 1), dashDash: true };
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      const spec = specs[name];
      if (!spec) throw new UsageError(`unknown flag --${name}`);
      take(name, spec, eq === -1 ? undefined : arg.slice(eq + 1));
    } else if (arg.startsWith("-") && arg.length === 2 && arg !== "-") {
      const name = byShort.get(arg[1]);
      if (!name) throw new UsageError(`unknown flag ${arg}`);
      take(name, specs[name], undefined);
    } else if (options.stopAtPositional) {
      return { flags, positionals, rest: argv.slice(i) };
    } else {
      positionals.push(arg);
    }
  }
  return { flags, positionals, rest: [] };
}

/** Typed accessors over ParsedArgs.flags, so commands do not cast. */
export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags[name];
  return typeof v === "string" ? v : Array.isArray(v) ? v[v.length - 1] : undefined;
}

export function listFlag(args: ParsedArgs, name: string): string[] {
  const v = args.flags[name];
  return Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
}

export function boolFlag(args: ParsedArgs, name: string): boolean {
  return args.flags[name] === true;
}
