// `taskgrid sbatch`: Slurm's value formats, the option forms of #SBATCH lines and of the command
// line, conflicts and overrides, and the task a script becomes (resources, time, array,
// dependencies, partition, export, working directory, output files, SLURM_* variables).
import { Readable } from "node:stream";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readAll, type Io, type StdinSource } from "../../src/cli/command.js";
import { parseJobScript, readStdinJobScript, type JobScript } from "../../src/cli/job-script.js";
import { main } from "../../src/cli/main.js";
import { SCRIPT_ENV_PREFIX } from "../../src/cli/job-wrapper.js";
import { sbatchJob, scriptSettings, wrapJobScript, type SubmitterContext } from "../../src/cli/sbatch-job.js";
import { leadingSettings, settingsFromArgs, settingsFromWords, type Setting } from "../../src/cli/sbatch-options.js";
import {
  constraintTags,
  exportedEnv,
  parseDependency,
  parseGpus,
  parseGres,
  parseSlurmMemoryMib,
  parseSlurmTimeMs,
  partitionTarget,
} from "../../src/cli/sbatch-values.js";
import { QueueClass } from "../../src/gen/taskgrid/v1/types.js";
import { runCli } from "../helpers/run-cli.js";
import { throwsUsage } from "../helpers/usage-error.js";

const MIN = 60_000;
const script = (text: string, path = "job.sh"): JobScript => parseJobScript(path, Buffer.from(text));
const ctx: SubmitterContext = {
  cwd: "/home/ann/exp",
  host: "login1",
  env: {
    HOME: "/home/ann",
    USER: "ann",
    PATH: "/usr/bin",
    PWD: "/home/ann/exp",
    OLDPWD: "/",
    SHLVL: "2",
    _: "/usr/bin/taskgrid",
    TASKGRID_TOKEN: "secret",
    "BASH_FUNC_f%%": "() { :; }",
  },
};
const cli = (...words: string[]): Setting[] => leadingSettings(words, null, "option").settings;
const job = (text: string, commandLine: Setting[] = []) => sbatchJob(script(text), [], commandLine, ctx);

test("--time: every Slurm form, 0/INFINITE as no limit; malformed times refused", () => {
  assert.is(parseSlurmTimeMs("10"), 10 * MIN);
  assert.is(parseSlurmTimeMs("10:30"), 10 * MIN + 30_000);
  assert.is(parseSlurmTimeMs("2:00:05"), 120 * MIN + 5000);
  assert.is(parseSlurmTimeMs("1-2"), 26 * 60 * MIN);
  assert.is(parseSlurmTimeMs("1-2:30"), (26 * 60 + 30) * MIN);
  assert.is(parseSlurmTimeMs("1-0:0:1"), 24 * 60 * MIN + 1000);
  assert.is(parseSlurmTimeMs("0"), 0);
  assert.is(parseSlurmTimeMs("UNLIMITED"), 0);
  assert.is(parseSlurmTimeMs("infinite"), 0);
  for (const bad of ["", "1h", "1:2:3:4", "-5", "1-", "a-1", "10:"]) throwsUsage(() => parseSlurmTimeMs(bad), "--time", "MM:SS");
});

test("--mem: MB by default, K M G T suffixes (binary), 0 and malformed refused", () => {
  assert.is(parseSlurmMemoryMib("4000"), 4000);
  assert.is(parseSlurmMemoryMib("4G"), 4096);
  assert.is(parseSlurmMemoryMib("4gb"), 4096);
  assert.is(parseSlurmMemoryMib("1T"), 1024 * 1024);
  assert.is(parseSlurmMemoryMib("1500K"), 2);
  assert.is(parseSlurmMemoryMib("512M"), 512);
  throwsUsage(() => parseSlurmMemoryMib("0"), "--mem", "all of a node");
  for (const bad of ["", "4.5G", "4X", "G", "-1"]) throwsUsage(() => parseSlurmMemoryMib(bad), "--mem", "megabytes");
});

