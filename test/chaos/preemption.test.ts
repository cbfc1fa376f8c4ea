// Preemption (issue 16) under faults, with real master and agent processes on Postgres: the master
// killed (kill -9) while a preempted attempt is still stopping, the agent's connection cut during
// the grace, a victim that ignores its signal, and a flood of LIVE tasks over BATCH work on full
// workers. Nothing about a preemption in flight is in the database, so each scenario counts what
// actually ran from the log the task processes write (starts, the signal, checkpoints, ends): every
// task ends SUCCEEDED, a preempted task resumes from its checkpoint exactly once more, a LIVE task
// runs once and never beside another execution on a one-slot worker, and no task is preempted over
// and over.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ChaosCluster, checkExactlyOnce, type Execution } from "../helpers/chaos.js";
import { eventually, groupProcesses } from "../helpers/task-watch.js";
import type { Task } from "../../src/gen/taskgrid/v1/task.js";
import { AttemptOutcome, QueueClass, type TaskState } from "../../src/gen/taskgrid/v1/types.js";

const LIVENESS = { heartbeatIntervalMs: 300, suspectAfterMs: 2000, offlineAfterMs: 4000, livenessTickMs: 100, retryBackoffMs: 100 };
const REGISTERED = /"message":"registered"/;

const preemption = suite<{ cluster: ChaosCluster; startedAt: number }>("preemption under faults");
preemption.before.each((ctx) => {
  ctx.startedAt = Date.now();
});
preemption.after.each(async (ctx) => {
  await ctx.cluster?.close();
  console.log(`    (scenario took ${((Date.now() - ctx.startedAt) / 1000).toFixed(1)} s)`);
});

interface JobOptions {
  /** A first run's work (beats of 100 ms). */
  workMs: number;
  /**
   * Instead of `workMs` and `resumeMs`: every run works until this file exists (at most `workMs`),
   * so the test decides when work ends and no preemption races with a natural end.
   */
  workUntil?: string;
  /** A run after a restart (TASKGRID_RESTART_COUNT > 0): logs `resumed <checkpoint>`, works this long, ends. */
  resumeMs?: number;
  /**
   * On SIGTERM: "checkpoint" logs `signal <preempt file>`, writes its step to the checkpoint, takes
   * `stopMs` to stop, or until the file `stopUntil` exists (logging as it goes), logs `stopped`
   * and exits 0; "ignore" traps it to nothing
   * (the children inherit that: only SIGKILL stops the group). Default: the signal kills it.
   */
  onTerm?: "checkpoint" | "ignore";
  stopMs?: number;
  stopUntil?: string;
  /** Logs `victim-alive` or `victim-gone` at its start: whether a live (non-zombie) process of this group is left. */
  watchGroup?: number;
}

/**
 * A task's command, logging to the cluster's execution log in its format (`kind task pid ns`, so
 * ChaosCluster.executions() reads it) with extra fields: the start names the attempt and the
 * restart count; `marked` is logged once the preempt file appears (it is written before the signal).
 */
