// Job scripts: reading them (shebang, CRLF, NUL, UTF-8, directives and their words), the wrapper
// that runs them on an agent (run here for real under /bin/sh: bash and python3 scripts, output
// files with %j/%A/%a expanded from the agent's variables, a script over 128 KiB), the 1 MiB limit,
// and `submit`'s #TASKGRID lines.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { ParsedArgs } from "../../src/cli/args.js";
import { directives, isJobScriptFile, parseJobScript, splitWords, type JobScript } from "../../src/cli/job-script.js";
import { checkTaskSize, outputWord, SCRIPT_CHUNK_BYTES, SCRIPT_ENV_PREFIX, utf8Chunks, wrapScript } from "../../src/cli/job-wrapper.js";
import { specFromTaskgridScript, submitSpec } from "../../src/cli/taskgrid-script.js";
import { parseArgs } from "../../src/cli/args.js";
import { SPEC_FLAGS } from "../../src/cli/spec-from-flags.js";
import { QueueClass } from "../../src/gen/taskgrid/v1/types.js";
import { throwsUsage } from "../helpers/usage-error.js";

const script = (text: string, path = "job.sh"): JobScript => parseJobScript(path, Buffer.from(text));
const now = new Date("2025-01-01T00:00:00Z");
const noFlags: ParsedArgs = { flags: {}, positionals: [], rest: [] };

test("the #! line gives the interpreter and at most one argument, as the kernel reads it", () => {
  assert.equal(pick(script("#!/bin/bash\necho\n")), { interpreter: "/bin/bash", interpreterArg: null });
  assert.equal(pick(script("#! /usr/bin/env python3\n")), { interpreter: "/usr/bin/env", interpreterArg: "python3" });
  assert.equal(pick(script("#!/usr/bin/env -S python3 -u\n")), { interpreter: "/usr/bin/env", interpreterArg: "-S python3 -u" });
});

test("no #! line, an empty #!, an empty file: refused naming the file and line 1", () => {
  throwsUsage(() => script("echo hi\n", "run.sh"), "run.sh:1:", "#!/bin/bash");
  throwsUsage(() => script("#SBATCH -t 5\necho\n"), "job.sh:1:");
  throwsUsage(() => script("#!\necho\n"), "job.sh:1:", "names no interpreter");
  throwsUsage(() => script(""), "job.sh:1:");
});

test("DOS line breaks are read as \\n (and said so); a NUL names its line; bytes that are not UTF-8 are refused", () => {
  const s = script("#!/bin/sh\r\n#SBATCH -t 5\r\necho hi\r\n");
  assert.is(s.content, "#!/bin/sh\n#SBATCH -t 5\necho hi\n");
  assert.ok(s.dosLineBreaks);
  assert.equal(directives(s, "#SBATCH"), [{ line: 2, words: ["-t", "5"] }]);
  assert.not.ok(script("#!/bin/sh\necho\n").dosLineBreaks);
  throwsUsage(() => script("#!/bin/sh\necho a\necho \u0000\n"), "job.sh:3:", "NUL");
  throwsUsage(() => parseJobScript("job.sh", Buffer.from([0x23, 0x21, 0x2f, 0xff, 0x0a])), "job.sh", "UTF-8");
});

test("directives: only before the first command, only at the line's start, with quotes and trailing comments", () => {
  const s = script(
    [
      "#!/bin/bash",
      "#SBATCH --job-name='my job' -t 10:00",
      "",
      "# a comment",
      "##SBATCH --commented-out",
      "  #SBATCH --indented-is-a-comment",
      "#SBATCHX --not-ours",
      '#SBATCH -o "out dir/%j.txt"   # where the output goes',
      "#TASKGRID --priority high",
      "echo start",
      "#SBATCH --after-the-first-command",
    ].join("\n"),
  );
  assert.equal(directives(s, "#SBATCH"), [
    { line: 2, words: ["--job-name=my job", "-t", "10:00"] },
    { line: 8, words: ["-o", "out dir/%j.txt"] },
  ]);
  assert.equal(directives(s, "#TASKGRID"), [{ line: 9, words: ["--priority", "high"] }]);
});

test("words split like a shell's; an open quote names its line", () => {
  assert.equal(splitWords(` a "b c" 'd e'f g\\ h "x\\"y" #rest`, "w"), ["a", "b c", "d ef", "g h", 'x"y']);
  assert.equal(splitWords("a#b", "w"), ["a#b"]);
  throwsUsage(() => splitWords(" --name 'open", "job.sh:3"), "job.sh:3:", "unterminated");
});

