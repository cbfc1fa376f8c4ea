// Flag values and flag syntax of the `taskgrid` CLI: table-driven, pure.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseArgs } from "../../src/cli/args.js";
import { parseConfigFile, resolveMasterOptions } from "../../src/cli/master-options.js";
import {
  parseAddress,
  parseCpuMillis,
  parseDeadline,
  parseDurationMs,
  parseInteger,
  parseKeyValues,
  parseList,
  parseMemoryMib,
  parseNumber,
  parsePriority,
  parseQueueClass,
  parseTaskStates,
} from "../../src/cli/parse.js";
import { specFromFlags, SPEC_FLAGS } from "../../src/cli/spec-from-flags.js";
import { waitExitCode } from "../../src/cli/wait-guards.js";
import { Priority, QueueClass, TaskState, AttemptOutcome } from "../../src/gen/taskgrid/v1/types.js";
import { throwsUsage } from "../helpers/usage-error.js";

const durations: [string, number][] = [
  ["0", 0],
  ["1500ms", 1500],
  ["30s", 30_000],
  ["5m", 300_000],
  ["1h", 3_600_000],
  ["1h30m", 5_400_000],
  ["1.5h", 5_400_000],
  ["2d", 172_800_000],
  ["1m30s", 90_000],
  ["0.5s", 500],
  ["10s250ms", 10_250],
];
for (const [text, ms] of durations) {
  test(`duration ${text} = ${ms} ms`, () => assert.is(parseDurationMs(text, "estimate"), ms));
}
for (const bad of ["", "30", "5x", "m5", "-1s", "1h 30m", "1.s", "s"]) {
  test(`duration "${bad}" is rejected naming the flag`, () => throwsUsage(() => parseDurationMs(bad, "timeout"), "--timeout", "duration"));
}

test("deadline: +duration is relative to now; ISO is absolute", () => {
  const now = new Date("2025-01-01T00:00:00Z");
  assert.equal(parseDeadline("+30m", "deadline", now), new Date("2025-01-01T00:30:00Z"));
  assert.equal(parseDeadline("2025-02-03T04:05:06Z", "deadline", now), new Date("2025-02-03T04:05:06Z"));
  throwsUsage(() => parseDeadline("tomorrow", "deadline", now), "--deadline", "ISO");
  throwsUsage(() => parseDeadline("+soon", "deadline", now), "--deadline");
});

const cpus: [string, number][] = [
  ["0.5", 500],
  ["2", 2000],
  ["500m", 500],
  ["1.25", 1250],
  ["0", 0],
  ["1024", 1_024_000],
];
for (const [text, millis] of cpus) {
  test(`cpu ${text} = ${millis} millicores`, () => assert.is(parseCpuMillis(text, "cpu"), millis));
}
for (const bad of ["abc", "-1", "1.5m", "", "2 cores"]) {
  test(`cpu "${bad}" is rejected`, () => throwsUsage(() => parseCpuMillis(bad, "cpu"), "--cpu"));
}
test("cpu: an implausible core count suggests millicores", () => throwsUsage(() => parseCpuMillis("1500", "cpu"), "--cpu", "1500m"));

const mems: [string, number][] = [
  ["512", 512],
  ["512Mi", 512],
  ["2Gi", 2048],
  ["1.5G", 1536],
  ["1GiB", 1024],
  ["1Ti", 1_048_576],
];
for (const [text, mib] of mems) {
  test(`memory ${text} = ${mib} MiB`, () => assert.is(parseMemoryMib(text, "mem"), mib));
}
for (const bad of ["lots", "2Pb", "-5", ""]) {
  test(`memory "${bad}" is rejected`, () => throwsUsage(() => parseMemoryMib(bad, "mem"), "--mem"));
}

test("integers and numbers check form and range", () => {
  assert.is(parseInteger("3", "retries", 0, 100), 3);
  throwsUsage(() => parseInteger("101", "retries", 0, 100), "--retries", "0..100");
  throwsUsage(() => parseInteger("1.5", "gpus", 0), "--gpus", "whole number");
  throwsUsage(() => parseInteger("0", "limit", 1), "--limit", ">= 1");
  assert.is(parseNumber("0.25", "io", 0, 1), 0.25);
  throwsUsage(() => parseNumber("2", "io", 0, 1), "--io", "0..1");
  throwsUsage(() => parseNumber("x", "io", 0, 1), "--io", "not a number");
});

