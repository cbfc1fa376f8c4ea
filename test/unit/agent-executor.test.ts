// The agent's executor against real child processes. Tests wait on executor events, never on
// fixed sleeps; every test ends with no child left running.
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Executor, type ExecutorOptions, type RunRequest } from "../../agent/executor.js";
import { AttemptOutcome } from "../../src/gen/taskgrid/v1/types.js";

delete process.env.CUDA_VISIBLE_DEVICES; // Tests below decide what the agent's own env holds.

let executors: Executor[] = [];
let seq = 0;

interface Recorder {
  started: Array<{ attemptId: string; pid: number }>;
  progress: Array<{ attemptId: string; percent: number; message: string }>;
  nextStarted(): Promise<number>;
  nextProgress(): Promise<{ percent: number; message: string }>;
}

function makeExecutor(options: Partial<ExecutorOptions> = {}): { executor: Executor; rec: Recorder } {
  const startedWaiters: Array<(pid: number) => void> = [];
  const progressWaiters: Array<(p: { percent: number; message: string }) => void> = [];
  const startedQueue: number[] = [];
  const progressQueue: Array<{ percent: number; message: string }> = [];
  const rec: Recorder = {
    started: [],
    progress: [],
    nextStarted: () => (startedQueue.length ? Promise.resolve(startedQueue.shift()!) : new Promise((r) => startedWaiters.push(r))),
    nextProgress: () => (progressQueue.length ? Promise.resolve(progressQueue.shift()!) : new Promise((r) => progressWaiters.push(r))),
  };
  const executor = new Executor({
    maxTasks: 8,
    ...options,
    events: {
      started(attemptId, pid) {
        rec.started.push({ attemptId, pid });
        const w = startedWaiters.shift();
        if (w) w(pid);
        else startedQueue.push(pid);
      },
      progress(attemptId, percent, message) {
        rec.progress.push({ attemptId, percent, message });
        const w = progressWaiters.shift();
        if (w) w({ percent, message });
        else progressQueue.push({ percent, message });
      },
    },
  });
  executors.push(executor);
  return { executor, rec };
}

function req(command: string[], extra: Partial<RunRequest> = {}): RunRequest {
  seq++;
  return { attemptId: `att-${seq}`, taskId: `task-${seq}`, command, ...extra };
}

/** Kernel states ("T" stopped, "S" sleeping, ...) of every process in process group `pgid`. */
function groupStates(pgid: number): string[] {
  const states: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited while we looked
    }
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(pgrp) === pgid && state !== "Z") states.push(state);
  }
  return states;
}

/**
 * The whole group is stopped: every member is "T", except a shell that was in vfork() when the
 * SIGSTOP came; it waits ("D") for its stopped child and runs nothing either.
 */
function groupPaused(pgid: number): boolean {
  const states = groupStates(pgid);
  return states.includes("T") && states.every((s) => s === "T" || s === "D");
}

