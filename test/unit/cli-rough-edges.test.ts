// The newcomer's rough edges in the CLI's renderings (issue 17): ls's REASON and WORKER columns,
// why each attempt was retried, and a missed deadline in `get`.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { deadlineNote, formatTaskDetail, formatTaskTable } from "../../src/cli/render-task.js";
import { Task, TaskResult } from "../../src/gen/taskgrid/v1/task.js";
import { AttemptOutcome, TaskState } from "../../src/gen/taskgrid/v1/types.js";

const now = new Date("2026-01-01T12:00:00Z");
const ago = (ms: number) => new Date(now.getTime() - ms);

test("ls: REASON shows a queued task's pending reason, shortened; WORKER the current attempt's worker", () => {
  const queued = Task.fromPartial({
    id: "q1",
    state: TaskState.TASK_STATE_QUEUED,
    createdAt: ago(5000),
    spec: { command: ["train"] },
    pendingReason: "unschedulable: no worker can ever run it (e.g. w1 has 0 GPUs, needs 1 of any model)",
  });
  const running = Task.fromPartial({
    id: "r1",
    state: TaskState.TASK_STATE_RUNNING,
    createdAt: ago(5000),
    spec: { command: ["serve"] },
    attempts: [{ id: "a1", number: 1, workerId: "gpu-7", assignedAt: ago(4000) }],
  });
  const lines = formatTaskTable([queued, running], now).split("\n");
  assert.match(lines[0], /WORKER\s+REASON$/);
  assert.match(lines[1], /^q1 .* -\s+unschedulable: no worker can ever run it \(e\.g\. …$/);
  assert.ok(lines[1].split("unschedulable")[1].length + "unschedulable".length <= 48, lines[1]);
  assert.match(lines[2], /^r1 .* gpu-7\s+-$/);
});

test("get: each retried attempt says why and which retry; requeues say they used none", () => {
  const ended = (number: number, outcome: AttemptOutcome, result: Partial<TaskResult>) => ({
    id: `a${number}`,
    number,
    workerId: `w${number}`,
    assignedAt: ago(60_000),
    finishedAt: ago(50_000),
    result: TaskResult.fromPartial({ outcome, ...result }),
  });
  const task = Task.fromPartial({
    id: "t1",
    state: TaskState.TASK_STATE_FAILED,
    spec: { command: ["x"], maxRetries: 2 },
    attempts: [
      ended(1, AttemptOutcome.ATTEMPT_OUTCOME_FAILED, { exitCode: 3 }),
      ended(2, AttemptOutcome.ATTEMPT_OUTCOME_LOST, { exitCode: -1, message: "worker w2 went OFFLINE" }),
      ended(3, AttemptOutcome.ATTEMPT_OUTCOME_FAILED, { exitCode: -1, signal: "SIGKILL" }),
      ended(4, AttemptOutcome.ATTEMPT_OUTCOME_FAILED, { exitCode: 3 }),
    ],
  });
  const out = formatTaskDetail(task, now);
  assert.match(out, /#1 .* -> retried \(exit code 3, retry 1 of 2\)\n/);
  assert.match(out, /#2 .* -> requeued \(lost by the infrastructure: no retry used\)\n/);
  assert.match(out, /#3 .* -> retried \(signal SIGKILL, retry 2 of 2\)\n/);
  assert.match(out, /#4 .* exit 3\n/);
  assert.not.match(out, /#4 .*->/);
});

test("get: a missed deadline says by how much (ended late, or still going past it)", () => {
  const late = Task.fromPartial({
    id: "t1",
    state: TaskState.TASK_STATE_SUCCEEDED,
    spec: { command: ["x"] },
    deadline: ago(10 * 60_000),
    updatedAt: ago(7 * 60_000),
    deadlineMissed: true,
  });
  assert.is(deadlineNote(late, now), " (deadline missed by 3m)");
  assert.match(formatTaskDetail(late, now), /Deadline:\s+.*\(deadline missed by 3m\)/);
  const running = Task.fromPartial({ id: "t2", state: TaskState.TASK_STATE_RUNNING, spec: { command: ["x"] }, deadline: ago(90_000) });
  assert.is(deadlineNote(running, now), " (deadline missed by 1m30s)");
  const onTime = Task.fromPartial({ id: "t3", state: TaskState.TASK_STATE_SUCCEEDED, spec: { command: ["x"] }, deadline: ago(1000), updatedAt: ago(5000) });
  assert.is(deadlineNote(onTime, now), "");
  const ahead = Task.fromPartial({ id: "t4", state: TaskState.TASK_STATE_QUEUED, spec: { command: ["x"] }, deadline: new Date(now.getTime() + 60_000) });
  assert.is(deadlineNote(ahead, now), "");
});

test.run();
