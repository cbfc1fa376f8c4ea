// sbatch's options: the table (long and short names, what each maps to), read from #SBATCH lines
// (getopt's forms: --time=10, --time 10, -t 10, -t10) and from the command line, then resolved
// into one set of settings. Options sharing a slot (--gres and --gpus; --mem and --mem-per-cpu)
// conflict when one source gives both; the command line's setting of a slot replaces the script's.
// Pure: tokens in, settings out; sbatch-job.ts turns the settings into a task.
import type { FlagSpecs, ParsedArgs } from "./args.js";
import { UsageError } from "./usage-error.js";

export type Slot =
  | "name"
  | "time"
  | "cpus"
  | "memory"
  | "gpus"
  | "partition"
  | "array"
  | "dependency"
  | "killOnInvalidDep"
  | "output"
  | "error"
  | "openMode"
  | "export"
  | "chdir"
  | "wrap"
  | "parsable"
  | "wait"
  | "hold"
  | "account"
  | "constraint"
  | "requeue"
  | "nodes"
  | "ntasks"
  | "ntasksPerNode";

export interface SbatchOption {
  long: string;
  short?: string;
  /** "required": takes a value; "none": a switch; "optional": a value only as --long=value. */
  arg: "required" | "none" | "optional";
  value?: string;
  description: string;
  /** Where its value goes; none: accepted and ignored, with `ignored` said as a warning. */
  slot?: Slot;
  ignored?: string;
}

export const SBATCH_OPTIONS: readonly SbatchOption[] = [
  { long: "job-name", short: "J", arg: "required", value: "NAME", slot: "name", description: "task name (default: the script's file name)" },
  {
    long: "time",
    short: "t",
    arg: "required",
    value: "TIME",
    slot: "time",
    description: "time limit, MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS: the task's timeout and its estimate",
  },
  { long: "cpus-per-task", short: "c", arg: "required", value: "N", slot: "cpus", description: "CPUs" },
  { long: "mem", arg: "required", value: "SIZE", slot: "memory", description: "memory, in MB or with K, M, G, T (4G)" },
  { long: "mem-per-cpu", arg: "required", value: "SIZE", slot: "memory", description: "memory per CPU (times --cpus-per-task)" },
  { long: "gres", arg: "required", value: "gpu[:TYPE]:N", slot: "gpus", description: "GPUs; TYPE is matched in the worker's GPU model" },
  { long: "gpus", short: "G", arg: "required", value: "[TYPE:]N", slot: "gpus", description: "GPUs" },
  { long: "gpus-per-node", arg: "required", value: "[TYPE:]N", slot: "gpus", description: "GPUs (one node)" },
  { long: "gpus-per-task", arg: "required", value: "[TYPE:]N", slot: "gpus", description: "GPUs (one task)" },
  {
    long: "partition",
    short: "p",
    arg: "required",
    value: "NAME",
    slot: "partition",
    description: "live, default or batch: that queue class; another name: a tag the worker must have",
  },
  { long: "array", short: "a", arg: "required", value: "RANGE", slot: "array", description: "job array, e.g. 1-100%10 (at most 10 at once)" },
  {
    long: "dependency",
    short: "d",
    arg: "required",
    value: "TYPE:ID[:ID]",
    slot: "dependency",
    description: "afterok, afterany or afternotok, several joined by ','",
  },
  {
    long: "kill-on-invalid-dep",
    arg: "required",
    value: "yes|no",
    slot: "killOnInvalidDep",
    description: "no: stay queued when a dependency can no longer be met",
  },
  {
    long: "output",
    short: "o",
    arg: "required",
    value: "FILE",
    slot: "output",
    description: "stdout (and stderr without -e) to FILE on the agent; %j %A %a %x %u %N %%",
  },
  { long: "error", short: "e", arg: "required", value: "FILE", slot: "error", description: "stderr to FILE on the agent" },
  { long: "open-mode", arg: "required", value: "append|truncate", slot: "openMode", description: "how -o/-e files are opened (default truncate)" },
  { long: "export", arg: "required", value: "ALL|NONE|VAR[=val],...", slot: "export", description: "environment the task gets (default ALL: yours)" },
  { long: "chdir", short: "D", arg: "required", value: "DIR", slot: "chdir", description: "working directory (default: the current one)" },
  { long: "wrap", arg: "required", value: "COMMAND", slot: "wrap", description: "no script: run COMMAND under /bin/sh" },
  { long: "parsable", arg: "none", slot: "parsable", description: "print only the job id" },
  {
    long: "wait",
    short: "W",
    arg: "none",
    slot: "wait",
    description: "return when the job has ended, with its exit code (an array's highest)",
  },
  { long: "hold", short: "H", arg: "none", slot: "hold", description: "submit held: it starts once released (taskgrid release ID)" },
  { long: "account", short: "A", arg: "required", value: "NAME", slot: "account", description: "Taskgrid project" },
  { long: "constraint", short: "C", arg: "required", value: "A&B", slot: "constraint", description: "tags the worker must all have" },
  { long: "requeue", arg: "none", slot: "requeue", description: "requeue after a lost machine (the default)" },
  { long: "no-requeue", arg: "none", slot: "requeue", description: "never requeue after a lost machine" },
  { long: "nodes", short: "N", arg: "required", value: "1", slot: "nodes", description: "nodes: only 1" },
  { long: "ntasks", short: "n", arg: "required", value: "1", slot: "ntasks", description: "tasks: only 1" },
  { long: "ntasks-per-node", arg: "required", value: "1", slot: "ntasksPerNode", description: "tasks per node: only 1" },
  ...ignoredOptions(),
];

