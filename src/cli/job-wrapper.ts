// How a job script travels and runs: agents do not share the submitter's file system, so the
// script's text goes with the task, in its env, and a small /bin/sh wrapper writes it to a file on
// the agent and runs it there with the interpreter of its #! line. Pure: builds the task's
// command and env, checks the size a task may have, and turns sbatch's output file patterns
// (%j, %A, %a, %x) into shell words expanded on the agent, where the task id is known.
//
// Why a file and the #! interpreter rather than `bash -c "$script"`: the script runs as a file,
// as under sbatch: python (or any interpreter) reads a file, $0 / __file__ name it, the script's
// stdin stays its own, and the interpreter is the one the script asks for.
// Why its text in env vars: one argument or env string may hold at most 128 KiB on Linux
// (MAX_ARG_STRLEN), so a bigger script is cut into chunks, each its own variable, and the
// wrapper unsets them before the script runs, so its children do not carry a copy.
// Where the file goes: the directory of TASKGRID_PROGRESS_FILE, which the agent makes for each
// attempt that carries a job script (TASKGRID_JOB_SCRIPT_* in its env; other attempts share one:
// agent/attempt-files.ts) and removes when the attempt ends (even killed), so nothing is left behind; a worker
// without it (another implementation of the agent protocol) gets a mktemp directory. The file
// goes in a "job" folder of its own, so no script name can clash with the agent's files there. The script
// is run as `interpreter [arg] file` (what the kernel does for #!), so a noexec /tmp does not matter.
import { LIMITS } from "../core/spec-rules.js";
import type { JobScript } from "./job-script.js";
import { UsageError } from "./usage-error.js";

export const SCRIPT_ENV_PREFIX = "TASKGRID_JOB_SCRIPT_";
/** Bytes of script per env var: under Linux's 128 KiB for one "NAME=value" string. */
export const SCRIPT_CHUNK_BYTES = 96 * 1024;

export interface OutputFiles {
  /** sbatch -o: stdout, and stderr too when `stderr` is not given (as sbatch does). */
  stdout?: string;
  /** sbatch -e. */
  stderr?: string;
  /** --open-mode=append: add to the files instead of truncating them. */
  append?: boolean;
}

export interface WrapOptions {
  script: JobScript;
  /** Arguments after the script's path: "$1"... of the script. */
  args: readonly string[];
  /** Already-expanded shell words for the output files (see outputWord); none: Taskgrid's logs. */
  stdoutWord?: string;
  stderrWord?: string;
  append?: boolean;
  /** Export SLURM_JOB_ID, SLURM_ARRAY_JOB_ID and SLURM_ARRAY_TASK_ID from Taskgrid's ids (sbatch). */
  slurmIds?: boolean;
}

export interface WrappedScript {
  command: string[];
  /** The script's chunks (SCRIPT_ENV_PREFIX + N), to merge into the task's env. */
  env: Record<string, string>;
}

export function wrapScript(o: WrapOptions): WrappedScript {
  const chunks = utf8Chunks(o.script.content, SCRIPT_CHUNK_BYTES);
  const names = chunks.map((_, i) => `${SCRIPT_ENV_PREFIX}${i}`);
  const file = `"$d"/job/${shellQuote(safeFileName(o.script.name))}`;
  const interpreter = [o.script.interpreter, ...(o.script.interpreterArg === null ? [] : [o.script.interpreterArg])].map(shellQuote).join(" ");
  const lines = [
    // biome-ignore lint/suspicious/noTemplateCurlyInString: /bin/sh's parameter expansion, not a template
    'd="${TASKGRID_PROGRESS_FILE%/*}"',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: /bin/sh's parameter expansion, not a template
    '{ [ -n "${TASKGRID_PROGRESS_FILE:-}" ] && [ -d "$d" ]; } || d=$(mktemp -d) || exit 1',
    `(umask 077 && mkdir -p "$d"/job && printf %s ${names.map((n) => `"$${n}"`).join(" ")} >${file}) || exit 1`,
    `unset ${names.join(" ")}`,
  ];
  if (o.slurmIds) {
    lines.push(
      'export SLURM_JOB_ID="$TASKGRID_TASK_ID" SLURM_JOBID="$TASKGRID_TASK_ID"',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: /bin/sh's parameter expansion, not a template
      'if [ -n "${TASKGRID_ARRAY_ID:-}" ]; then export SLURM_ARRAY_JOB_ID="$TASKGRID_ARRAY_ID" SLURM_ARRAY_TASK_ID="$TASKGRID_ARRAY_INDEX"; fi',
    );
  }
  const redirect = redirection(o.stdoutWord, o.stderrWord, o.append ?? false);
  // A redirection that cannot be opened (no such directory) ends the shell with its message on
  // stderr, which then still goes to Taskgrid's log of the attempt.
  if (redirect) lines.push(`exec ${redirect}`);
  lines.push(`exec ${interpreter} ${file} "$@"`);
  const env: Record<string, string> = {};
  chunks.forEach((chunk, i) => (env[names[i]] = chunk));
  return { command: ["/bin/sh", "-c", `${lines.join("\n")}\n`, safeFileName(o.script.name), ...o.args], env };
}