function job(c: ChaosCluster, o: JobOptions): string[] {
  const beats = (ms: number) => Math.max(1, Math.round(ms / 100));
  const lines = [
    `log="${c.log}"`,
    `ckpt="$TASKGRID_CHECKPOINT_DIR/state"`,
    `note() { echo "$1 $TASKGRID_TASK_ID $$ $(date +%s%N) $2" >> "$log"; }`,
    `note start "$TASKGRID_ATTEMPT_ID restart=$TASKGRID_RESTART_COUNT"`,
  ];
  if (o.watchGroup) {
    const members = `ps -eo pgid=,stat= | awk -v g=${o.watchGroup} '$1 == g && $2 !~ /^Z/' | wc -l`;
    lines.push(`if [ "$(${members})" -gt 0 ]; then note victim-alive; else note victim-gone; fi`);
  }
  lines.push(
    `if [ "$TASKGRID_RESTART_COUNT" -gt 0 ]; then`,
    `  note resumed "$(cat "$ckpt" 2>/dev/null || echo none)"`,
    `  i=0; while [ $i -lt ${o.workUntil ? beats(o.workMs) : beats(o.resumeMs ?? 200)} ]; do`,
    `    sleep 0.1; note beat; i=$((i+1))`,
    ...(o.workUntil ? [`    if [ -f "${o.workUntil}" ]; then break; fi`] : []),
    `  done`,
    `  note end; exit 0`,
    `fi`,
  );
  if (o.onTerm === "checkpoint") {
    const stop = o.stopUntil
      ? `while [ ! -f "${o.stopUntil}" ]; do sleep 0.1; note stopping; done`
      : `j=0; while [ $j -lt ${beats(o.stopMs ?? 100)} ]; do sleep 0.1; note stopping; j=$((j+1)); done`;
    lines.push(`trap 'note signal "$(cat "$TASKGRID_PREEMPT_FILE")"; echo "step-$n" > "$ckpt"; ${stop}; note stopped; exit 0' TERM`);
  } else if (o.onTerm === "ignore") {
    lines.push(`trap '' TERM`);
  }
  lines.push(
    `marked=""; n=0`,
    `while [ $n -lt ${beats(o.workMs)} ]; do`,
    `  sleep 0.1; note beat; n=$((n+1))`,
    `  if [ -z "$marked" ] && [ -f "$TASKGRID_PREEMPT_FILE" ]; then marked=1; note marked; fi`,
    ...(o.workUntil ? [`  if [ -f "${o.workUntil}" ]; then break; fi`] : []),
    `done`,
    `note end`,
  );
  return ["sh", "-c", lines.join("\n")];
}

function spec(c: ChaosCluster, name: string, queueClass: QueueClass, o: JobOptions, extra: Record<string, unknown> = {}) {
  return { name, command: job(c, o), requiredTags: ["chaos"], queueClass, resources: { cpuMillis: 100 }, ...extra };
}

const BATCH = QueueClass.QUEUE_CLASS_BATCH;
const LIVE = QueueClass.QUEUE_CLASS_LIVE;

/** One line of the execution log, with the fields after the time. */
interface LogRecord {
  kind: string;
  taskId: string;
  pid: number;
  ms: number;
  rest: string[];
}

function records(c: ChaosCluster): LogRecord[] {
  const out: LogRecord[] = [];
  for (const line of readFileSync(c.log, "utf8").split("\n")) {
    const [kind, taskId, pid, ns, ...rest] = line.split(" ");
    if (!taskId || !ns || !/^\d+$/.test(ns)) continue; // a line cut by a signal
    out.push({ kind, taskId, pid: Number(pid), ms: Number(BigInt(ns) / 1_000_000n), rest });
  }
  return out;
}

/** Waits for a record of `kind` from task `taskId` (the `nth`, counting from 1). */
async function logged(c: ChaosCluster, kind: string, taskId: string, nth = 1, timeoutMs = 20_000): Promise<LogRecord> {
  return eventually(async () => records(c).filter((r) => r.kind === kind && r.taskId === taskId)[nth - 1], `"${kind}" #${nth} of ${taskId}`, timeoutMs);
}

const overlaps = (a: Execution, b: Execution) => a.startMs <= b.lastMs && b.startMs <= a.lastMs;

/** The attempt id each execution logged at its start (pid -> attempt id, per task). */
function attemptOfRun(c: ChaosCluster): Map<string, string> {
  const byRun = new Map<string, string>();
  for (const r of records(c)) if (r.kind === "start") byRun.set(`${r.taskId} ${r.pid}`, r.rest[0]);
  return byRun;
}

/**
 * No two executions (of any tasks) overlap on one worker: every worker of these scenarios has one
 * slot. The worker of an execution is its attempt's, read from the master.
 */