test("a text file is a job script for submit; a binary (NUL) is a program; a directory or nothing is neither", () => {
  const dir = mkdtempSync(join(tmpdir(), "taskgrid-jobfile-"));
  try {
    writeFileSync(join(dir, "a.sh"), "#!/bin/sh\necho\n");
    writeFileSync(join(dir, "notes"), "no shebang here\n");
    writeFileSync(join(dir, "a.out"), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1]));
    assert.ok(isJobScriptFile(join(dir, "a.sh")));
    assert.ok(isJobScriptFile(join(dir, "notes")));
    assert.not.ok(isJobScriptFile(join(dir, "a.out")));
    assert.not.ok(isJobScriptFile(dir));
    assert.not.ok(isJobScriptFile(join(dir, "missing")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("output patterns: %x %u %% known now, %j %A %a %N on the agent; widths and unknown letters refused", () => {
  const ctx = { jobName: "train", user: "ann" };
  assert.is(outputWord("logs/%x-%u-100%%.txt", ctx, "output"), "'logs/train-ann-100%.txt'");
  assert.is(outputWord("%A_%a.out", ctx, "output"), `"\${TASKGRID_ARRAY_ID:-$TASKGRID_TASK_ID}"_"\${TASKGRID_ARRAY_INDEX:-}".out`);
  assert.is(outputWord("it's-%j", ctx, "output"), `'it'\\''s-'"$TASKGRID_TASK_ID"`);
  throwsUsage(() => outputWord("%4a.out", ctx, "output"), "--output", "widths");
  throwsUsage(() => outputWord("%q.out", ctx, "error"), "--error", "%q");
  throwsUsage(() => outputWord("x%", ctx, "error"), "trailing %");
  throwsUsage(() => outputWord("", ctx, "output"), "empty");
});

// The wrapper, run for real: the agent's variables stand in for an agent.
function runWrapped(s: JobScript, options: Partial<Parameters<typeof wrapScript>[0]>, agentEnv: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), "taskgrid-wrap-"));
  const attempt = mkdtempSync(join(dir, "attempt-"));
  const w = wrapScript({ script: s, args: [], ...options });
  const r = spawnSync(w.command[0], w.command.slice(1), {
    cwd: dir,
    env: { PATH: process.env.PATH, ...w.env, TASKGRID_PROGRESS_FILE: join(attempt, "progress"), ...agentEnv },
    encoding: "utf8",
  });
  return { ...r, dir, attempt, read: (f: string) => readFileSync(join(dir, f), "utf8"), done: () => rmSync(dir, { recursive: true, force: true }) };
}

test("a bash script runs as a file with its arguments, its own stdin, the SLURM ids, and no copy of itself in its env", () => {
  const s = script(
    '#!/bin/bash\necho "$0|$1|$2|${BASH_VERSION:+bash}|$SLURM_JOB_ID|$SLURM_ARRAY_JOB_ID|$SLURM_ARRAY_TASK_ID"\nenv | grep -c TASKGRID_JOB_SCRIPT || true\nread -r x || echo "stdin empty"\n',
  );
  const r = runWrapped(s, { args: ["one two", "3"], slurmIds: true }, { TASKGRID_TASK_ID: "t-7", TASKGRID_ARRAY_ID: "arr", TASKGRID_ARRAY_INDEX: "7" });
  try {
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout, `${r.attempt}/job/job.sh|one two|3|bash|t-7|arr|7\n0\nstdin empty\n`);
  } finally {
    r.done();
  }
});

test("a python3 script (#!/usr/bin/env python3) runs under python with __file__ and argv", () => {
  const r = runWrapped(
    script("#!/usr/bin/env python3\nimport sys\nprint(sys.argv[1:], __file__.endswith('/job/train.py'))\n", "train.py"),
    { args: ["--lr", "3"] },
    {},
  );
  try {
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout, "['--lr', '3'] True\n");
  } finally {
    r.done();
  }
});

test("-o with %A_%a and -e: each element's files named from the agent's ids; -o alone takes stderr too; append adds", () => {
  const s = script("#!/bin/sh\necho out\necho err >&2\n");
  const ctx = { jobName: "j", user: "u" };
  const both = runWrapped(
    s,
    { stdoutWord: outputWord("%A_%a.out", ctx, "o"), stderrWord: outputWord("%j.err", ctx, "e") },
    { TASKGRID_TASK_ID: "e3", TASKGRID_ARRAY_ID: "A1", TASKGRID_ARRAY_INDEX: "3" },
  );
  try {
    assert.is(both.status, 0, both.stderr);
    assert.is(both.stdout, "");
    assert.is(both.read("A1_3.out"), "out\n");
    assert.is(both.read("e3.err"), "err\n");
  } finally {
    both.done();
  }
  const single = runWrapped(s, { stdoutWord: outputWord("slurm-%A_%a.out", ctx, "o") }, { TASKGRID_TASK_ID: "t9" });
  try {
    assert.is(single.read("slurm-t9_.out"), "out\nerr\n"); // outside an array %A is the task id, %a empty
  } finally {
    single.done();
  }
});