function ignoredOptions(): SbatchOption[] {
  const mail = "Taskgrid sends no mail";
  const list: Array<[string, string | undefined, SbatchOption["arg"], string]> = [
    ["mail-type", undefined, "required", mail],
    ["mail-user", undefined, "required", mail],
    ["qos", "q", "required", "no QOS: use taskgrid submit --priority"],
    ["nice", undefined, "optional", "no nice values: use taskgrid submit --priority"],
    ["comment", undefined, "required", "comments are not kept"],
    ["exclusive", undefined, "optional", "machines are not given exclusively"],
    ["signal", undefined, "required", "no warning signal before the time limit"],
    ["hint", undefined, "required", "no hints"],
    ["time-min", undefined, "required", "the time limit is --time"],
    ["get-user-env", undefined, "optional", "the environment is --export's"],
    ["propagate", undefined, "optional", "no resource limits are propagated"],
    ["verbose", "v", "none", "no verbose output"],
    ["quiet", "Q", "none", "nothing to quiet"],
  ];
  return list.map(([long, short, arg, ignored]) => ({ long, ...(short ? { short } : {}), arg, ignored, description: `ignored: ${ignored}` }));
}

const BY_LONG = new Map(SBATCH_OPTIONS.map((o) => [o.long, o]));
const BY_SHORT = new Map(SBATCH_OPTIONS.filter((o) => o.short).map((o) => [o.short!, o]));

/** One option as given, and where: "job.sh:4", or null for the command line. */
export interface Setting {
  option: SbatchOption;
  value: string;
  where: string | null;
}

/** The options as FlagSpecs, so the command line is parsed and `taskgrid sbatch --help` lists them. */
export function sbatchFlagSpecs(): FlagSpecs {
  const specs: FlagSpecs = {};
  for (const o of SBATCH_OPTIONS) {
    // On the command line an option whose value is optional (--exclusive[=user]) is a plain switch:
    // all of them are ignored anyway. In #SBATCH lines settingsFromWords takes --long=value too.
    specs[o.long] = {
      type: o.arg === "required" ? "string" : "boolean",
      ...(o.short ? { short: o.short } : {}),
      ...(o.value ? { value: o.value } : {}),
      description: o.description,
    };
  }
  return specs;
}

/** The sbatch options of a parsed command line, as settings. */
export function settingsFromArgs(args: ParsedArgs): Setting[] {
  const out: Setting[] = [];
  for (const o of SBATCH_OPTIONS) {
    const v = args.flags[o.long];
    if (v === undefined) continue;
    const values = Array.isArray(v) ? v : [v];
    for (const value of values) out.push({ option: o, value: value === true ? "" : String(value), where: null });
  }
  return out;
}

/**
 * The words of #SBATCH lines (or of a command line) read as sbatch's getopt reads them: --long=V,
 * --long V, -s V, -sV. Anything else is an error naming `where` (file:line).
 */
