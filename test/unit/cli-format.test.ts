// Human output of the `taskgrid` CLI: tables, ages, sizes, and the task / worker / scheduler views.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { EventPrinter } from "../../src/cli/follow-tasks.js";
import type { Io } from "../../src/cli/command.js";
import { formatAge, formatCores, formatDuration, formatMib, formatTable, progressBar, truncate } from "../../src/cli/format.js";
import { formatSchedulerInfo, formatWorkerTable } from "../../src/cli/render-cluster.js";
import { formatCommand, formatEventLine, formatTaskDetail, formatTaskTable } from "../../src/cli/render-task.js";
import { GetSchedulerInfoResponse, MasterRole, Worker } from "../../src/gen/taskgrid/v1/admin_service.js";
import { Task, TaskEvent, TaskResult } from "../../src/gen/taskgrid/v1/task.js";
import { AttemptOutcome, Priority, QueueClass, TaskState, WorkerStatus } from "../../src/gen/taskgrid/v1/types.js";

const now = new Date("2025-01-01T12:00:00Z");
const ago = (ms: number) => new Date(now.getTime() - ms);

test("table columns align and lines carry no trailing spaces", () => {
  const out = formatTable(
    ["ID", "STATE", "NAME"],
    [
      ["a", "RUNNING", "x"],
      ["bbbb", "QUEUED", ""],
    ],
  );
  assert.is(out, "ID    STATE    NAME\na     RUNNING  x\nbbbb  QUEUED\n");
});

test("an empty table still prints its header", () => {
  assert.is(formatTable(["ID", "STATE"], []), "ID  STATE\n");
});

const durations: [number, string][] = [
  [0, "0ms"],
  [250, "250ms"],
  [1500, "1.5s"],
  [30_000, "30s"],
  [90_000, "1m30s"],
  [7_200_000, "2h"],
  [90_061_000, "1d1h"],
];
for (const [ms, text] of durations) test(`duration ${ms} ms prints as ${text}`, () => assert.is(formatDuration(ms), text));

const ages: [number, string][] = [
  [0, "0s"],
  [59_000, "59s"],
  [60_000, "1m"],
  [3_599_000, "59m"],
  [7_200_000, "2h"],
  [3 * 86_400_000, "3d"],
  [-5000, "0s"],
];
for (const [ms, text] of ages) test(`age of ${ms} ms prints as ${text}`, () => assert.is(formatAge(ago(ms), now), text));

test("sizes, cores, truncation, progress bar, shell quoting", () => {
  assert.is(formatAge(undefined, now), "-");
  assert.is(formatMib(512), "512Mi");
  assert.is(formatMib(1536), "1.5Gi");
  assert.is(formatMib(2048), "2Gi");
  assert.is(formatCores(1500), "1.5");
  assert.is(formatCores(250), "0.25");
  assert.is(truncate("abcdef", 4), "abc…");
  assert.is(truncate("abc", 4), "abc");
  assert.is(progressBar(50, 10), "[#####.....]  50%");
  assert.is(progressBar(150, 4), "[####] 100%");
  assert.is(formatCommand(["sh", "-c", "echo it's"]), `sh -c 'echo it'\\''s'`);
});

function sampleTask(): Task {
  return Task.fromPartial({
    id: "t1",
    state: TaskState.TASK_STATE_FAILED,
    createdAt: ago(120_000),
    spec: {
      name: "",
      command: ["python", "train.py"],
      queueClass: QueueClass.QUEUE_CLASS_LIVE,
      priority: Priority.PRIORITY_HIGH,
      resources: { cpuMillis: 500, memoryMib: 1024, gpuCount: 1, gpuModel: "H100" },
    },
    attempts: [
      {
        id: "a1",
        number: 1,
        workerId: "worker-1",
        gpuIndexes: [0],
        assignedAt: ago(60_000),
        startedAt: ago(59_000),
        finishedAt: ago(1000),
        result: { outcome: AttemptOutcome.ATTEMPT_OUTCOME_FAILED, exitCode: 3, durationMs: 58_000, outputTail: "boom\n" },
        decision: {
          strategy: "rts",
          feasibleWorkers: 2,
          weightsVersion: "abc123",
          chosen: { workerId: "worker-1", score: 0.8123, deadline: 1, affinity: 0.5, load: 0.9, io: 1, success: 0.75, penalty: 0 },
          runnerUp: { workerId: "worker-2", score: 0.6, deadline: 1, affinity: 0, load: 0.5, io: 1, success: 0.5, penalty: 0.1 },
        },
      },
    ],
    result: { outcome: AttemptOutcome.ATTEMPT_OUTCOME_FAILED, exitCode: 3, durationMs: 58_000, outputTail: "boom\n" },
  });
}

