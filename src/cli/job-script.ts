// Job scripts, as sbatch reads them: a text file whose first line names its interpreter (#!) and
// whose leading comment block may carry submit flags as directives ("#SBATCH --gres=gpu:1",
// "#TASKGRID --queue batch"). Pure except readJobScript and isJobScriptFile, which read the file,
// and readStdinJobScript, which reads standard input.
import { readFileSync, statSync } from "node:fs";
import { basename } from "node:path";
import { LIMITS } from "../core/spec-rules.js";
import type { StdinSource } from "./command.js";
import { UsageError } from "./usage-error.js";

/** How a script read from standard input is named in messages ("<stdin>:3: ..."). */
export const STDIN_PATH = "<stdin>";
/** Its job name, as Slurm names a job whose script came on stdin. */
export const STDIN_JOB_NAME = "sbatch";

export interface JobScript {
  /** The path as the user gave it: error messages name it so. */
  path: string;
  /** The file name without directories (the default job name, and the name it runs under). */
  name: string;
  /** The text that will run: "\r\n" already turned into "\n" (see dosLineBreaks). */
  content: string;
  /** The file had DOS line breaks, converted. */
  dosLineBreaks: boolean;
  /** The #! line split as the kernel splits it: the interpreter path, and at most one argument. */
  interpreter: string;
  interpreterArg: string | null;
}

export interface Directive {
  /** 1-based line number in the file. */
  line: number;
  /** The line's words, split as a shell would (quotes, backslashes), a "#" word ends them. */
  words: string[];
}

/**
 * Reads a job script. Refused with the file (and line) named: a file that cannot be read, bytes
 * that are not UTF-8 or a NUL (the script travels in a text field, see src/core/text-rules.ts),
 * and no #! line (sbatch refuses it too: without one nothing says which interpreter runs it).
 */
export function readJobScript(path: string): JobScript {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (err as Error).message;
    throw new UsageError(`${path}: cannot read the job script: ${why}`);
  }
  return parseJobScript(path, bytes);
}

/**
 * A job script from standard input (`sbatch < job.sh`, `cat job.sh | sbatch`), read by the same
 * rules as a file. Refused: a terminal (a user who forgot the script, not one typing it in), no
 * stdin, an empty one (sbatch: "Batch script is empty"), and more than a task can carry.
 */
export async function readStdinJobScript(stdin: StdinSource | undefined, noScript: string): Promise<JobScript> {
  if (!stdin || stdin.isTTY) throw new UsageError(noScript);
  let bytes: Buffer;
  try {
    bytes = await stdin.read(LIMITS.maxPayloadBytes);
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`${STDIN_PATH}: the job script is over ${LIMITS.maxPayloadBytes} bytes, more than a task can carry`);
    throw new UsageError(`${STDIN_PATH}: cannot read the job script: ${(err as Error).message}`);
  }
  if (bytes.length === 0) throw new UsageError(`${STDIN_PATH}: the job script is empty (${noScript})`);
  return { ...parseJobScript(STDIN_PATH, bytes), name: STDIN_JOB_NAME };
}

/**
 * Whether `path` names a file that `submit` should treat as a job script: a regular file that is
 * text. A binary (a NUL in its first 8 KiB, as in every ELF file) is a program to run, not a
 * script to ship; a text file without #! is a script and parseJobScript refuses it, naming line 1.
 */
export function isJobScriptFile(path: string): boolean {
  const info = statSync(path, { throwIfNoEntry: false });
  if (!info?.isFile()) return false;
  let head: Buffer;
  try {
    head = readFileSync(path).subarray(0, 8192);
  } catch {
    return true; // unreadable: readJobScript will say why
  }
  return head.subarray(0, 2).toString("latin1") === "#!" || !head.includes(0);
}

export function parseJobScript(path: string, bytes: Uint8Array): JobScript {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`${path}: not UTF-8 text; a job script travels as text`);
  }
  const nul = text.indexOf("\u0000");
  if (nul >= 0) throw new UsageError(`${path}:${lineOf(text, nul)}: contains a NUL byte, which a task's text cannot hold`);
  // sbatch refuses DOS line breaks; converting them instead lets a script saved on Windows run
  // (bash would otherwise fail on "$'\r': command not found"). A lone "\r" is kept.
  const dosLineBreaks = text.includes("\r\n");
  const content = dosLineBreaks ? text.replaceAll("\r\n", "\n") : text;
  const first = content.split("\n", 1)[0];
  if (!first.startsWith("#!")) {
    throw new UsageError(`${path}:1: not a job script: the first line must name its interpreter, e.g. #!/bin/bash (sbatch requires it too)`);
  }
  const shebang = first.slice(2).trim();
  if (shebang === "") throw new UsageError(`${path}:1: the #! line names no interpreter`);
  // Linux passes everything after the interpreter's path as one argument; so does the wrapper.
  const space = shebang.search(/[ \t]/);
  return {
    path,
    name: basename(path),
    content,
    dosLineBreaks,
    interpreter: space < 0 ? shebang : shebang.slice(0, space),
    interpreterArg: space < 0 ? null : shebang.slice(space).trim() || null,
  };
}

/**
 * The directives with `prefix` ("#SBATCH" or "#TASKGRID") at the start of a line, read as sbatch
 * reads them: only up to the first line that is neither blank nor a comment, so a "#SBATCH" further
 * down (in a heredoc, after the first command) is the script's business.
 */
export function directives(script: JobScript, prefix: string): Directive[] {
  const out: Directive[] = [];
  const lines = script.content.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const trimmed = line.trim();
    if (trimmed !== "" && !trimmed.startsWith("#")) break;
    if (!line.startsWith(prefix)) continue;
    const after = line.slice(prefix.length);
    if (after !== "" && !/^[ \t]/.test(after)) continue; // "#SBATCHX" is just a comment
    const where = `${script.path}:${i + 1}`;
    out.push({ line: i + 1, words: splitWords(after, where) });
  }
  return out;
}

/**
 * Splits a directive's text into words like a shell: whitespace separates, '...' and "..." quote
 * (a backslash escapes " \ $ ` inside double quotes), a backslash outside quotes escapes the next
 * character, and a word starting with # ends the line (a trailing comment).
 */
export function splitWords(text: string, where: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === " " || c === "\t") {
      if (word !== null) words.push(word);
      word = null;
      i++;
    } else if (c === "#" && word === null) {
      break;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new UsageError(`${where}: unterminated ' quote`);
      word = (word ?? "") + text.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      let j = i + 1;
      let part = "";
      while (j < text.length && text[j] !== '"') {
        if (text[j] === "\\" && j + 1 < text.length && '"\\$`'.includes(text[j + 1])) j++;
        part += text[j];
        j++;
      }
      if (j >= text.length) throw new UsageError(`${where}: unterminated " quote`);
      word = (word ?? "") + part;
      i = j + 1;
    } else if (c === "\\" && i + 1 < text.length) {
      word = (word ?? "") + text[i + 1];
      i += 2;
    } else {
      word = (word ?? "") + c;
      i++;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
