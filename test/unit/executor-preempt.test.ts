// Preemption in the agent's executor, against real child processes: the preempt file is written
// before the signal, the signal asked for reaches the group (paused or not), SIGKILL follows the
// grace, the outcome is PREEMPTED, and a task's checkpoint dir outlives its attempts. Tests wait on
// executor events and results; the timers (test/helpers/executor-harness.ts) only cap a hung test.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startAgent } from "../../agent/agent.js";
import { PREEMPTED_MARKER, preemptSignal } from "../../agent/preempt.js";
import { TaskSpec } from "../../src/gen/taskgrid/v1/task.js";
import { AttemptOutcome } from "../../src/gen/taskgrid/v1/types.js";
import { capped, checkpointOn, cleanUpExecutors, harness, req, result, tempDir, until } from "../helpers/executor-harness.js";
import { FakeMaster } from "../helpers/fake-master.js";

const PREEMPTED = AttemptOutcome.ATTEMPT_OUTCOME_PREEMPTED;

/** Kernel states of every live process in process group `pgid` (see agent-executor.test.ts). */
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

test.after.each(cleanUpExecutors);

test("a task that traps the signal reads the preempt file, checkpoints and exits 0: PREEMPTED", async () => {
  const h = harness();
  const r = req(checkpointOn("TERM"));
  const run = h.executor.run(r);
  await h.ready(r.attemptId);
  assert.ok(h.executor.preempt(r.attemptId, "SIGTERM", 10_000, "preempted by task t-live (LIVE)"));
  const res = await result(run);
  assert.is(res.outcome, PREEMPTED);
  assert.is(res.exitCode, 0);
  assert.is(res.signal, "");
  assert.is(res.message, "preempted by task t-live (LIVE)");
  assert.match(res.outputTail, /saved-on-TERM\n$/);
  // The trap ran after the file was written: what it copied is the marker.
  assert.is(readFileSync(join(h.checkpointRoot, r.taskId, "state"), "utf8"), PREEMPTED_MARKER);
  assert.is(h.executor.runningCount(), 0);
});

test("the signal asked for is delivered: SIGUSR1 trapped, TERM not trapped", async () => {
  const h = harness();
  const r = req(checkpointOn("USR1"));
  const run = h.executor.run(r);
  await h.ready(r.attemptId);
  assert.ok(h.executor.preempt(r.attemptId, "SIGUSR1", 10_000, "preempted"));
  const res = await result(run);
  assert.is(res.outcome, PREEMPTED);
  // A SIGTERM would have killed the shell (signal SIGTERM) without the trap's output.
  assert.is(res.signal, "");
  assert.is(res.exitCode, 0);
  assert.match(res.outputTail, /saved-on-USR1\n$/);
  assert.is(readFileSync(join(h.checkpointRoot, r.taskId, "state"), "utf8"), PREEMPTED_MARKER);
});

test("a task that ignores the signal is SIGKILLed after the grace: PREEMPTED", async () => {
  const h = harness();
  const r = req("trap '' TERM; echo ::progress 1 ready; while :; do sleep 0.05; done");
  const run = h.executor.run(r);
  await h.ready(r.attemptId);
  assert.ok(h.executor.preempt(r.attemptId, "SIGTERM", 100, "preempted"));
  const res = await result(run);
  assert.is(res.outcome, PREEMPTED);
  assert.is(res.signal, "SIGKILL");
  assert.is(res.exitCode, -1);
  assert.is(res.message, "preempted");
});

test("a paused attempt still acts on the preempt", async () => {
  const h = harness();
  const r = req(checkpointOn("TERM"));
  const run = h.executor.run(r);
  const pid = await h.started(r.attemptId);
  await h.ready(r.attemptId);
  assert.ok(h.executor.pause(r.attemptId));
  await until(() => {
    const states = groupStates(pid);
    return states.includes("T") && states.every((s) => s === "T" || s === "D");
  }, "process group stopped");
  assert.ok(h.executor.preempt(r.attemptId, "SIGTERM", 10_000, "preempted"));
  const res = await result(run);
  assert.is(res.outcome, PREEMPTED);
  assert.is(res.exitCode, 0, "the trap ran (SIGCONT followed the signal), not the SIGKILL");
  assert.is(readFileSync(join(h.checkpointRoot, r.taskId, "state"), "utf8"), PREEMPTED_MARKER);
});