test("key=value pairs: value may be empty or contain '='; keys must be unique", () => {
  assert.equal(parseKeyValues(["a=b", "url=x=y", "empty="], "env"), { a: "b", url: "x=y", empty: "" });
  throwsUsage(() => parseKeyValues(["novalue"], "label"), "--label", "KEY=VALUE");
  throwsUsage(() => parseKeyValues(["=v"], "label"), "--label");
  throwsUsage(() => parseKeyValues(["a=1", "a=2"], "env"), "--env", '"a"');
});

test("lists merge repeats and commas, dropping blanks", () => {
  assert.equal(parseList(["a,b", " c ", "", "d,,"]), ["a", "b", "c", "d"]);
});

test("enums accept any case and the proto prefix", () => {
  assert.is(parseQueueClass("live"), QueueClass.QUEUE_CLASS_LIVE);
  assert.is(parseQueueClass("QUEUE_CLASS_BATCH"), QueueClass.QUEUE_CLASS_BATCH);
  assert.is(parsePriority("High"), Priority.PRIORITY_HIGH);
  assert.equal(parseTaskStates(["running,queued", "RUNNING", "task_state_failed"]), [
    TaskState.TASK_STATE_RUNNING,
    TaskState.TASK_STATE_QUEUED,
    TaskState.TASK_STATE_FAILED,
  ]);
  throwsUsage(() => parseQueueClass("urgent"), "--queue", "live, default, batch");
  throwsUsage(() => parseTaskStates(["done"]), "--state", "succeeded");
});

test("addresses are host:port", () => {
  for (const ok of ["127.0.0.1:50051", "master.local:1", "[::1]:50051"]) assert.is(parseAddress(ok, "master"), ok);
  for (const bad of ["localhost", ":50051", "http://x:1", "a:b"]) throwsUsage(() => parseAddress(bad, "master"), "--master", "host:port");
});

test("flag syntax: --flag value, --flag=value, -h, repeats, -- rest", () => {
  const specs = {
    name: { type: "string", description: "" },
    label: { type: "string", multiple: true, description: "" },
    wait: { type: "boolean", short: "w", description: "" },
  } as const;
  const parsed = parseArgs(["--name", "x", "--label=a=1", "--label", "b=2", "-w", "pos", "--", "echo", "--name"], specs);
  assert.equal(parsed.flags, { name: "x", label: ["a=1", "b=2"], wait: true });
  assert.equal(parsed.positionals, ["pos"]);
  assert.equal(parsed.rest, ["echo", "--name"]);
});

test("flag errors name the flag", () => {
  const specs = { name: { type: "string", value: "NAME", description: "" }, wait: { type: "boolean", description: "" } } as const;
  throwsUsage(() => parseArgs(["--nmae", "x"], specs), "unknown flag --nmae");
  throwsUsage(() => parseArgs(["-q"], specs), "unknown flag -q");
  throwsUsage(() => parseArgs(["--name"], specs), "--name needs a value", "NAME");
  throwsUsage(() => parseArgs(["--name", "--wait"], specs), "--name needs a value");
  throwsUsage(() => parseArgs(["--wait=yes"], specs), "--wait takes no value");
  throwsUsage(() => parseArgs(["--name", "a", "--name", "b"], specs), "--name given more than once");
});

test("stopAtPositional hands the command and its own flags through untouched", () => {
  const parsed = parseArgs(["--wait", "ls", "-la", "--wait"], { wait: { type: "boolean", description: "" } }, { stopAtPositional: true });
  assert.equal(parsed.flags, { wait: true });
  assert.equal(parsed.rest, ["ls", "-la", "--wait"]);
});

