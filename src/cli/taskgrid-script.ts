// `taskgrid submit [flags] job.sh [ARGS...]`: a job script whose #TASKGRID lines carry submit's own
// flags (#TASKGRID --gpus 1 --queue batch). Each line is checked on its own, so a mistake names its
// file and line; a flag given on the command line replaces every value the script gave it. The
// script travels with the task and runs on the agent as a file (see job-wrapper.ts).
import type { TaskSpecInput } from "../client/index.js";
import { parseArgs, type ParsedArgs } from "./args.js";
import type { Io } from "./command.js";
import { directives, isJobScriptFile, readJobScript, type JobScript } from "./job-script.js";
import { checkTaskSize, wrapScript } from "./job-wrapper.js";
import { SPEC_FLAGS, specFromFlags } from "./spec-from-flags.js";
import { UsageError } from "./usage-error.js";

export function specFromTaskgridScript(commandLine: ParsedArgs, script: JobScript, scriptArgs: readonly string[], now: Date): TaskSpecInput {
  const flags: ParsedArgs["flags"] = {};
  for (const d of directives(script, "#TASKGRID")) {
    const where = `${script.path}:${d.line}`;
    const line = atLine(where, () => parseArgs(d.words, SPEC_FLAGS));
    if (line.positionals.length > 0 || line.rest.length > 0) {
      throw new UsageError(`${where}: "${[...line.positionals, ...line.rest][0]}" is not a flag (#TASKGRID lines hold submit's flags only)`);
    }
    // The values' forms, checked here where the line is known (the command is a stand-in).
    atLine(where, () => specFromFlags(line, ["-"], now));
    for (const [name, value] of Object.entries(line.flags)) {
      const previous = flags[name];
      flags[name] = Array.isArray(value) && Array.isArray(previous) ? [...previous, ...value] : value; // later lines win, lists add up
    }
  }
  for (const name of Object.keys(SPEC_FLAGS)) if (commandLine.flags[name] !== undefined) flags[name] = commandLine.flags[name];
  const spec = specFromFlags({ flags, positionals: [], rest: [] }, ["-"], now);
  const wrapped = wrapScript({ script, args: scriptArgs });
  const env = { ...spec.env, ...wrapped.env };
  checkTaskSize(script, wrapped.command, env);
  return { ...spec, name: spec.name || script.name, command: wrapped.command, env };
}

function atLine<T>(where: string, body: () => T): T {
  try {
    return body();
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`${where}: ${err.message}`);
    throw err;
  }
}

/**
 * submit's spec: a job script when the first word after the flags (with no `--` before it) names a
 * text file (here, on the submitter's machine), else a command as always. A binary stays a command
 * (`submit ./a.out`).
 */
export function submitSpec(args: ParsedArgs, io: Io): TaskSpecInput {
  const [first, ...scriptArgs] = args.rest;
  // After a bare `--` it is a command as always, even when it names a script: `submit -- ./x.sh` runs the agent's copy.
  if (first === undefined || args.dashDash || !isJobScriptFile(first)) return specFromFlags(args, args.rest, io.now());
  const script = readJobScript(first);
  if (script.dosLineBreaks) io.err(`${script.path}: DOS line breaks (\\r\\n) read as \\n\n`);
  return specFromTaskgridScript(args, script, scriptArgs, io.now());
}