test("task table shows name or command, short enum names, age and worker", () => {
  const out = formatTaskTable([sampleTask()], now);
  assert.is(out, "ID  STATE   QUEUE  PRIO  NAME/COMMAND     AGE  WORKER    REASON\nt1  FAILED  LIVE   HIGH  python train.py  2m   worker-1  -\n");
});

test("task detail explains the placement and shows the result and output", () => {
  const out = formatTaskDetail(sampleTask(), now);
  assert.match(out, /State:\s+FAILED/);
  assert.match(out, /Resources:\s+0\.5 cpu, 1Gi, 1 gpu \(H100\)/);
  assert.match(out, /#1 {2}worker-1 {2}gpus 0 .* FAILED, exit 3, after 58s/);
  assert.match(out, /Placement of attempt #1: strategy rts, 2 feasible workers, weights abc123/);
  assert.match(out, /chosen\s+worker-1\s+0\.812\s+1\s+0\.5\s+0\.9\s+1\s+0\.75\s+0/);
  assert.match(out, /runner-up\s+worker-2\s+0\.6/);
  assert.match(out, /Output \(tail\):\n {2}boom\n$/);
});

test("get says what each earlier attempt led to: a requeue (no retry used) or a retry, and the budgets used", () => {
  const attempt = (number: number, outcome: AttemptOutcome, message: string) => ({
    id: `a${number}`,
    number,
    workerId: `w${number}`,
    gpuIndexes: [],
    assignedAt: ago(60_000),
    startedAt: ago(59_000),
    finishedAt: ago(58_000),
    result: TaskResult.fromPartial({ outcome, exitCode: outcome === AttemptOutcome.ATTEMPT_OUTCOME_FAILED ? 1 : -1, message }),
  });
  const task = Task.fromPartial({
    id: "t1",
    state: TaskState.TASK_STATE_RUNNING,
    spec: { command: ["true"], maxRetries: 2 },
    retriesUsed: 1,
    requeues: 1,
    attempts: [
      attempt(1, AttemptOutcome.ATTEMPT_OUTCOME_LOST, "worker w1 went OFFLINE"),
      attempt(2, AttemptOutcome.ATTEMPT_OUTCOME_FAILED, ""),
      { id: "a3", number: 3, workerId: "w3", assignedAt: ago(1000) },
    ],
  });
  const out = formatTaskDetail(task, now);
  assert.match(out, /#1 {2}w1 .* LOST \(worker w1 went OFFLINE\) {2}-> requeued \(lost by the infrastructure: no retry used\)\n/);
  assert.match(out, /#2 {2}w2 .* FAILED, exit 1 {2}-> retried \(exit code 1, retry 1 of 2\)\n/);
  assert.match(out, /#3 {2}w3 .* in progress\n/);
  assert.match(out, /Retries:\s+1 of 2 used/);
  assert.match(out, /Requeues:\s+1 \(attempts lost by the infrastructure\)/);
});

test("event lines: state changes, then progress", () => {
  const e = (state: TaskState, extra: Partial<TaskEvent> = {}) => TaskEvent.fromPartial({ taskId: "t1", state, ...extra });
  assert.is(formatEventLine(e(TaskState.TASK_STATE_RUNNING, { workerId: "w1" }), TaskState.TASK_STATE_ASSIGNED), "task t1 RUNNING on w1");
  assert.is(
    formatEventLine(e(TaskState.TASK_STATE_RUNNING, { progress: 42, progressMessage: "epoch 2" }), TaskState.TASK_STATE_RUNNING),
    "task t1 progress 42% epoch 2",
  );
  const canceled = e(TaskState.TASK_STATE_CANCELED, {
    result: TaskResult.fromPartial({ outcome: AttemptOutcome.ATTEMPT_OUTCOME_CANCELED, exitCode: -1, message: "by alice" }),
  });
  assert.is(formatEventLine(canceled, TaskState.TASK_STATE_RUNNING), "task t1 CANCELED (by alice)");
});

function captureIo(): Io & { errText: string } {
  const io = {
    errText: "",
    out() {},
    err(t: string) {
      io.errText += t;
    },
    errIsTTY: false,
    env: {},
    now: () => now,
  };
  return io;
}

test("event printer without a terminal prints plain lines and skips no-op repeats", () => {
  const io = captureIo();
  const printer = new EventPrinter(io, false);
  const e = (state: TaskState, progress = 0) => TaskEvent.fromPartial({ taskId: "t1", state, progress });
  for (const ev of [e(TaskState.TASK_STATE_QUEUED), e(TaskState.TASK_STATE_QUEUED), e(TaskState.TASK_STATE_RUNNING), e(TaskState.TASK_STATE_RUNNING, 50)])
    printer.print(ev);
  assert.is(io.errText, "task t1 QUEUED\ntask t1 RUNNING\ntask t1 progress 50%\n");
});

test("event printer on a terminal redraws a bar in place", () => {
  const io = captureIo();
  const printer = new EventPrinter(io, true);
  printer.print(TaskEvent.fromPartial({ taskId: "t1", state: TaskState.TASK_STATE_RUNNING }));
  printer.print(TaskEvent.fromPartial({ taskId: "t1", state: TaskState.TASK_STATE_RUNNING, progress: 10 }));
  printer.print(TaskEvent.fromPartial({ taskId: "t1", state: TaskState.TASK_STATE_SUCCEEDED }));
  assert.ok(io.errText.includes("\r\x1b[K[###"), io.errText);
  assert.ok(io.errText.endsWith("\r\x1b[Ktask t1 SUCCEEDED\n"), JSON.stringify(io.errText));
});

test("workers table shows allocation over capacity and last seen", () => {
  const w = Worker.fromPartial({
    id: "w1",
    status: WorkerStatus.WORKER_STATUS_ONLINE,
    tags: ["gpu", "ssd"],
    lastSeenAt: ago(2000),
    capacity: { cpuMillis: 8000, memoryMib: 16384, maxTasks: 8, gpus: [{ index: 0 }, { index: 1 }] },
    allocatedCpuMillis: 1500,
    allocatedMemoryMib: 512,
    allocatedGpuIndexes: [1],
    runningAttempts: 2,
  });
  assert.is(
    formatWorkerTable([w], now),
    "ID  STATUS  TAGS     CPU    MEM         GPUS  RUNNING  LAST SEEN\nw1  ONLINE  gpu,ssd  1.5/8  512Mi/16Gi  1/2   2/8      2s ago\n",
  );
});

test("scheduler info shows weights, fallback rate, queues and workers", () => {
  const info = GetSchedulerInfoResponse.fromPartial({
    orderingPolicy: "priority",
    placementStrategy: "rts",
    weightsVersion: "abc",
    weightsError: "w_load: must be >= 0",
    weights: { wDeadline: 0.35, wAffinity: 0.2, wLoad: 0.25, wIo: 0.1, wSuccess: 0.05, wPenalty: 0.05 },
    decisionsByStrategy: { rts: 90, round_robin: 10 },
    fallbacksByReason: { no_telemetry: 10 },
    queueLengths: [
      { queueClass: QueueClass.QUEUE_CLASS_LIVE, priority: Priority.PRIORITY_HIGH, length: 4 },
      { queueClass: QueueClass.QUEUE_CLASS_BATCH, priority: Priority.PRIORITY_LOW, length: 0 },
    ],
    workersByStatus: [{ status: WorkerStatus.WORKER_STATUS_ONLINE, count: 3 }],
  });
  const out = formatSchedulerInfo(info, now);
  assert.match(out, /Weights:\s+D=0\.35 A=0\.2 L=0\.25 I=0\.1 S=0\.05 P=0\.05/);
  assert.match(out, /Reload error:\s+w_load: must be >= 0/);
  assert.match(out, /Decisions:\s+round_robin=10, rts=90/);
  assert.match(out, /Fallback rate:\s+10%/);
  assert.match(out, /Workers:\s+ONLINE=3/);
  assert.match(out, /LIVE\s+HIGH\s+4/);
  assert.not.match(out, /BATCH/);
  assert.not.match(out, /Master:/, "no leadership from a master that predates it");
});

test("scheduler info names the master's role, the epoch and, on a standby, the leader", () => {
  const leader = formatSchedulerInfo(
    GetSchedulerInfoResponse.fromPartial({
      leadership: {
        role: MasterRole.MASTER_ROLE_LEADER,
        epoch: 4,
        masterId: "aaaa",
        masterAddress: "m1:50051",
        leaderAddress: "m1:50051",
        leaderId: "aaaa",
        termsWon: 2,
        termsLost: 1,
        leaderSince: new Date(now.getTime() - 180_000),
      },
    }),
    now,
  );
  assert.match(leader, /Master:\s+m1:50051 \(id aaaa\): LEADER in epoch 4, since .*, 3m ago; terms won 2, lost 1/);
  assert.not.match(leader, /Leader:/);
  const standby = formatSchedulerInfo(
    GetSchedulerInfoResponse.fromPartial({
      leadership: { role: MasterRole.MASTER_ROLE_STANDBY, epoch: 4, masterId: "bbbb", masterAddress: "m2:50051", leaderAddress: "m1:50051", leaderId: "aaaa" },
    }),
    now,
  );
  assert.match(standby, /Master:\s+m2:50051 \(id bbbb\): STANDBY/);
  assert.match(standby, /Leader:\s+m1:50051 \(id aaaa, epoch 4\)/);
});

test.run();