function redirection(stdout: string | undefined, stderr: string | undefined, append: boolean): string {
  const op = append ? ">>" : ">";
  if (stdout !== undefined && (stderr === undefined || stderr === stdout)) return `${op}${stdout} 2>&1`;
  return [stdout === undefined ? "" : `${op}${stdout}`, stderr === undefined ? "" : `2${op}${stderr}`].filter((s) => s).join(" ");
}

/** The pattern letters known only on the agent, as /bin/sh words. */
const AGENT_WORDS: Record<string, string> = {
  j: '"$TASKGRID_TASK_ID"',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: /bin/sh's parameter expansion, not a template
  A: '"${TASKGRID_ARRAY_ID:-$TASKGRID_TASK_ID}"',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: /bin/sh's parameter expansion, not a template
  a: '"${TASKGRID_ARRAY_INDEX:-}"',
  N: '"$(uname -n)"',
};

/** What an output pattern may refer to that is known at submission. */
export interface PatternContext {
  jobName: string;
  user: string;
}

/**
 * sbatch's output file pattern as one shell word, expanded on the agent: %j the task id, %A the
 * array id (the task id outside an array, as in Slurm), %a the array index (empty outside an
 * array), %x the job name, %u the submitting user, %N the host, %n and %t 0, %s "batch", %% a %.
 * A relative path is relative to the task's working directory, as with sbatch.
 */
export function outputWord(pattern: string, ctx: PatternContext, flag: string): string {
  if (pattern === "") throw new UsageError(`--${flag}: the file name is empty`);
  let word = "";
  let literal = "";
  const flush = () => {
    if (literal !== "") word += shellQuote(literal);
    literal = "";
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c !== "%") {
      literal += c;
      continue;
    }
    const spec = pattern[i + 1];
    i++;
    if (spec === "%") literal += "%";
    else if (spec === "x") literal += ctx.jobName;
    else if (spec === "u") literal += ctx.user;
    else if (spec === "n" || spec === "t") literal += "0";
    else if (spec === "s") literal += "batch";
    else if (spec === "j" || spec === "A" || spec === "a" || spec === "N") {
      flush();
      word += AGENT_WORDS[spec];
    } else if (spec !== undefined && /[0-9]/.test(spec)) {
      throw new UsageError(`--${flag}: "${pattern}": widths such as %${spec}... are not supported (use %j, %A, %a, %x, %u, %N or %%)`);
    } else {
      const got = spec === undefined ? "a trailing %" : `%${spec}`;
      throw new UsageError(`--${flag}: "${pattern}": ${got} is not supported (use %j, %A, %a, %x, %u, %N or %%)`);
    }
  }
  flush();
  return word;
}

/**
 * The task's command and env together must fit the master's limit (LIMITS.maxPayloadBytes,
 * counted as validateSpec counts them); said here, naming the script and its size, rather than
 * as the master's INVALID_ARGUMENT about spec.command.
 */
export function checkTaskSize(script: JobScript, command: readonly string[], env: Record<string, string>): void {
  let bytes = 0;
  for (const arg of command) bytes += utf8Bytes(arg) + 1;
  let envBytes = 0;
  for (const [k, v] of Object.entries(env)) if (!k.startsWith(SCRIPT_ENV_PREFIX)) envBytes += utf8Bytes(k) + utf8Bytes(v) + 2;
  for (const [k, v] of Object.entries(env)) bytes += utf8Bytes(k) + utf8Bytes(v) + 2;
  if (bytes <= LIMITS.maxPayloadBytes) return;
  const size = utf8Bytes(script.content);
  throw new UsageError(
    `${script.path}: the script is ${size} bytes; with the task's other command and environment (${envBytes} bytes of env) it comes to ${bytes} bytes, ` +
      `over the ${LIMITS.maxPayloadBytes} bytes (1 MiB) a task's command and env may hold together` +
      (envBytes > LIMITS.maxPayloadBytes / 4 ? " (--export=NONE or a list of variables sends less environment)" : ""),
  );
}

/** Cuts text into pieces of at most `maxBytes` UTF-8 bytes, never inside a character. */
export function utf8Chunks(text: string, maxBytes: number): string[] {
  const chunks: string[] = [];
  let start = 0;
  let bytes = 0;
  let i = 0;
  while (i < text.length) {
    const cp = text.codePointAt(i)!;
    const units = cp > 0xffff ? 2 : 1;
    const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes + size > maxBytes) {
      chunks.push(text.slice(start, i));
      start = i;
      bytes = 0;
    }
    bytes += size;
    i += units;
  }
  if (start < text.length || chunks.length === 0) chunks.push(text.slice(start));
  return chunks;
}

/** One word for /bin/sh that stands for exactly `text`. */
export function shellQuote(text: string): string {
  if (/^[A-Za-z0-9_./:=@+-]+$/.test(text)) return text;
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The script's own name on the agent when it is a plain file name, else "job-script". */
function safeFileName(name: string): string {
  return /^[A-Za-z0-9._-]{1,100}$/.test(name) && name !== "." && name !== ".." ? name : "job-script";
}

const encoder = new TextEncoder();
function utf8Bytes(text: string): number {
  return encoder.encode(text).length;
}