/** Polls a condition on an event-free fact (kernel process state); bounded, not a timing assertion. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
    if (i > 100) await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`condition never held: ${what}`);
}

test.after.each(async () => {
  await Promise.all(executors.map((e) => e.cancelAll(0)));
  executors = [];
});

test("echo succeeds with its output as the tail", async () => {
  const { executor, rec } = makeExecutor();
  const result = await executor.run(req(["echo", "hello"]));
  assert.is(result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
  assert.is(result.exitCode, 0);
  assert.is(result.outputTail, "hello\n");
  assert.is(rec.started.length, 1);
  assert.ok(rec.started[0].pid > 0);
  assert.is(executor.runningCount(), 0);
});

test("non-zero exit is FAILED with the exit code", async () => {
  const { executor } = makeExecutor();
  const result = await executor.run(req(["sh", "-c", "echo oops >&2; exit 3"]));
  assert.is(result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_FAILED);
  assert.is(result.exitCode, 3);
  assert.is(result.signal, "");
  assert.is(result.outputTail, "oops\n");
});

test("a command that does not exist is START_FAILED with a message", async () => {
  const { executor, rec } = makeExecutor();
  const result = await executor.run(req(["taskgrid-no-such-command-xyz"]));
  assert.is(result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_START_FAILED);
  assert.is(result.exitCode, -1);
  assert.match(result.message, /ENOENT/);
  assert.is(rec.started.length, 0);
});

test("a missing working directory is START_FAILED", async () => {
  const { executor } = makeExecutor();
  const result = await executor.run(req(["true"], { workingDir: "/nonexistent/taskgrid-dir" }));
  assert.is(result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_START_FAILED);
  assert.match(result.message, /working directory/);
});

test("env, working dir and Taskgrid variables reach the process", async () => {
  const dir = mkdtempSync(join(tmpdir(), "agent-exec-cwd-"));
  try {
    const { executor } = makeExecutor();
    const r = req(["sh", "-c", 'echo "$FOO|$TASKGRID_TASK_ID|$TASKGRID_ATTEMPT_ID|${TASKGRID_PROGRESS_FILE:+set}"; pwd'], {
      env: { FOO: "bar baz" },
      workingDir: dir,
    });
    const result = await executor.run(r);
    assert.is(result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
    assert.is(result.outputTail, `bar baz|${r.taskId}|${r.attemptId}|set\n${realpathSync(dir)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("CUDA_VISIBLE_DEVICES: allocated indexes, hidden on GPU machines, untouched without GPUs", async () => {
  const show = ["sh", "-c", 'echo "${CUDA_VISIBLE_DEVICES-unset}|${TASKGRID_GPU_UUIDS-unset}"'];
  const uuids: Record<number, string> = { 1: "GPU-a", 3: "GPU-b" };
  const gpuMachine = makeExecutor({ machineHasGpus: () => true, gpuUuid: (i) => uuids[i] }).executor;
  assert.is((await gpuMachine.run(req(show, { gpuIndexes: [1, 3] }))).outputTail, "1,3|GPU-a,GPU-b\n");
  assert.is((await gpuMachine.run(req(show, { gpuIndexes: [] }))).outputTail, "|unset\n");
  assert.is((await gpuMachine.run(req(show, { gpuIndexes: [1], env: { CUDA_VISIBLE_DEVICES: "0,1,2" } }))).outputTail, "1|GPU-a\n");
  const cpuMachine = makeExecutor({ machineHasGpus: () => false }).executor;
  assert.is((await cpuMachine.run(req(show))).outputTail, "unset|unset\n");
});

test("progress lines are reported in order; malformed ones are plain output", async () => {
  const { executor, rec } = makeExecutor();
  const script = "echo ::progress 10; echo ::progress abc; echo ::progress 50 half way; echo '::progress 250'; echo done";
  const result = await executor.run(req(["sh", "-c", script]));
  assert.is(result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
  assert.equal(
    rec.progress.map((p) => [p.percent, p.message]),
    [
      [10, ""],
      [50, "half way"],
      [100, ""],
    ],
  );
  assert.match(result.outputTail, /done\n$/);
});

test("progress written to TASKGRID_PROGRESS_FILE is reported by pollProgressFiles", async () => {
  const { executor, rec } = makeExecutor();
  const run = executor.run(req(["sh", "-c", 'echo "70 from file" > "$TASKGRID_PROGRESS_FILE"; echo ::progress 1; exec sleep 30']));
  assert.equal(await rec.nextProgress(), { percent: 1, message: "" }); // the file is written by now
  await executor.pollProgressFiles();
  assert.equal(await rec.nextProgress(), { percent: 70, message: "from file" });
  await executor.pollProgressFiles(); // unchanged file: no new report
  assert.is(rec.progress.length, 2);
  executor.cancel(executor.running()[0].attemptId, 0);
  assert.is((await run).outcome, AttemptOutcome.ATTEMPT_OUTCOME_CANCELED);
});

test("cancel sends SIGTERM to the process group: CANCELED", async () => {
  const { executor, rec } = makeExecutor();
  const r = req(["sleep", "30"]);
  const run = executor.run(r);
  await rec.nextStarted();
  assert.equal(
    executor.running().map((a) => a.attemptId),
    [r.attemptId],
  );
  assert.ok(executor.cancel(r.attemptId, 10_000));
  const result = await run;
  assert.is(result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_CANCELED);
  assert.is(result.signal, "SIGTERM");
  assert.is(result.exitCode, -1);
  assert.not.ok(executor.cancel(r.attemptId, 0), "cancel of an ended attempt is a no-op");
});

test("a stop after the command exited by itself (its output still open) does not change its outcome", async () => {
  const { executor, rec } = makeExecutor();
  // The background child keeps stdout open after the shell has exited 0.
  const r = req(["sh", "-c", "sleep 30 & exit 0"]);
  const run = executor.run(r);
  await rec.nextStarted();
  await until(() => executor.running().find((a) => a.attemptId === r.attemptId)?.exited === true, "the shell exited");
  assert.ok(executor.cancel(r.attemptId, 0, AttemptOutcome.ATTEMPT_OUTCOME_LOST, "lease expired"));
  const result = await run;
  assert.is(result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, "it finished its work: not LOST");
  assert.is(result.exitCode, 0);
});

test("a child that ignores SIGTERM gets SIGKILL after the grace", async () => {
  const { executor, rec } = makeExecutor();
  const r = req(["sh", "-c", "trap '' TERM; echo ::progress 1 ready; while :; do sleep 0.05; done"]);
  const run = executor.run(r);
  await rec.nextProgress(); // the trap is installed
  executor.cancel(r.attemptId, 100);
  const result = await run;
  assert.is(result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_CANCELED);
  assert.is(result.signal, "SIGKILL");
});

test("pause stops the process group, resume continues it", async () => {
  const { executor, rec } = makeExecutor();
  const dir = mkdtempSync(join(tmpdir(), "agent-exec-pause-"));
  const go = join(dir, "go");
  try {
    const r = req(["sh", "-c", `echo ::progress 1; while [ ! -e '${go}' ]; do sleep 0.02; done; echo resumed`]);
    const run = executor.run(r);
    const pid = await rec.nextStarted();
    await rec.nextProgress();
    assert.ok(executor.pause(r.attemptId));
    await until(() => groupPaused(pid), "process group stopped");
    assert.ok(executor.running()[0].paused);
    writeFileSync(go, "");
    assert.ok(groupPaused(pid), "still stopped while paused");
    assert.ok(executor.resume(r.attemptId));
    const result = await run;
    assert.is(result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
    assert.match(result.outputTail, /resumed\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an attempt past its timeout is TIMEOUT", async () => {
  const { executor } = makeExecutor({ timeoutGraceMs: 100 });
  const result = await executor.run(req(["sleep", "30"], { timeoutMs: 50 }));
  assert.is(result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_TIMEOUT);
  assert.match(result.message, /timed out after 50 ms/);
});

test("the output tail is bounded to 64 KiB and never starts mid-character", async () => {
  const { executor } = makeExecutor();
  const big = await executor.run(req(["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' a; echo END"]));
  assert.is(big.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
  assert.is(Buffer.byteLength(big.outputTail), 64 * 1024);
  assert.match(big.outputTail, /^a+END\n$/);
  // 'é' is 2 bytes: 80001 bytes of output cut to 65536 lands inside a character.
  const utf8 = await executor.run(req([process.execPath, "-e", "process.stdout.write('é'.repeat(40000) + 'x')"]));
  assert.ok(Buffer.byteLength(utf8.outputTail) <= 64 * 1024);
  assert.not.ok(utf8.outputTail.includes("\uFFFD"));
  assert.match(utf8.outputTail, /^é+x$/);
});

test("more attempts than max tasks: START_FAILED 'agent at capacity'", async () => {
  const { executor, rec } = makeExecutor({ maxTasks: 1 });
  const first = req(["sleep", "30"]);
  const run = executor.run(first);
  const refused = await executor.run(req(["true"]));
  assert.is(refused.outcome, AttemptOutcome.ATTEMPT_OUTCOME_START_FAILED);
  assert.is(refused.message, "agent at capacity");
  assert.is(executor.run(first), run, "a repeated assign is the same run");
  await rec.nextStarted();
  executor.cancel(first.attemptId, 0);
  assert.is((await run).signal, "SIGKILL");
});

test.run();