function checkOneSlot(c: ChaosCluster, tasks: Task[]): string[] {
  const workerOf = new Map(tasks.flatMap((t) => t.attempts.map((a) => [a.id, a.workerId] as const)));
  const attemptOf = attemptOfRun(c);
  const byWorker = new Map<string, Array<{ taskId: string; run: Execution }>>();
  for (const [taskId, runs] of c.executions()) {
    for (const run of runs) {
      const worker = workerOf.get(attemptOf.get(`${taskId} ${run.pid}`) ?? "") ?? "?";
      byWorker.set(worker, [...(byWorker.get(worker) ?? []), { taskId, run }]);
    }
  }
  const problems: string[] = [];
  for (const [worker, runs] of byWorker) {
    if (worker === "?") problems.push(`executions without a known attempt: ${runs.map((r) => r.taskId).join(", ")}`);
    for (let i = 0; i < runs.length; i++) {
      for (let j = i + 1; j < runs.length; j++) {
        const [a, b] = [runs[i], runs[j]];
        if (overlaps(a.run, b.run)) problems.push(`on ${worker}: ${a.taskId} (pid ${a.run.pid}) and ${b.taskId} (pid ${b.run.pid}) ran at the same time`);
      }
    }
  }
  return problems;
}

const outcomes = (t: Task) => t.attempts.map((a) => AttemptOutcome[a.result?.outcome ?? 0].replace("ATTEMPT_OUTCOME_", ""));

/** The common checks: every task SUCCEEDED, ran to its end once and never beside itself, one execution per slot at a time. */
async function checkAll(c: ChaosCluster, name: string, ids: string[], states: Map<string, TaskState>, extra: string): Promise<Task[]> {
  const tasks = await Promise.all(ids.map((id) => c.client.getTask(id)));
  const r = checkExactlyOnce(ids, states, c.executions());
  console.log(`  ${name}: ${ids.length} tasks, executions per task ${JSON.stringify(r.executionsHistogram)}, ${extra}`);
  assert.equal(r.problems, [], r.problems.join("\n"));
  const oneSlot = checkOneSlot(c, tasks);
  assert.equal(oneSlot, [], oneSlot.join("\n"));
  return tasks;
}

/** The BATCH task's two runs: preempted once (the signal and its checkpoint logged), resumed once from it with restart count 1. */
function checkPreemptedAndResumed(c: ChaosCluster, batch: Task): void {
  const mine = records(c).filter((r) => r.taskId === batch.id);
  const starts = mine.filter((r) => r.kind === "start");
  assert.is(starts.length, 2, `the BATCH process started twice: ${JSON.stringify(starts)}`);
  assert.equal(
    starts.map((s) => s.rest[1]),
    ["restart=0", "restart=1"],
  );
  assert.equal(
    starts.map((s) => s.rest[0]),
    batch.attempts.map((a) => a.id),
    "one process per attempt",
  );
  const signal = mine.find((r) => r.kind === "signal");
  assert.equal(signal?.rest, ["TASKGRID_PREEMPTED=1"], "the preempt file was there when the signal came");
  assert.ok(
    mine.some((r) => r.kind === "stopped" && r.pid === starts[0].pid),
    "the preempted process stopped on its own",
  );
  const resumed = mine.find((r) => r.kind === "resumed");
  assert.is(resumed?.pid, starts[1].pid);
  assert.match(resumed!.rest[0], /^step-\d+$/, "it resumed from the checkpoint the preempted run wrote");
  assert.equal([batch.retriesUsed, batch.requeues], [0, 0], "a preemption uses neither a retry nor a requeue");
}