test("env: restart count is attemptNumber - 1, one checkpoint dir for every attempt of a task (made by a task that checkpoints on its own), no preempt file before preemption", async () => {
  const h = harness();
  const show = `echo "$TASKGRID_RESTART_COUNT|$TASKGRID_CHECKPOINT_DIR|$(cat "$TASKGRID_CHECKPOINT_DIR/seen" 2>/dev/null)|\${TASKGRID_PREEMPT_FILE:+set}"
[ -e "$TASKGRID_PREEMPT_FILE" ] && echo preempt-file-exists
mkdir -p "$TASKGRID_CHECKPOINT_DIR"
echo "attempt $TASKGRID_ATTEMPT_ID" >> "$TASKGRID_CHECKPOINT_DIR/seen"`;
  const first = await result(h.executor.run({ attemptId: "a-1", taskId: "task-env", command: ["/bin/sh", "-c", show], attemptNumber: 1 }));
  const third = await result(h.executor.run({ attemptId: "a-3", taskId: "task-env", command: ["/bin/sh", "-c", show], attemptNumber: 3 }));
  const dir = join(h.checkpointRoot, "task-env");
  const before = await result(h.executor.run({ attemptId: "a-0", taskId: "task-unused", command: ["/bin/sh", "-c", 'echo "$TASKGRID_CHECKPOINT_DIR"'] }));
  assert.is(before.outputTail, `${join(h.checkpointRoot, "task-unused")}\n`);
  assert.not.ok(existsSync(join(h.checkpointRoot, "task-unused")), "the agent makes the dir only before a stop signal");
  const legacy = await result(h.executor.run({ attemptId: "a-x", taskId: "task-other", command: ["/bin/sh", "-c", show] }));
  assert.is(first.outputTail, `0|${dir}||set\n`);
  // The second attempt sees what the first left: the dir outlives attempts (the executor never deletes it).
  assert.is(third.outputTail, `2|${dir}|attempt a-1|set\n`);
  assert.is(legacy.outputTail, `0|${join(h.checkpointRoot, "task-other")}||set\n`, "no attemptNumber: a first run");
  assert.is(readFileSync(join(dir, "seen"), "utf8"), "attempt a-1\nattempt a-3\n");
});