test("--gres=gpu[:TYPE][:N] and --gpus [TYPE:]N; other gres and malformed ones refused", () => {
  assert.equal(parseGres("gpu"), { count: 1, model: "" });
  assert.equal(parseGres("gpu:2"), { count: 2, model: "" });
  assert.equal(parseGres("gpu:a100:4"), { count: 4, model: "a100" });
  assert.equal(parseGres("gpu:h100"), { count: 1, model: "h100" });
  assert.equal(parseGres("gres/gpu:1"), { count: 1, model: "" });
  assert.equal(parseGres("none"), { count: 0, model: "" });
  throwsUsage(() => parseGres("tmpfs:10G"), "--gres", "only gpu");
  throwsUsage(() => parseGres("gpu:1,tmpfs:1"), "--gres", "only one");
  throwsUsage(() => parseGres("gpu:a100:x"), "--gres", "whole number");
  throwsUsage(() => parseGres("gpu:a:b:c"), "--gres");
  assert.equal(parseGpus("2"), { count: 2, model: "" });
  assert.equal(parseGpus("a100:2"), { count: 2, model: "a100" });
  throwsUsage(() => parseGpus("two"), "--gpus", "[TYPE:]N");
  throwsUsage(() => parseGpus("5000"), "--gpus", "more than");
});

test("--dependency: afterok/afterany/afternotok lists, ID_N elements; ?, after, singleton and +delays refused", () => {
  assert.equal(parseDependency("afterok:a:b,afterany:c,afternotok:d_7"), { after: ["a", "b"], afterAny: ["c"], afterFail: ["d[7]"] });
  assert.equal(parseDependency("afterok:x[3]"), { after: ["x[3]"], afterAny: [], afterFail: [] });
  throwsUsage(() => parseDependency("afterok:a?afterany:b"), "?");
  throwsUsage(() => parseDependency("after:a"), "only afterok, afterany and afternotok");
  throwsUsage(() => parseDependency("singleton"), "singleton");
  throwsUsage(() => parseDependency("afterok"), "names no job id");
  throwsUsage(() => parseDependency("afterok:a+5"), "delay");
});

test("--export: ALL leaves the shell's own and Taskgrid's variables behind; NONE; lists copy or set", () => {
  assert.equal(exportedEnv("ALL", ctx.env), { HOME: "/home/ann", USER: "ann", PATH: "/usr/bin" });
  assert.equal(exportedEnv("NONE", ctx.env), {});
  assert.equal(exportedEnv("HOME,X=1,MISSING", ctx.env), { HOME: "/home/ann", X: "1" });
  assert.equal(exportedEnv("ALL,X=a=b", ctx.env), { HOME: "/home/ann", USER: "ann", PATH: "/usr/bin", X: "a=b" });
  throwsUsage(() => exportedEnv("1X=2", ctx.env), "--export", "not a variable name");
});

test("--partition: live/default/batch are queue classes, another name a tag; --constraint: tags", () => {
  assert.equal(partitionTarget("BATCH"), { queueClass: QueueClass.QUEUE_CLASS_BATCH });
  assert.equal(partitionTarget("live"), { queueClass: QueueClass.QUEUE_CLASS_LIVE });
  assert.equal(partitionTarget("gpu"), { tag: "gpu" });
  throwsUsage(() => partitionTarget("a,b"), "one partition");
  assert.equal(constraintTags("a100&ib"), ["a100", "ib"]);
  throwsUsage(() => constraintTags("a|b"), "&");
});

test("option forms: --long=V, --long V, -s V, -sV, switches; unknown, missing and extra values refused", () => {
  const names = (s: Setting[]) => s.map((x) => [x.option.long, x.value]);
  assert.equal(names(settingsFromWords(["--time=5", "-J", "n", "-c4", "--mem", "1G", "--parsable", "--exclusive"], "job.sh:2")), [
    ["time", "5"],
    ["job-name", "n"],
    ["cpus-per-task", "4"],
    ["mem", "1G"],
    ["parsable", ""],
    ["exclusive", ""],
  ]);
  throwsUsage(() => settingsFromWords(["--foo"], "job.sh:4"), "job.sh:4: unknown #SBATCH option --foo");
  throwsUsage(() => settingsFromWords(["-y", "1"], "job.sh:4"), "job.sh:4: unknown #SBATCH option -y");
  throwsUsage(() => settingsFromWords(["-t"], "job.sh:4"), "job.sh:4:", "-t needs a value");
  throwsUsage(() => settingsFromWords(["--parsable=yes"], "job.sh:4"), "takes no value");
  throwsUsage(() => settingsFromWords(["-t", "5", "extra"], "job.sh:4"), "job.sh:4:", '"extra" is not an option');
  const { settings, rest } = leadingSettings(["-t10", "--gres=gpu:1", "job.sh", "-t", "x"], null, "option");
  assert.equal(names(settings), [
    ["time", "10"],
    ["gres", "gpu:1"],
  ]);
  assert.equal(rest, ["job.sh", "-t", "x"]);
  const parsed = settingsFromArgs({ flags: { time: "5", parsable: true, master: "x:1" }, positionals: [], rest: [] });
  assert.equal(names(parsed), [
    ["time", "5"],
    ["parsable", ""],
  ]);
});