// The new master either meets the preempted attempt still stopping (the agent registers with it
// running: the master plans the preemption again, and the agent keeps the stop it has), or finds
// it ended (the agent re-sends the PREEMPTED report it could not deliver). The process stops when
// the test says, so each variant is the one it names.
for (const variant of ["while it still stops", "after it stopped"] as const) {
  preemption(`kill -9 of the master in the grace, restarted ${variant}: BATCH resumes once from its checkpoint; LIVE runs once, alone`, async (ctx) => {
    // OFFLINE (and the agent's lease, half of it) well past a master restart and the agent's
    // reconnect backoff: the agent keeps its attempt, nothing is LOST.
    const c = (ctx.cluster = await ChaosCluster.start({ ...LIVENESS, offlineAfterMs: 30_000 }));
    const agent = await c.startAgent("one-slot", { maxTasks: 1 });
    await agent.waitFor(REGISTERED);
    const release = join(c.dir, "release");
    const [batchId] = await c.client.submitTasks([
      spec(c, "batch", BATCH, { workMs: 60_000, onTerm: "checkpoint", stopUntil: release, resumeMs: 300 }, { preemptGraceMs: 20_000 }),
    ]);
    await logged(c, "beat", batchId);
    const [liveId] = await c.client.submitTasks([spec(c, "live", LIVE, { workMs: 500 })]);
    const signal = await logged(c, "signal", batchId);
    const killedAt = Date.now();
    await c.stopMaster("SIGKILL");
    const twice = new RegExp(`${REGISTERED.source}[\\s\\S]*${REGISTERED.source}`);
    if (variant === "while it still stops") {
      await c.startMaster();
      await agent.waitFor(twice);
      // The new master knows nothing of the first order: it preempts again, and the agent keeps its stop.
      await c.masterProc!.waitFor(/"message":"preempting an attempt"/);
      writeFileSync(release, "");
    } else {
      writeFileSync(release, "");
      await logged(c, "stopped", batchId);
      await c.startMaster();
      await agent.waitFor(twice);
      const line = agent.output
        .split("\n")
        .filter((l) => REGISTERED.test(l))
        .at(-1)!;
      assert.ok(Number(/"unacknowledged":(\d+)/.exec(line)?.[1]) >= 1, `the agent had the PREEMPTED report to re-send: ${line}`);
    }
    const restartedMs = Date.now() - killedAt;
    const ids = [batchId, liveId];
    const states = await c.waitTerminal(ids, 60_000);
    const [batch, live] = await checkAll(c, `kill -9 master, back ${variant}`, ids, states, `master back after ${(restartedMs / 1000).toFixed(1)} s`);
    assert.equal(outcomes(batch), ["PREEMPTED", "SUCCEEDED"]);
    assert.equal(outcomes(live), ["SUCCEEDED"]);
    checkPreemptedAndResumed(c, batch);
    const runs = c.executions();
    const [liveRun] = runs.get(liveId)!;
    assert.is(runs.get(liveId)!.length, 1, "LIVE ran once");
    for (const run of runs.get(batchId)!) assert.not.ok(overlaps(liveRun, run), `LIVE (pid ${liveRun.pid}) overlapped BATCH pid ${run.pid}`);
    assert.ok(liveRun.startMs > signal.ms, "LIVE started after the preemption, not before");
    assert.not.match(agent.output, /lease expired/, "the agent's lease held: the attempt ended by the preemption alone");
  });
}