test("preempt of an unknown or finished attempt returns false", async () => {
  const h = harness();
  assert.not.ok(h.executor.preempt("no-such-attempt", "SIGTERM", 1000, "preempted"));
  const r = req("exit 0");
  assert.is((await result(h.executor.run(r))).outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
  assert.not.ok(h.executor.preempt(r.attemptId, "SIGTERM", 1000, "preempted"));
});

test("an invalid signal name falls back to SIGTERM", async () => {
  assert.is(preemptSignal("SIGKILL"), "SIGTERM");
  assert.is(preemptSignal("sigusr1"), "SIGTERM");
  assert.is(preemptSignal("SIGUSR2"), "SIGUSR2");
  const h = harness();
  const r = req(checkpointOn("TERM"));
  const run = h.executor.run(r);
  await h.ready(r.attemptId);
  assert.ok(h.executor.preempt(r.attemptId, "SIGBOGUS", 10_000, "preempted"));
  const res = await result(run);
  assert.is(res.outcome, PREEMPTED);
  assert.is(res.exitCode, 0);
  assert.match(res.outputTail, /saved-on-TERM\n$/);
});

test("a cancel after a preempt keeps PREEMPTED; a preempt after a cancel keeps CANCELED", async () => {
  const h = harness();
  const a = req("trap '' TERM; echo ::progress 1 ready; while :; do sleep 0.05; done");
  const runA = h.executor.run(a);
  await h.ready(a.attemptId);
  assert.ok(h.executor.preempt(a.attemptId, "SIGTERM", 10_000, "preempted"));
  assert.ok(h.executor.cancel(a.attemptId, 0));
  const resA = await result(runA);
  assert.is(resA.outcome, PREEMPTED);
  assert.is(resA.message, "preempted");
  assert.is(resA.signal, "SIGKILL");

  const b = req("echo ::progress 1 ready; exec sleep 30");
  const runB = h.executor.run(b);
  await h.ready(b.attemptId);
  assert.ok(h.executor.cancel(b.attemptId, 10_000));
  h.executor.preempt(b.attemptId, "SIGTERM", 0, "preempted");
  const resB = await result(runB);
  assert.is(resB.outcome, AttemptOutcome.ATTEMPT_OUTCOME_CANCELED);
  assert.is(resB.signal, "SIGTERM");
});

test("a preempt while the process is still starting stands: PREEMPTED", async () => {
  const h = harness();
  const r = req("echo should-not-run-long; exec sleep 30");
  const run = h.executor.run(r);
  assert.ok(h.executor.preempt(r.attemptId, "SIGTERM", 10_000, "preempted while starting"));
  const res = await result(run);
  assert.is(res.outcome, PREEMPTED);
  assert.is(res.message, "preempted while starting");
  assert.is(res.exitCode, -1);
});

test("a preempt file that cannot be written is named in the message; the signal still goes", async () => {
  const h = harness();
  // The task puts a directory where the file goes, so the agent's write fails (EISDIR).
  const r = req(`mkdir "$TASKGRID_PREEMPT_FILE"; ${checkpointOn("TERM")}`);
  const run = h.executor.run(r);
  await h.ready(r.attemptId);
  assert.ok(h.executor.preempt(r.attemptId, "SIGTERM", 10_000, "preempted"));
  const res = await result(run);
  assert.is(res.outcome, PREEMPTED);
  assert.is(res.exitCode, 0);
  assert.match(res.message, /^preempted \(preempt file not written: .*EISDIR/);
  assert.match(res.outputTail, /saved-on-TERM\n$/);
});

test("the agent obeys the master's preempt, passes attemptNumber and its checkpointDir", async () => {
  const master = await capped(FakeMaster.start({ heartbeatIntervalMs: 20 }), "fake master");
  const checkpointDir = tempDir("preempt-agent-ckpt-");
  const logs: Array<Record<string, unknown>> = [];
  const agent = startAgent({
    master: master.address,
    workerId: "preempt-test",
    maxTasks: 2,
    checkpointDir,
    gpuProbe: { command: "taskgrid-no-such-nvidia-smi" },
    logFormat: "json",
    stopAckWaitMs: 0,
    log: (line) => logs.push(JSON.parse(line)),
  });
  try {
    await capped(agent.ready, "registered");
    const script = `echo "restart=$TASKGRID_RESTART_COUNT"; ${checkpointOn("USR2")}`;
    const spec = TaskSpec.fromPartial({ command: ["/bin/sh", "-c", script] });
    master.send({ $case: "assign", value: { attemptId: "att-p", taskId: "task-p", spec, gpuIndexes: [], attemptNumber: 3, traceParent: "" } });
    await capped(
      master.next("progress", (p) => p.attemptId === "att-p"),
      "trap set",
    );
    master.send({ $case: "preempt", value: { attemptId: "att-p", signal: "SIGUSR2", graceMs: 10_000, reason: "preempted by task t-live (LIVE)" } });
    const finished = await capped(
      master.next("finished", (f) => f.attemptId === "att-p"),
      "finished",
    );
    assert.is(finished.result!.outcome, PREEMPTED);
    assert.is(finished.result!.message, "preempted by task t-live (LIVE)");
    assert.is(finished.result!.exitCode, 0);
    assert.match(finished.result!.outputTail, /^restart=2\n[\s\S]*saved-on-USR2\n$/);
    assert.is(readFileSync(join(checkpointDir, "task-p", "state"), "utf8"), PREEMPTED_MARKER);
    master.send({ $case: "preempt", value: { attemptId: "att-p", signal: "SIGTERM", graceMs: 0, reason: "again" } });
    // Messages are handled in order: once this assign's report is in, the preempt before it was handled.
    master.send({
      $case: "assign",
      value: { attemptId: "att-q", taskId: "task-q", spec: TaskSpec.fromPartial({ command: ["true"] }), gpuIndexes: [], attemptNumber: 1, traceParent: "" },
    });
    await capped(
      master.next("finished", (f) => f.attemptId === "att-q"),
      "second attempt finished",
    );
    assert.ok(
      logs.some((l) => l.message === "preempt for an attempt that is not running" && l.attempt === "att-p" && l.level === "info"),
      JSON.stringify(logs.map((l) => l.message)),
    );
  } finally {
    await agent.stop();
    await master.stop();
  }
});

test.run();
