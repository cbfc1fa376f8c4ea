// Preemption end to end (issue 16) with a real agent process on a full worker (one task slot): a
// LIVE task preempts a running BATCH task; the BATCH process sees its signal and the preempt file,
// checkpoints and exits within the grace; its task is queued again without a retry, runs after the
// LIVE task with the same TASKGRID_CHECKPOINT_DIR and TASKGRID_RESTART_COUNT 1, resumes from the
// checkpoint and succeeds. A non-preemptible task is never signalled: the LIVE task waits for it.
// Each process appends what it saw to a log file, so the test counts what actually ran.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type TaskgridClient } from "../../src/client/index.js";
import { AttemptOutcome, QueueClass, TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { Proc } from "../helpers/processes.js";
import { cancelActiveTasks, eventually, TaskEvents } from "../helpers/task-watch.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

/** Waiting with nothing told to stop: no room, or (backfill easy, the default) a reservation. */
const WAITS_WITHOUT_PREEMPTING = /^(waiting: no worker has free resources|reserved: starts ~)/;

const e2e = suite<{ m: TestMaster; agent: Proc; client: TaskgridClient; dir: string }>("preemption e2e");

/**
 * A BATCH job that checkpoints on SIGTERM: on a restart it resumes from the checkpoint and ends;
 * else it says it runs (file $2) and loops until the signal, or until file $3 appears.
 */
const BATCH_JOB = `
log="$1"
ckpt="$TASKGRID_CHECKPOINT_DIR/state"
echo "start restart=$TASKGRID_RESTART_COUNT dir=$TASKGRID_CHECKPOINT_DIR" >> "$log"
if [ -f "$ckpt" ]; then echo "resumed from $(cat "$ckpt")" >> "$log"; exit 0; fi
trap 'echo "signal: $(cat "$TASKGRID_PREEMPT_FILE")" >> "$log"; echo step-7 > "$ckpt"; exit 0' TERM
touch "$2"
while [ ! -f "$3" ]; do sleep 0.05; done
echo "finished without a signal" >> "$log"
`;

e2e.before(async (ctx) => {
  ctx.m = await startTestMaster();
  ctx.dir = mkdtempSync(join(tmpdir(), "taskgrid-preempt-"));
  ctx.agent = new Proc([
    "agent",
    "--master",
    ctx.m.address,
    "--id",
    "one-slot",
    "--tags",
    "preempt-e2e",
    "--max-tasks",
    "1",
    "--checkpoint-dir",
    join(ctx.dir, "checkpoints"),
  ]);
  await ctx.agent.waitFor(/"registered"/);
  ctx.client = createClient(ctx.m.address);
});

e2e.after(async (ctx) => {
  writeFileSync(join(ctx.dir, "release"), "");
  await cancelActiveTasks(ctx.client);
  ctx.client.close();
  await ctx.agent.stop();
  await ctx.m.cleanup();
  rmSync(ctx.dir, { recursive: true, force: true });
});

function batchSpec(dir: string, name: string, extra: Record<string, unknown> = {}) {
  const log = join(dir, `${name}.log`);
  return {
    log,
    running: join(dir, `${name}.running`),
    spec: {
      name,
      command: ["sh", "-c", BATCH_JOB, "sh", log, join(dir, `${name}.running`), join(dir, "release")],
      requiredTags: ["preempt-e2e"],
      queueClass: QueueClass.QUEUE_CLASS_BATCH,
      resources: { cpuMillis: 100, memoryMib: 64 },
      ...extra,
    },
  };
}

const liveSpec = (name: string) => ({
  name,
  command: ["sh", "-c", "echo live ran"],
  requiredTags: ["preempt-e2e"],
  queueClass: QueueClass.QUEUE_CLASS_LIVE,
  resources: { cpuMillis: 100, memoryMib: 64 },
});

e2e("a LIVE task preempts the BATCH task; BATCH sees SIGTERM and the preempt file, checkpoints, is requeued and resumes", async ({ client, dir }) => {
  const batch = batchSpec(dir, "batch");
  const batchId = (await client.submitTask(batch.spec)).task.id;
  const events = new TaskEvents(client, [batchId]);
  try {
    await events.state(TaskState.TASK_STATE_RUNNING);
    await eventually(async () => existsSync(batch.running), "the BATCH process runs");
    const liveId = (await client.submitTask(liveSpec("live"))).task.id;
    const liveEvents = new TaskEvents(client, [liveId]);
    try {
      await liveEvents.state(TaskState.TASK_STATE_SUCCEEDED);
    } finally {
      liveEvents.close();
    }
    await events.state(TaskState.TASK_STATE_SUCCEEDED);
  } finally {
    events.close();
  }
  const b = await client.getTask(batchId);
  assert.is(b.attempts.length, 2);
  const [first, second] = b.attempts;
  assert.is(first.result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_PREEMPTED);
  assert.is(first.result!.exitCode, 0, "it exited on its own within the grace");
  assert.is(first.result!.signal, "");
  assert.match(first.result!.message, /^preempted by task \S+ \(LIVE NORMAL\)/);
  assert.is(second.result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
  assert.is(b.retriesUsed, 0);
  assert.is(b.requeues, 0);
  const ckptDir = join(dir, "checkpoints", batchId);
  assert.equal(readFileSync(batch.log, "utf8").trim().split("\n"), [
    `start restart=0 dir=${ckptDir}`,
    "signal: TASKGRID_PREEMPTED=1",
    `start restart=1 dir=${ckptDir}`,
    "resumed from step-7",
  ]);
});

e2e("the LIVE task ran only once the BATCH process was gone (one slot, never both)", async ({ client }) => {
  const tasks = (await client.listTasks({ pageSize: 100 })).tasks;
  const b = await client.getTask(tasks.find((t) => t.spec?.name === "batch")!.id);
  const live = await client.getTask(tasks.find((t) => t.spec?.name === "live")!.id);
  assert.ok(live.attempts[0].startedAt!.getTime() >= b.attempts[0].finishedAt!.getTime(), "LIVE started after the preempted attempt ended");
  assert.ok(b.attempts[1].startedAt!.getTime() >= live.attempts[0].finishedAt!.getTime(), "BATCH ran again after LIVE ended");
});

e2e("a non-preemptible BATCH task is never signalled: the LIVE task waits for it", async ({ client, dir }) => {
  const batch = batchSpec(dir, "keep", { preemptible: false });
  const batchId = (await client.submitTask(batch.spec)).task.id;
  const events = new TaskEvents(client, [batchId]);
  try {
    await events.state(TaskState.TASK_STATE_RUNNING);
    await eventually(async () => existsSync(batch.running), "the BATCH process runs");
    const liveId = (await client.submitTask(liveSpec("live-waits"))).task.id;
    const waiting = await client.getTask(liveId);
    assert.is(waiting.state, TaskState.TASK_STATE_QUEUED);
    assert.match(waiting.pendingReason, WAITS_WITHOUT_PREEMPTING);
    writeFileSync(join(dir, "release"), "");
    await events.state(TaskState.TASK_STATE_SUCCEEDED);
    await eventually(async () => (await client.getTask(liveId)).state === TaskState.TASK_STATE_SUCCEEDED, "LIVE ran after");
  } finally {
    events.close();
  }
  const b = await client.getTask(batchId);
  assert.is(b.attempts.length, 1);
  assert.equal(readFileSync(batch.log, "utf8").trim().split("\n"), [`start restart=0 dir=${join(dir, "checkpoints", batchId)}`, "finished without a signal"]);
});

e2e.run();