export function settingsFromWords(words: readonly string[], where: string): Setting[] {
  const { settings, rest } = leadingSettings(words, where, "#SBATCH option");
  if (rest.length > 0) throw new UsageError(`${where}: "${rest[0]}" is not an option (#SBATCH lines hold options only)`);
  return settings;
}

/**
 * The options at the front of `words`, up to the first word that is not one (or a "--", dropped):
 * for the command line's attached forms (-t10) that the common flag parser leaves to the positionals.
 */
export function leadingSettings(words: readonly string[], where: string | null, what: string): { settings: Setting[]; rest: string[] } {
  const at = where ? `${where}: ` : "";
  const out: Setting[] = [];
  let i = 0;
  for (; i < words.length; i++) {
    const word = words[i];
    if (word === "--") return { settings: out, rest: words.slice(i + 1) };
    if (!word.startsWith("-") || word === "-") break;
    let option: SbatchOption | undefined;
    let inline: string | undefined;
    if (word.startsWith("--")) {
      const eq = word.indexOf("=");
      const name = eq < 0 ? word.slice(2) : word.slice(2, eq);
      option = BY_LONG.get(name);
      if (!option) throw new UsageError(`${at}unknown ${what} --${name}`);
      if (eq >= 0) inline = word.slice(eq + 1);
    } else {
      option = BY_SHORT.get(word[1]);
      if (!option) throw new UsageError(`${at}unknown ${what} -${word[1]}`);
      if (word.length > 2) inline = word.slice(2);
    }
    const label = word.startsWith("--") ? `--${option.long}` : `-${option.short}`;
    if (option.arg === "none") {
      if (inline !== undefined) throw new UsageError(`${at}${label} takes no value (got "${inline}")`);
      out.push({ option, value: "", where });
    } else if (option.arg === "optional") {
      out.push({ option, value: inline ?? "", where });
    } else {
      let value = inline;
      if (value === undefined) {
        if (i + 1 >= words.length) throw new UsageError(`${at}${label} needs a value${option.value ? ` (${option.value})` : ""}`);
        value = words[++i];
      }
      out.push({ option, value, where });
    }
  }
  return { settings: out, rest: words.slice(i) };
}

/** The value of a slot, the option that gave it, and where. */
export type Resolved = Partial<Record<Slot, Setting>>;

/**
 * One setting per slot: within a source the last one wins (as sbatch) unless another option of the
 * same slot was given there (--gres=gpu:2 and --gpus=1): an error naming both. The command line's
 * slots replace the script's. Ignored options come back as warnings.
 */
export function resolveSettings(script: readonly Setting[], commandLine: readonly Setting[]): { resolved: Resolved; warnings: string[] } {
  const warnings: string[] = [];
  const fromScript = bySlot(script, warnings);
  const fromCommandLine = bySlot(commandLine, warnings);
  return { resolved: { ...fromScript, ...fromCommandLine }, warnings };
}

function bySlot(settings: readonly Setting[], warnings: string[]): Resolved {
  const out: Resolved = {};
  for (const s of settings) {
    if (!s.option.slot) {
      warnings.push(`${s.where ? `${s.where}: ` : ""}--${s.option.long} ignored: ${s.option.ignored}`);
      continue;
    }
    const previous = out[s.option.slot];
    const exclusive = s.option.slot !== "requeue"; // --requeue then --no-requeue: the last one, like any repeat
    if (previous && exclusive && previous.option !== s.option) {
      throw new UsageError(
        `${s.where ? `${s.where}: ` : ""}--${s.option.long}=${s.value} conflicts with --${previous.option.long}=${previous.value}` +
          `${previous.where ? ` (${previous.where})` : ""}: give one of them`,
      );
    }
    out[s.option.slot] = s;
  }
  return out;
}

/** Runs `parse` on a setting's value; its error gets the setting's place in front ("job.sh:4: --time: ..."). */
export function settingValue<T>(setting: Setting, parse: (text: string, flag: string) => T): T {
  try {
    return parse(setting.value, setting.option.long);
  } catch (err) {
    if (err instanceof UsageError && setting.where) throw new UsageError(`${setting.where}: ${err.message}`);
    throw err;
  }
}