test("an output file that cannot be opened fails the task with the shell's message on stderr", () => {
  const r = runWrapped(
    script("#!/bin/sh\necho never\n"),
    { stdoutWord: outputWord("no/such/dir/%j", { jobName: "j", user: "u" }, "o") },
    { TASKGRID_TASK_ID: "t" },
  );
  try {
    assert.is.not(r.status, 0);
    assert.match(r.stderr, /no\/such\/dir/);
    assert.is(r.stdout, "");
  } finally {
    r.done();
  }
});

test("a script over 128 KiB travels in chunks (never cut inside a character) and runs whole", () => {
  const body = `#!/bin/sh\n# ${"é".repeat(120_000)}\necho "$(wc -c < "$0")"\n`;
  const s = script(body);
  const w = wrapScript({ script: s, args: [] });
  const chunks = Object.keys(w.env).filter((k) => k.startsWith(SCRIPT_ENV_PREFIX));
  assert.is(chunks.length, 3);
  for (const k of chunks) assert.ok(Buffer.byteLength(w.env[k]) <= SCRIPT_CHUNK_BYTES);
  assert.is(chunks.map((k) => w.env[k]).join(""), body);
  const r = runWrapped(s, {}, {});
  try {
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout.trim(), String(Buffer.byteLength(body)));
  } finally {
    r.done();
  }
  assert.equal(utf8Chunks("", 10), [""]);
  assert.equal(utf8Chunks("ab😀c", 4), ["ab", "😀", "c"]);
});

test("a task over 1 MiB of command and env is refused naming the script and its size", () => {
  const s = script(`#!/bin/sh\n# ${"x".repeat(1024 * 1024)}\n`, "huge.sh");
  const w = wrapScript({ script: s, args: [] });
  throwsUsage(() => checkTaskSize(s, w.command, w.env), "huge.sh:", `${Buffer.byteLength(s.content)} bytes`, "1 MiB");
  const small = script("#!/bin/sh\necho\n");
  const ok = wrapScript({ script: small, args: [] });
  checkTaskSize(small, ok.command, ok.env);
});

test("#TASKGRID lines are submit's flags; the command line's flags replace theirs; lists add up across lines", () => {
  const s = script("#!/bin/bash\n#TASKGRID --gpus 1 --queue batch --name from-script\n#TASKGRID --label a=1\n#TASKGRID --label b=2 --env X=1\necho\n");
  const cli: ParsedArgs = { flags: { name: "from-cli", env: ["Y=2"] }, positionals: [], rest: [] };
  const spec = specFromTaskgridScript(cli, s, ["arg"], now);
  assert.is(spec.name, "from-cli");
  assert.is(spec.queueClass, QueueClass.QUEUE_CLASS_BATCH);
  assert.is(spec.resources?.gpuCount, 1);
  assert.equal(spec.labels, { a: "1", b: "2" });
  assert.is(spec.env?.Y, "2");
  assert.is(spec.env?.X, undefined);
  assert.is(spec.env?.[`${SCRIPT_ENV_PREFIX}0`], s.content);
  assert.equal(spec.command?.slice(0, 2), ["/bin/sh", "-c"]);
  assert.equal(spec.command?.slice(3), ["job.sh", "arg"]);
  assert.is(specFromTaskgridScript(noFlags, script("#!/bin/sh\necho\n", "dir/run.sh"), [], now).name, "run.sh");
});

test("#TASKGRID mistakes name the file and line: unknown flags, bad values, words that are not flags", () => {
  throwsUsage(() => specFromTaskgridScript(noFlags, script("#!/bin/sh\n#TASKGRID --gpus 1\n#TASKGRID --foo\n"), [], now), "job.sh:3:", "--foo");
  throwsUsage(() => specFromTaskgridScript(noFlags, script("#!/bin/sh\n\n#TASKGRID --cpu lots\n"), [], now), "job.sh:3:", "--cpu");
  throwsUsage(() => specFromTaskgridScript(noFlags, script("#!/bin/sh\n#TASKGRID echo\n"), [], now), "job.sh:2:", "not a flag");
});

function pick(s: JobScript) {
  return { interpreter: s.interpreter, interpreterArg: s.interpreterArg };
}

test("submit: a script file is a job script, but after a bare -- it is the command as always", () => {
  const dir = mkdtempSync(join(tmpdir(), "taskgrid-dashdash-"));
  try {
    const path = join(dir, "x.sh");
    writeFileSync(path, "#!/bin/sh\n#TASKGRID --name scripted\necho hi\n");
    const io = { now: () => now, err: () => {} } as never;
    const asCommand = submitSpec(parseArgs(["--", path, "a"], SPEC_FLAGS, { stopAtPositional: true }), io);
    assert.equal(asCommand.command, [path, "a"]);
    assert.is(asCommand.name, "");
    const asScript = submitSpec(parseArgs([path, "a"], SPEC_FLAGS, { stopAtPositional: true }), io);
    assert.is(asScript.name, "scripted");
    assert.is.not(asScript.command?.[0], path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