test("the issue's script: array with a cap, one GPU, ten minutes, output per element; everything a Slurm user expects set", () => {
  const text =
    "#!/bin/bash\n#SBATCH --array=1-100%10 --gres=gpu:1 -t 10:00\n#SBATCH -o out/%A_%a.txt\n#SBATCH -c 2 --mem=4G -J sweep\npython train.py $SLURM_ARRAY_TASK_ID\n";
  const { spec, parsable, warnings } = job(text);
  assert.is(spec.name, "sweep");
  assert.is(spec.array, "1-100%10");
  assert.equal(spec.resources, { cpuMillis: 2000, memoryMib: 4096, gpuCount: 1, gpuModel: "" });
  assert.is(spec.timeoutMs, 10 * MIN);
  assert.is(spec.estimateMs, 10 * MIN);
  assert.is(spec.workingDir, "/home/ann/exp");
  assert.is(spec.queueClass, QueueClass.QUEUE_CLASS_UNSPECIFIED);
  assert.not.ok(parsable);
  assert.equal(warnings, []);
  const env = spec.env!;
  assert.is(env[`${SCRIPT_ENV_PREFIX}0`], text);
  assert.equal(
    { HOME: env.HOME, PATH: env.PATH, PWD: env.PWD, token: env.TASKGRID_TOKEN },
    { HOME: "/home/ann", PATH: "/usr/bin", PWD: undefined, token: undefined },
  );
  assert.equal(
    [env.SLURM_JOB_NAME, env.SLURM_SUBMIT_DIR, env.SLURM_SUBMIT_HOST, env.SLURM_CPUS_PER_TASK, env.SLURM_NTASKS],
    ["sweep", "/home/ann/exp", "login1", "2", "1"],
  );
  const wrapper = spec.command![2];
  assert.ok(wrapper.includes(`exec >out/"\${TASKGRID_ARRAY_ID:-$TASKGRID_TASK_ID}"_"\${TASKGRID_ARRAY_INDEX:-}".txt 2>&1`), wrapper);
  assert.ok(wrapper.includes("SLURM_ARRAY_TASK_ID="), wrapper);
});

test("the rest of the options: dependency, partition, account, constraint, chdir, export, requeue, mem-per-cpu, open-mode", () => {
  const { spec } = job(
    "#!/bin/sh\n#SBATCH -d afterok:a1:a2,afternotok:f1 --kill-on-invalid-dep=no\n#SBATCH -p gpu -C 'a100&ib' -A vision\n#SBATCH -D sub --export=NONE,SEED=3 --no-requeue\n#SBATCH -c 4 --mem-per-cpu=1G -e err/%j --open-mode=append\n#SBATCH -N 1 -n 1 --ntasks-per-node=1 --gpus=h100:2\n",
  );
  assert.equal(spec.after, ["a1", "a2"]);
  assert.equal(spec.afterFail, ["f1"]);
  assert.is(spec.keepInvalidDependency, true);
  assert.equal(spec.requiredTags, ["a100", "ib", "gpu"]);
  assert.is(spec.project, "vision");
  assert.is(spec.workingDir, "/home/ann/exp/sub");
  assert.is(spec.env!.SEED, "3");
  assert.is(spec.env!.HOME, undefined);
  assert.is(spec.env!.SLURM_SUBMIT_DIR, "/home/ann/exp");
  assert.is(spec.maxRequeues, 0);
  assert.equal(spec.resources, { cpuMillis: 4000, memoryMib: 4096, gpuCount: 2, gpuModel: "h100" });
  assert.ok(spec.command![2].includes(`exec 2>>err/"$TASKGRID_TASK_ID"`), spec.command![2]);
  assert.is(job("#!/bin/sh\n#SBATCH -p batch -D /abs\n").spec.queueClass, QueueClass.QUEUE_CLASS_BATCH);
  assert.is(job("#!/bin/sh\n#SBATCH -D /abs\n").spec.workingDir, "/abs");
});

test("the command line replaces the script's settings, GPUs as one setting whichever option gave them", () => {
  const text = "#!/bin/sh\n#SBATCH -t 5 --gres=gpu:a100:2 -J a\n";
  const { spec, parsable } = job(text, cli("-t", "1:00:00", "--gpus=1", "--parsable"));
  assert.is(spec.timeoutMs, 60 * MIN);
  assert.equal([spec.resources?.gpuCount, spec.resources?.gpuModel], [1, ""]);
  assert.is(spec.name, "a");
  assert.ok(parsable);
});