preemption("the agent's connection cut during the grace: the attempt still ends PREEMPTED; BATCH runs once more; LIVE once", async (ctx) => {
  // OFFLINE (and the agent's lease) past the cut and the agent's reconnect backoff: the agent does
  // not die, so nothing is LOST.
  const c = (ctx.cluster = await ChaosCluster.start({ ...LIVENESS, offlineAfterMs: 30_000 }));
  const agent = await c.startAgent("cut-slot", { proxied: true, maxTasks: 1 });
  await agent.waitFor(REGISTERED);
  const proxy = c.agents.get("cut-slot")!.proxy!;
  const release = join(c.dir, "release");
  const [batchId] = await c.client.submitTasks([
    spec(c, "batch", BATCH, { workMs: 60_000, onTerm: "checkpoint", stopUntil: release, resumeMs: 300 }, { preemptGraceMs: 20_000 }),
  ]);
  await logged(c, "beat", batchId);
  const [liveId] = await c.client.submitTasks([spec(c, "live", LIVE, { workMs: 500 })]);
  await logged(c, "signal", batchId);
  // The path dies (RST both ways) and stays down until the preempted process has exited (it
  // stops once the agent has seen the cut): its result waits on the agent, which reports it once
  // it is back.
  const cutAt = Date.now();
  proxy.pause();
  proxy.dropAll();
  await agent.waitFor(/master stream closed; reconnecting|the master stopped answering/);
  writeFileSync(release, "");
  await logged(c, "stopped", batchId);
  proxy.resume();
  await agent.waitFor(new RegExp(`${REGISTERED.source}[\\s\\S]*${REGISTERED.source}`));
  const ids = [batchId, liveId];
  const states = await c.waitTerminal(ids, 60_000);
  const [batch, live] = await checkAll(c, "connection cut in the grace", ids, states, `recovered in ${((Date.now() - cutAt) / 1000).toFixed(1)} s`);
  assert.equal(outcomes(batch), ["PREEMPTED", "SUCCEEDED"]);
  assert.equal(outcomes(live), ["SUCCEEDED"]);
  checkPreemptedAndResumed(c, batch);
  assert.is(c.executions().get(liveId)?.length, 1, "LIVE ran once");
  assert.not.match(agent.output, /lease expired/, "the agent's lease held: the attempt ended by the preemption alone");
});

preemption("a victim that ignores SIGTERM: SIGKILLed after its 1 s grace, nothing of it survives, LIVE starts only once it is dead", async (ctx) => {
  const c = (ctx.cluster = await ChaosCluster.start(LIVENESS));
  await (await c.startAgent("stubborn-slot", { maxTasks: 1 })).waitFor(REGISTERED);
  const [batchId] = await c.client.submitTasks([spec(c, "stubborn", BATCH, { workMs: 60_000, onTerm: "ignore", resumeMs: 300 }, { preemptGraceMs: 1000 })]);
  const victim = await logged(c, "start", batchId);
  await logged(c, "beat", batchId);
  const [liveId] = await c.client.submitTasks([spec(c, "live", LIVE, { workMs: 300, watchGroup: victim.pid })]);
  const marked = await logged(c, "marked", batchId);
  const liveStart = await logged(c, "start", liveId);
  // At the LIVE task's start, from the test as from the task itself: the victim's group is gone.
  // (Zombies are dead: an orphaned child of the group waits for init to reap it.)
  assert.equal(groupProcesses(victim.pid), [], `a process of group ${victim.pid} survived`);
  const ids = [batchId, liveId];
  const states = await c.waitTerminal(ids, 30_000);
  const [batch, live] = await checkAll(c, "victim ignoring SIGTERM", ids, states, "");
  assert.equal(outcomes(batch), ["PREEMPTED", "SUCCEEDED"]);
  assert.equal(outcomes(live), ["SUCCEEDED"]);
  const preempted = batch.attempts[0].result!;
  assert.is(preempted.signal, "SIGKILL", `ended by ${preempted.signal || `exit ${preempted.exitCode}`}`);
  assert.match(preempted.message, new RegExp(`^preempted by task ${liveId} \\(LIVE NORMAL\\)`));
  assert.equal([batch.retriesUsed, batch.requeues], [0, 0], "a preemption uses neither a retry nor a requeue");
  const firstRun = c.executions().get(batchId)![0];
  assert.is(firstRun.pid, victim.pid);
  assert.not.ok(firstRun.ended, "the victim never reached its end");
  assert.ok(firstRun.lastMs - marked.ms >= 400, `it went on past the signal (last sign of life ${firstRun.lastMs - marked.ms} ms after the preempt file)`);
  assert.ok(liveStart.ms > firstRun.lastMs, "LIVE started after the victim's last sign of life");
  assert.ok(
    records(c).some((r) => r.kind === "victim-gone" && r.taskId === liveId),
    "the LIVE task found the victim's process group gone",
  );
  console.log(
    `    SIGKILL ${(firstRun.lastMs - marked.ms) / 1000} s after the preempt file; LIVE started ${liveStart.ms - firstRun.lastMs} ms after the victim's last beat`,
  );
});

