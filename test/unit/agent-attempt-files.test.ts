// The agent's per-attempt files against real child processes: progress and preempt files in one
// directory per executor (agent/attempt-files.ts), swept with the heartbeat's poll and made again
// when a task removed it, and the task's checkpoint dir made before a stop signal rather than at
// the start (agent/attempt-stop.ts). Tests wait on executor events and results.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { PREEMPTED_MARKER } from "../../agent/preempt.js";
import { AttemptOutcome } from "../../src/gen/taskgrid/v1/types.js";
import { checkpointOn, cleanUpExecutors, harness, req, result, tempDir, until } from "../helpers/executor-harness.js";

const PREEMPTED = AttemptOutcome.ATTEMPT_OUTCOME_PREEMPTED;

test.after.each(cleanUpExecutors);

test("a task that removed the directory of its preempt file still gets the file", async () => {
  const h = harness();
  const r = req(`rm -rf "$(dirname "$TASKGRID_PREEMPT_FILE")"; ${checkpointOn("TERM")}`);
  const run = h.executor.run(r);
  await h.ready(r.attemptId);
  assert.ok(h.executor.preempt(r.attemptId, "SIGTERM", 10_000, "preempted"));
  const res = await result(run);
  assert.is(res.outcome, PREEMPTED);
  assert.is(res.message, "preempted", "the directory was made again and the marker written");
  assert.is(readFileSync(join(h.checkpointRoot, r.taskId, "state"), "utf8"), PREEMPTED_MARKER);
});

test("an ended attempt's progress and preempt files go with the next sweep, their directory once the executor closed", async () => {
  const h = harness();
  const r = req(`echo "files=$TASKGRID_PREEMPT_FILE"; echo 50 > "$TASKGRID_PROGRESS_FILE"; ${checkpointOn("TERM")}`);
  const run = h.executor.run(r);
  await h.ready(r.attemptId);
  assert.ok(h.executor.preempt(r.attemptId, "SIGTERM", 10_000, "preempted"));
  const res = await result(run);
  assert.is(res.outcome, PREEMPTED);
  const preemptFile = /files=(.*)\n/.exec(res.outputTail)?.[1] ?? "";
  const dir = dirname(preemptFile);
  assert.ok(preemptFile.endsWith(".preempted"), preemptFile);
  const running = req(`echo 10 > "$TASKGRID_PROGRESS_FILE"; ${checkpointOn("TERM")}`);
  const stillRunning = h.executor.run(running);
  await h.ready(running.attemptId);
  assert.is(readdirSync(dir).length, 3, "the ended attempt's two files and the running one's progress file");
  await h.executor.pollProgressFiles(); // the heartbeat's sweep
  assert.equal(
    readdirSync(dir).map((name) => name.replace(/^\d+-/, "")),
    [`${running.attemptId}.progress`],
    "the ended attempt's files are removed, the running one's kept",
  );
  h.executor.cancel(running.attemptId, 0);
  await result(stillRunning);
  h.executor.close();
  assert.not.ok(existsSync(dir), "the directory removed by close()");
});

test("a checkpoint dir that cannot be made is named in the preemption's message; the signal still goes", async () => {
  const blocker = join(tempDir("preempt-blocker-"), "a-file");
  writeFileSync(blocker, "");
  const h = harness({ checkpointRoot: blocker });
  const r = req(`trap 'echo trapped; exit 0' TERM; echo ::progress 1 ready; while :; do sleep 0.05; done`);
  const run = h.executor.run(r);
  await h.ready(r.attemptId);
  assert.ok(h.executor.preempt(r.attemptId, "SIGTERM", 10_000, "preempted"));
  const res = await result(run);
  assert.is(res.outcome, PREEMPTED);
  assert.is(res.exitCode, 0, "the trap ran");
  assert.match(res.message, new RegExp(`^preempted \\(checkpoint directory not created: .*${join(blocker, r.taskId)}`));
  assert.not.ok(existsSync(join(blocker, r.taskId)));
});

test("a cancel and a timeout make the checkpoint dir before their SIGTERM too", async () => {
  const h = harness({ timeoutGraceMs: 10_000 });
  const canceled = req(checkpointOn("TERM"));
  const run = h.executor.run(canceled);
  await h.ready(canceled.attemptId);
  assert.not.ok(existsSync(join(h.checkpointRoot, canceled.taskId)), "not made at the start");
  assert.ok(h.executor.cancel(canceled.attemptId, 10_000));
  const res = await result(run);
  assert.is(res.outcome, AttemptOutcome.ATTEMPT_OUTCOME_CANCELED);
  assert.match(res.outputTail, /saved-on-TERM\n$/);
  assert.is(readFileSync(join(h.checkpointRoot, canceled.taskId, "state"), "utf8"), "", "the trap wrote into it (no preempt file to copy)");
  const timedOut = req("exec sleep 30", { timeoutMs: 100 });
  const late = await result(h.executor.run(timedOut));
  assert.is(late.outcome, AttemptOutcome.ATTEMPT_OUTCOME_TIMEOUT);
  assert.ok(existsSync(join(h.checkpointRoot, timedOut.taskId)), "made before the timeout's SIGTERM");
});

test("an attempt that runs a job script gets a directory of its own, removed at its end (its wrapper writes the script there)", async () => {
  const h = harness();
  const where = 'echo "dir=${TASKGRID_PROGRESS_FILE%/*}"; echo ::progress 1 ready; sleep 0.2';
  const script = (id: string) => req(where, { attemptId: id, env: { TASKGRID_JOB_SCRIPT_0: "#!/bin/sh\necho hi\n" } });
  const [a, b, plain] = [script("script-a"), script("script-b"), req(where)];
  const runs = [a, b, plain].map((r) => h.executor.run(r));
  const results = await Promise.all(runs.map((run) => result(run)));
  const dirs = results.map((r) => /dir=(.*)\n/.exec(r.outputTail)?.[1] ?? "");
  assert.not.equal(dirs[0], dirs[1], "two job scripts on one agent never share the directory");
  assert.not.equal(dirs[0], dirs[2]);
  assert.match(dirs[2], /taskgrid-attempts-/, "other attempts share the executor's directory");
  await h.executor.pollProgressFiles(); // let the removals of the attempts' own directories run
  await until(() => !existsSync(dirs[0]) && !existsSync(dirs[1]), "the job scripts' directories removed");
  assert.ok(existsSync(dirs[2]), "the shared directory stays while the executor runs");
});

test("progress written to TASKGRID_PROGRESS_FILE is polled in a job script's own directory too", async () => {
  const reports: string[] = [];
  const h = harness({ events: { progress: (_, percent, message) => reports.push(`${percent} ${message}`) } });
  const r = req('echo "42 halfway" > "$TASKGRID_PROGRESS_FILE"; echo ::progress 1 ready; exec sleep 30', { env: { TASKGRID_JOB_SCRIPT_0: "x" } });
  const run = h.executor.run(r);
  await h.ready(r.attemptId);
  await h.executor.pollProgressFiles();
  assert.ok(reports.includes("42 halfway"), JSON.stringify(reports));
  h.executor.cancel(r.attemptId, 0);
  await result(run);
});

test.run();