test("conflicts within one source name both options and lines; unsupported counts are refused", () => {
  throwsUsage(() => job("#!/bin/sh\n#SBATCH --gres=gpu:2\n#SBATCH --gpus=1\n"), "job.sh:3:", "--gpus=1 conflicts with --gres=gpu:2 (job.sh:2)");
  throwsUsage(() => job("#!/bin/sh\n#SBATCH --mem=1G --mem-per-cpu=1G\n"), "job.sh:2:", "conflicts");
  throwsUsage(() => job("#!/bin/sh\n", cli("--gres=gpu:1", "-G", "2")), "--gpus=2 conflicts with --gres=gpu:1");
  throwsUsage(() => job("#!/bin/sh\n#SBATCH -N 2\n"), "job.sh:2:", "only 1");
  throwsUsage(() => job("#!/bin/sh\n#SBATCH --ntasks=4\n"), "job.sh:2:", "only 1");
  // A repeat of the same option: the later one wins, as with sbatch.
  assert.is(job("#!/bin/sh\n#SBATCH -t 5\n#SBATCH -t 7\n").spec.timeoutMs, 7 * MIN);
});

test("malformed values name the file and line", () => {
  throwsUsage(() => job("#!/bin/sh\n\n#SBATCH --time=soon\n"), "job.sh:3: --time:", "soon");
  throwsUsage(() => job("#!/bin/sh\n#SBATCH --mem=lots\n"), "job.sh:2: --mem:");
  throwsUsage(() => job("#!/bin/sh\n#SBATCH --gres=gpu:x:y\n"), "job.sh:2: --gres:");
  throwsUsage(() => job("#!/bin/sh\n#SBATCH -o %4a.out\n"), "job.sh:2: --output:");
  throwsUsage(() => job("#!/bin/sh\n#SBATCH --open-mode=sideways\n"), "job.sh:2: --open-mode:");
  throwsUsage(() => job("#!/bin/sh\n#SBATCH --array=\n"), "job.sh:2:", "--array needs a range");
  throwsUsage(() => job("#!/bin/sh\n#SBATCH --foo=1\n"), "job.sh:2: unknown #SBATCH option --foo");
  throwsUsage(() => job("#!/bin/sh\n", cli("--time=x")), "--time:");
});

test("harmless options (mail, qos, ...) are ignored with a warning naming the line", () => {
  const { warnings } = job("#!/bin/sh\n#SBATCH --mail-type=END --mail-user=a@b\n#SBATCH -q high\n");
  assert.equal(warnings, [
    "job.sh:2: --mail-type ignored: Taskgrid sends no mail",
    "job.sh:2: --mail-user ignored: Taskgrid sends no mail",
    "job.sh:3: --qos ignored: no QOS: use taskgrid submit --priority",
  ]);
});

test("--wrap makes a /bin/sh script named wrap; scriptSettings reads only #SBATCH lines", () => {
  const { spec } = sbatchJob(wrapJobScript("echo hi"), [], [], ctx);
  assert.is(spec.name, "wrap");
  assert.is(spec.env![`${SCRIPT_ENV_PREFIX}0`], "#!/bin/sh\necho hi\n");
  assert.is(scriptSettings(script("#!/bin/sh\n#TASKGRID --gpus 1\n#SBATCH -t 1\n")).length, 1);
});

test("the sbatch verb: no script, a script with --wrap, a missing file, an unknown option: exit 2 with the reason", async () => {
  const none = await runCli(["sbatch"]);
  assert.is(none.code, 2);
  assert.match(none.err, /no job script given/);
  const both = await runCli(["sbatch", "--wrap", "echo", "job.sh"]);
  assert.is(both.code, 2);
  assert.match(both.err, /--wrap runs its command instead of a script/);
  const missing = await runCli(["sbatch", "no-such-job.sh"]);
  assert.is(missing.code, 2);
  assert.match(missing.err, /no-such-job\.sh: cannot read the job script: no such file/);
  const unknown = await runCli(["sbatch", "--foo", "job.sh"]);
  assert.is(unknown.code, 2);
  assert.match(unknown.err, /unknown flag --foo/);
  const help = await runCli(["sbatch", "--help"]);
  assert.is(help.code, 0);
  assert.match(help.out, /--gres gpu\[:TYPE\]:N/);
});

/** Standard input holding `bytes` (read for real, in chunks), or a terminal. */
const stdin = (bytes: string | Buffer, isTTY = false): StdinSource => {
  const data = Buffer.from(bytes);
  return { isTTY, read: (max) => readAll(Readable.from([data.subarray(0, 7), data.subarray(7)]), max) };
};