preemption("floods of LIVE tasks over BATCH work on two one-slot agents: no preemption loop, every task succeeds", async (ctx) => {
  const c = (ctx.cluster = await ChaosCluster.start(LIVENESS));
  const checkpointDir = join(c.dir, "checkpoints"); // shared: a task resumes on either agent
  await Promise.all(["flood-a", "flood-b"].map((id) => c.startAgent(id, { maxTasks: 1, checkpointDir }).then((p) => p.waitFor(REGISTERED))));
  // BATCH work lasts until every LIVE task is done: a preemption never meets a run at its natural end.
  const release = join(c.dir, "release");
  const batchIds = await c.client.submitTasks(
    Array.from({ length: 6 }, (_, i) =>
      spec(c, `batch-${i}`, BATCH, { workMs: 30_000, workUntil: release, onTerm: "checkpoint", stopMs: 200 }, { preemptGraceMs: 10_000 }),
    ),
  );
  const batch = new Set(batchIds);
  /** Waits until two BATCH tasks showed life after `sinceMs` (both slots had BATCH work then). */
  const batchOnBoth = (sinceMs: number) =>
    eventually(
      async () =>
        new Set(
          records(c)
            .filter((r) => r.kind === "beat" && r.ms > sinceMs && batch.has(r.taskId))
            .map((r) => r.taskId),
        ).size >= 2,
      "two BATCH tasks running",
      20_000,
    );
  const liveSpecs = (from: number) => Array.from({ length: 3 }, (_, i) => spec(c, `live-${from + i}`, LIVE, { workMs: 300 }));
  const ended = async (ids: string[]) => Math.max(...(await Promise.all(ids.map((id) => logged(c, "end", id)))).map((e) => e.ms));
  // Both slots run BATCH work, then three LIVE tasks come at once; once they are done and BATCH
  // work (resumed or fresh) runs on both slots again, three more.
  await batchOnBoth(0);
  const liveIds = await c.client.submitTasks(liveSpecs(0));
  await batchOnBoth(await ended(liveIds));
  liveIds.push(...(await c.client.submitTasks(liveSpecs(3))));
  await ended(liveIds);
  writeFileSync(release, "");
  const ids = [...batchIds, ...liveIds];
  const states = await c.waitTerminal(ids, 60_000);
  const tasks = await checkAll(c, "LIVE flood", ids, states, "");
  const runs = c.executions();
  const live = new Set(liveIds);
  let total = 0;
  for (const t of tasks) {
    const preempted = t.attempts.filter((a) => a.result?.outcome === AttemptOutcome.ATTEMPT_OUTCOME_PREEMPTED);
    total += preempted.length;
    if (live.has(t.id)) {
      assert.is(runs.get(t.id)?.length, 1, `LIVE ${t.id} ran once`);
      assert.is(preempted.length, 0, "LIVE work is not preempted");
      continue;
    }
    assert.is(runs.get(t.id)?.length, t.attempts.length, `${t.id}: one process per attempt`);
    assert.equal([t.retriesUsed, t.requeues], [0, 0], `${t.id}: a preemption uses neither a retry nor a requeue`);
    // At most once per LIVE task that could take its slot: each preemptor is a LIVE task, never the same one twice.
    const by = preempted.map((a) => /^preempted by task (\S+) /.exec(a.result!.message)?.[1] ?? a.result!.message);
    for (const p of by) assert.ok(live.has(p), `${t.id} preempted by ${p}, not a LIVE task`);
    assert.is(new Set(by).size, by.length, `${t.id} preempted twice by the same task: ${by.join(", ")}`);
  }
  console.log(
    `    ${total} preemptions for ${liveIds.length} LIVE tasks; BATCH attempts ${JSON.stringify(tasks.filter((t) => !live.has(t.id)).map(outcomes))}`,
  );
  assert.ok(total >= 1, "the LIVE tasks preempted something");
  assert.ok(total <= liveIds.length, `${total} preemptions for ${liveIds.length} LIVE tasks`);
});

preemption.run();
