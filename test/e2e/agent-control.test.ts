// End to end control of running tasks: a real master and one real agent process running real
// commands. Pause (SIGSTOP: every process of the task is stopped) and resume (SIGCONT) with
// progress events arriving in order, cancel (the process is gone once the agent reports), timeout
// (TIMEOUT, task FAILED), and progress written to TASKGRID_PROGRESS_FILE.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type TaskgridClient, type TaskSpecInput } from "../../src/client/index.js";
import { AttemptOutcome, TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { Proc } from "../helpers/processes.js";
import { alive, cancelActiveTasks, groupProcesses, groupStates, procState, readPid, TaskEvents, waitUntil } from "../helpers/task-watch.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

const e2e = suite<{ m: TestMaster; agent: Proc; client: TaskgridClient; dir: string }>("agent control e2e");

e2e.before(async (ctx) => {
  // Short heartbeats: the agent polls TASKGRID_PROGRESS_FILE on each one.
  ctx.m = await startTestMaster({ heartbeatIntervalMs: 200 });
  ctx.dir = mkdtempSync(join(tmpdir(), "taskgrid-control-"));
  ctx.agent = new Proc(["agent", "--master", ctx.m.address, "--id", "ctl-a", "--tags", "ctl", "--max-tasks", "4"]);
  await ctx.agent.waitFor(/"registered"/);
  ctx.client = createClient(ctx.m.address);
});

e2e.after(async (ctx) => {
  // Whatever a failed test left running must not keep the draining agent alive.
  await cancelActiveTasks(ctx.client);
  ctx.client.close();
  await ctx.agent.stop();
  await ctx.m.cleanup();
  rmSync(ctx.dir, { recursive: true, force: true });
});

const spec = (script: string, args: string[], extra: TaskSpecInput = {}): TaskSpecInput => ({
  command: ["sh", "-c", script, "sh", ...args],
  requiredTags: ["ctl"],
  resources: { cpuMillis: 100, memoryMib: 64 },
  ...extra,
});

const isTerminal = (s: TaskState) => s === TaskState.TASK_STATE_SUCCEEDED || s === TaskState.TASK_STATE_FAILED || s === TaskState.TASK_STATE_CANCELED;

e2e("pause stops every process of the task, resume continues it; progress arrives in order", async ({ client, agent, dir }) => {
  const pidFile = join(dir, "pause.pid");
  const gate = join(dir, "pause.gate");
  execFileSync("mkfifo", [gate]);
  // Held open read-write by the test: the task's open never blocks, and writing the release never can.
  const gateFd = openSync(gate, constants.O_RDWR);
  // Reports 15 and 30 with a background child running (so the group has more than one process),
  // waits at a gate (a blocking read from a FIFO: no forks while paused), then reports 45..90.
  // Not a `sleep` loop: dash forks with vfork, and a SIGSTOP that lands between vfork and exec leaves
  // the parent shell in D (waiting for its stopped child) rather than T.
  const script =
    'echo $$ > "$1"; sleep 60 & bg=$!; echo ::progress 15; echo ::progress 30 at the gate; ' +
    'read go < "$2"; kill $bg; wait $bg; for p in 45 60 75 90; do echo ::progress $p step $p; done';
  const { task } = await client.submitTask(spec(script, [pidFile, gate]));
  const events = new TaskEvents(client, [task.id]);
  try {
    await events.until((e) => e.state === TaskState.TASK_STATE_RUNNING && e.progress >= 30);
    const pid = readPid(pidFile);

    const paused = await client.pauseTask(task.id);
    assert.is(paused.state, TaskState.TASK_STATE_PAUSED);
    await events.until((e) => e.state === TaskState.TASK_STATE_PAUSED);
    // The agent acts on the pause asynchronously: wait until the kernel shows the group stopped.
    await waitUntil(
      () => procState(pid) === "T" && groupStates(pid).length === 2 && groupStates(pid).every((s) => s === "T"),
      () => `every process of the task is stopped (T); group ${pid}: ${JSON.stringify(groupProcesses(pid))}; agent output:\n${agent.output}`,
    );
    assert.is((await client.getTask(task.id)).state, TaskState.TASK_STATE_PAUSED);
    // Still stopped after the master's PAUSED state was read back: nothing resumed it behind our back.
    assert.is(procState(pid), "T");

    const resumed = await client.resumeTask(task.id);
    assert.is(resumed.state, TaskState.TASK_STATE_RUNNING);
    await waitUntil(() => procState(pid) !== "T", "the task's process runs again");
    writeSync(gateFd, "go\n");
    const done = await events.until((e) => isTerminal(e.state));
    assert.is(done.state, TaskState.TASK_STATE_SUCCEEDED);

    const states = events.all.map((e) => e.state).filter((s, i, a) => i === 0 || a[i - 1] !== s);
    const from = states.indexOf(TaskState.TASK_STATE_RUNNING);
    assert.equal(states.slice(from), [TaskState.TASK_STATE_RUNNING, TaskState.TASK_STATE_PAUSED, TaskState.TASK_STATE_RUNNING, TaskState.TASK_STATE_SUCCEEDED]);
    const progress = events.all.map((e) => e.progress);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i] >= progress[i - 1], `progress went back: ${progress.join(",")}`);
    assert.is(progress[progress.length - 1], 90);
    for (const p of [45, 60, 75]) assert.ok(progress.includes(p), `progress ${p} arrived: ${progress.join(",")}`);
    const got = await client.getTask(task.id);
    assert.is(got.progress, 90);
    assert.is(got.progressMessage, "step 90");
    assert.not.ok(alive(pid));
  } finally {
    events.close();
    closeSync(gateFd);
  }
});