/** The CLI in-process with `input` on its stdin (no master: each case fails before it would call one). */
async function sbatchWithStdin(argv: string[], input: StdinSource | undefined) {
  let out = "";
  let err = "";
  const io: Io = { out: (t) => void (out += t), err: (t) => void (err += t), errIsTTY: false, env: {}, now: () => new Date(), stdin: input };
  const code = await main(["sbatch", ...argv], io);
  return { code, out, err };
}

test("a script on stdin (no script, or -) is read by a file's rules: named <stdin>, job name sbatch, #SBATCH lines, CRLF", async () => {
  const piped = await readStdinJobScript(stdin("#!/bin/bash\r\n#SBATCH -c 2 -t 5\r\necho hi\r\n"), "no script");
  assert.equal([piped.path, piped.name, piped.dosLineBreaks, piped.interpreter], ["<stdin>", "sbatch", true, "/bin/bash"]);
  const { spec } = sbatchJob(piped, ["a"], [], ctx);
  assert.is(spec.name, "sbatch"); // Slurm's name for a job whose script came on stdin
  assert.equal([spec.resources?.cpuMillis, spec.timeoutMs], [2000, 5 * MIN]);
  assert.is(spec.env![`${SCRIPT_ENV_PREFIX}0`], "#!/bin/bash\n#SBATCH -c 2 -t 5\necho hi\n");
  assert.equal(spec.command!.slice(3), ["sbatch", "a"]);

  // Through the verb: errors name "<stdin>:N", with no script and with "-" alike; the CRLF warning too.
  const unknown = await sbatchWithStdin(["-c", "2"], stdin("#!/bin/sh\r\n#SBATCH -t 5\r\n#SBATCH --foo\r\n"));
  assert.is(unknown.code, 2);
  assert.match(unknown.err, "<stdin>: DOS line breaks");
  assert.match(unknown.err, "error: <stdin>:3: unknown #SBATCH option --foo");
  const dash = await sbatchWithStdin(["-", "arg"], stdin("echo no shebang\n"));
  assert.is(dash.code, 2);
  assert.match(dash.err, "error: <stdin>:1: not a job script: the first line must name its interpreter");
  const badTime = await sbatchWithStdin(["-"], stdin("#!/bin/sh\n\n#SBATCH --time=soon\n"));
  assert.match(badTime.err, "error: <stdin>:3: --time:");
  assert.is(badTime.out, "");
});

test("stdin that is no script: a terminal (the usage error, nothing read), none, empty, too big", async () => {
  let read = false;
  const terminal: StdinSource = {
    isTTY: true,
    read: async () => {
      read = true;
      return Buffer.from("#!/bin/sh\n");
    },
  };
  for (const argv of [[], ["-"], ["-c", "2"]]) {
    const r = await sbatchWithStdin(argv, terminal);
    assert.is(r.code, 2);
    assert.match(r.err, "error: no job script given: taskgrid sbatch job.sh, taskgrid sbatch < job.sh, or taskgrid sbatch --wrap");
  }
  assert.not.ok(read, "a terminal is never read");
  assert.match((await sbatchWithStdin([], undefined)).err, "no job script given");
  const empty = await sbatchWithStdin([], stdin(""));
  assert.match(empty.err, "error: <stdin>: the job script is empty");
  const big = await sbatchWithStdin([], stdin(`#!/bin/sh\n${"#".repeat(1024 * 1024)}\n`));
  assert.match(big.err, "error: <stdin>: the job script is over 1048576 bytes");
  // --wrap takes no script: "-" with it is refused, and stdin is not read.
  const wrap = await sbatchWithStdin(["--wrap", "true", "-"], terminal);
  assert.match(wrap.err, '--wrap runs its command instead of a script: drop "-"');
});

test("-W/--wait, from the command line or a #SBATCH line; --wait-unschedulable is listed", async () => {
  assert.not.ok(job("#!/bin/sh\n").wait);
  assert.ok(job("#!/bin/sh\n#SBATCH -W\n").wait);
  assert.ok(job("#!/bin/sh\n", cli("--wait")).wait);
  assert.ok(job("#!/bin/sh\n", cli("-W")).wait);
  throwsUsage(() => job("#!/bin/sh\n#SBATCH --wait=yes\n"), "job.sh:2:", "--wait takes no value");
  const help = await runCli(["sbatch", "--help"]);
  assert.match(help.out, /-W, --wait +return when the job has ended/);
  assert.match(help.out, /--wait-unschedulable/);
});

test.run();
