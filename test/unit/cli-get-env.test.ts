// `taskgrid get` and a task's environment (issue 17): sbatch copies the submitter's whole
// environment into the task, so `get` shows its count and names, the values only with --env;
// `ls` shows none of it.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { envSummary } from "../../src/cli/render-env.js";
import { formatTaskDetail, formatTaskTable } from "../../src/cli/render-task.js";
import { Task } from "../../src/gen/taskgrid/v1/task.js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { runCli } from "../helpers/run-cli.js";

const now = new Date("2025-01-01T12:00:00Z");
const task = (env: Record<string, string>) =>
  Task.fromPartial({ id: "t1", state: TaskState.TASK_STATE_QUEUED, createdAt: now, spec: { name: "job", command: ["/bin/sh", "-c", "x"], env } });

test("get: the env's count and names, never a value; --env: one NAME=value line each, control characters escaped", () => {
  const env = { HOME: "/home/ann", AWS_SECRET_ACCESS_KEY: "s3cr3t", TASKGRID_JOB_SCRIPT_0: "#!/bin/sh\necho hi\n" };
  const out = formatTaskDetail(task(env), now);
  assert.match(out, /\nEnv: +3 variables \(values hidden, get --env shows them\): HOME, AWS_SECRET_ACCESS_KEY, TASKGRID_JOB_SCRIPT_0\n/);
  assert.not.match(out, "s3cr3t");
  assert.not.match(out, "/home/ann");
  assert.not.match(out, "Environment:");

  const shown = formatTaskDetail(task(env), now, [], { envValues: true });
  assert.match(shown, /\nEnv: +3 variables \(under Environment\)\n/);
  assert.match(shown, 'Environment:\n  HOME=/home/ann\n  AWS_SECRET_ACCESS_KEY=s3cr3t\n  TASKGRID_JOB_SCRIPT_0="#!/bin/sh\\necho hi\\n"\n');

  assert.not.match(formatTaskDetail(task({}), now), "Env:");
  assert.not.match(formatTaskDetail(task({}), now, [], { envValues: true }), "Environment:");
});

test("get: an --export=ALL env of dozens of variables stays one line, the count saying how many", () => {
  const env = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`VARIABLE_${i}`, `value ${i}`]));
  const line = envSummary(env, false)!;
  assert.ok(line.startsWith("60 variables (values hidden, get --env shows them): VARIABLE_0, VARIABLE_1, "), line);
  const shownNames = line.split(": ")[1].split(", ... ")[0].split(", ").length;
  assert.ok(line.endsWith(`, ... (+${60 - shownNames} more)`), line);
  assert.ok(shownNames >= 5 && line.length < 200, line);
  assert.is(envSummary({ ONE: "1" }, false), "1 variable (values hidden, get --env shows them): ONE");
  assert.ok(!formatTaskDetail(task(env), now).includes("value "), "no value printed");
});

test("ls shows no env; get --help lists --env", async () => {
  const table = formatTaskTable([task({ SECRET_TOKEN: "s3cr3t" })], now);
  assert.not.match(table, "SECRET_TOKEN");
  assert.not.match(table, "s3cr3t");
  const help = await runCli(["get", "--help"]);
  assert.match(help.out, /--env +print the task's environment variables with their values/);
});

test.run();