e2e("cancel of a running task: CANCELED, and the process is gone once the agent reports", async ({ client, agent, dir }) => {
  const pidFile = join(dir, "cancel.pid");
  const { task } = await client.submitTask(spec('echo $$ > "$1"; echo ::progress 1 started; exec sleep 60', [pidFile]));
  const events = new TaskEvents(client, [task.id]);
  try {
    await events.until((e) => e.state === TaskState.TASK_STATE_RUNNING && e.progress >= 1);
    const pid = readPid(pidFile);
    assert.ok(alive(pid));
    const attemptId = (await client.getTask(task.id)).attempts[0].id;
    const canceled = await client.cancelTask(task.id, "e2e cancel");
    assert.is(canceled.state, TaskState.TASK_STATE_CANCELED);
    await agent.waitFor(new RegExp(`"attempt finished"[^\\n]*"${attemptId}"[^\\n]*CANCELED`));
    assert.not.ok(alive(pid), "kill -0 on the task's process fails");
    assert.not.ok(groupStates(pid).length > 0, "nothing of its process group is left");
    const final = await events.until((e) => isTerminal(e.state));
    assert.is(final.state, TaskState.TASK_STATE_CANCELED);
  } finally {
    events.close();
  }
});

e2e("timeout: the attempt ends TIMEOUT and, without retries, the task FAILS", async ({ client, dir }) => {
  const pidFile = join(dir, "timeout.pid");
  const { task } = await client.submitTask(spec('echo $$ > "$1"; exec sleep 30', [pidFile], { timeoutMs: 300, maxRetries: 0 }));
  const events = new TaskEvents(client, [task.id]);
  try {
    const final = await events.until((e) => isTerminal(e.state));
    assert.is(final.state, TaskState.TASK_STATE_FAILED);
    const got = await client.getTask(task.id);
    assert.is(got.attempts.length, 1);
    assert.is(got.attempts[0].result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_TIMEOUT);
    assert.is(got.result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_TIMEOUT);
    assert.match(got.result!.message, /timed out after 300 ms/);
    assert.not.ok(alive(readPid(pidFile)), "the timed-out process is gone");
  } finally {
    events.close();
  }
});

e2e("progress written to TASKGRID_PROGRESS_FILE reaches GetTask", async ({ client, dir }) => {
  const release = join(dir, "progress.release");
  const script = 'printf "42 halfway\\n" > "$TASKGRID_PROGRESS_FILE"; while [ ! -f "$1" ]; do sleep 0.05; done';
  const { task } = await client.submitTask(spec(script, [release]));
  const events = new TaskEvents(client, [task.id]);
  try {
    const event = await events.until((e) => e.progress === 42);
    assert.is(event.progressMessage, "halfway");
    const got = await client.getTask(task.id);
    assert.is(got.progress, 42);
    assert.is(got.progressMessage, "halfway");
    assert.is(got.state, TaskState.TASK_STATE_RUNNING);
    writeFileSync(release, "");
    const final = await events.until((e) => isTerminal(e.state));
    assert.is(final.state, TaskState.TASK_STATE_SUCCEEDED);
  } finally {
    events.close();
  }
});

e2e.run();