test("submit flags build the full TaskSpec", () => {
  const now = new Date("2025-01-01T00:00:00Z");
  const argv = [
    "--name",
    "train",
    "--project",
    "ml",
    "--label",
    "team=a",
    "--queue",
    "live",
    "--priority",
    "high",
    "--cpu",
    "0.5",
    "--mem",
    "2Gi",
    "--gpus",
    "2",
    "--gpu-model",
    "H100",
    "--tags",
    "gpu,ssd",
    "--prefer",
    "zone=eu",
    "--kind",
    "resnet",
    "--io",
    "0.3",
    "--estimate",
    "5m",
    "--deadline",
    "+1h",
    "--timeout",
    "2h",
    "--retries",
    "3",
    "--env",
    "SEED=1",
    "--cwd",
    "/work",
    "--idempotency-key",
    "k1",
    "--",
    "python",
    "train.py",
  ];
  const args = parseArgs(argv, SPEC_FLAGS, { stopAtPositional: true });
  assert.equal(specFromFlags(args, args.rest, now), {
    name: "train",
    project: "ml",
    labels: { team: "a" },
    queueClass: QueueClass.QUEUE_CLASS_LIVE,
    priority: Priority.PRIORITY_HIGH,
    command: ["python", "train.py"],
    env: { SEED: "1" },
    workingDir: "/work",
    resources: { cpuMillis: 500, memoryMib: 2048, gpuCount: 2, gpuModel: "H100", gpuMemoryMib: 0 },
    requiredTags: ["gpu", "ssd"],
    preferredTags: ["zone=eu"],
    kind: "resnet",
    ioIntensity: 0.3,
    estimateMs: 300_000,
    deadline: new Date("2025-01-01T01:00:00Z"),
    timeoutMs: 7_200_000,
    maxRetries: 3,
    idempotencyKey: "k1",
  });
});

test("submit --max-requeues and --retry-backoff set the failure budgets; unset, the master's defaults apply", () => {
  const args = parseArgs(["--max-requeues", "2", "--retry-backoff", "30s", "--", "true"], SPEC_FLAGS, { stopAtPositional: true });
  const spec = specFromFlags(args, args.rest, new Date());
  assert.equal([spec.maxRequeues, spec.retryBackoffMs], [2, 30_000]);
  const plain = parseArgs(["--", "true"], SPEC_FLAGS, { stopAtPositional: true });
  assert.not.ok("maxRequeues" in specFromFlags(plain, plain.rest, new Date()));
  throwsUsage(
    () => specFromFlags(parseArgs(["--max-requeues", "-1", "--", "true"], SPEC_FLAGS, { stopAtPositional: true }), ["true"], new Date()),
    "max-requeues",
  );
});

test("submit without a command is a usage error", () => {
  throwsUsage(() => specFromFlags(parseArgs([], SPEC_FLAGS), [], new Date()), "no command", "--");
});

test("submit --wait exit codes follow the task", () => {
  const result = (exitCode: number) => ({ outcome: AttemptOutcome.ATTEMPT_OUTCOME_FAILED, exitCode, signal: "", outputTail: "", durationMs: 0, message: "" });
  assert.is(waitExitCode(TaskState.TASK_STATE_SUCCEEDED, result(0)), 0);
  assert.is(waitExitCode(TaskState.TASK_STATE_FAILED, result(3)), 3);
  assert.is(waitExitCode(TaskState.TASK_STATE_FAILED, result(-1)), 1);
  assert.is(waitExitCode(TaskState.TASK_STATE_FAILED, undefined), 1);
  assert.is(waitExitCode(TaskState.TASK_STATE_CANCELED, result(-1)), 130);
});

test("master options: file < env < flags; snake_case keys; unknown keys named", () => {
  const specs = {
    listen: { type: "string", description: "" },
    config: { type: "string", description: "" },
    "data-dir": { type: "string", description: "" },
  } as const;
  const files: Record<string, string> = {
    "a.json": '{"listen":"127.0.0.1:1","dataDir":"fromfile","slaMultiplier":3}',
    "b.yaml": "# comment\nlisten: 127.0.0.1:2\nweights_path: 'w.json'\nsla_multiplier: 2.5\n",
  };
  const read = (p: string) =>
    files[p] ??
    (() => {
      throw Object.assign(new Error("nope"), { code: "ENOENT" });
    })();
  const opts = resolveMasterOptions(parseArgs(["--config", "a.json", "--listen", "127.0.0.1:3"], specs), { TASKGRID_DATA_DIR: "fromenv" }, read);
  assert.equal(opts, { listen: "127.0.0.1:3", dataDir: "fromenv", slaMultiplier: 3 });
  assert.equal(resolveMasterOptions(parseArgs(["--config", "b.yaml"], specs), {}, read), { listen: "127.0.0.1:2", weightsPath: "w.json", slaMultiplier: 2.5 });
  throwsUsage(() => resolveMasterOptions(parseArgs(["--config", "missing.json"], specs), {}, read), "--config", "ENOENT");
  throwsUsage(() => parseConfigFile('{"lisen":"x"}', "c.json"), "c.json", '"lisen"');
  throwsUsage(() => parseConfigFile("listen 1", "c.yaml"), "c.yaml:1");
});

test.run();
