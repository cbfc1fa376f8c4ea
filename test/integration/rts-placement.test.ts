// RTS in the running master, with hand-driven agents whose telemetry and results we control:
// it prefers the idle worker over the loaded one and the reliable over the failing one, explains
// each decision, and falls back to round-robin (counted by reason) when telemetry goes stale.
import { suite } from "uvu";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as assert from "uvu/assert";
import { AttemptOutcome } from "../../src/gen/taskgrid/v1/types.js";
import { call, rawClients, type RawClients } from "../helpers/grpc-clients.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

let nowMs = Date.now();
const clock = { now: () => nowMs };

const rts = suite<{ m: TestMaster; c: RawClients; a: RawAgent; b: RawAgent }>("rts placement");

rts.before(async (ctx) => {
  // Liveness far away: this test moves the clock to age telemetry, not to lose workers.
  ctx.m = await startTestMaster({ clock, telemetryMaxAgeMs: 10_000, suspectAfterMs: 3_600_000, offlineAfterMs: 7_200_000 });
  ctx.c = rawClients(ctx.m.address);
  ctx.a = new RawAgent(ctx.m.address);
  ctx.b = new RawAgent(ctx.m.address);
  ctx.a.register("rts-a", { tags: ["rts", "a"] });
  ctx.b.register("rts-b", { tags: ["rts", "b"] });
  await Promise.all([ctx.a.next("registered"), ctx.b.next("registered")]);
});

rts.after(async (ctx) => {
  ctx.a.close();
  ctx.b.close();
  ctx.c.close();
  await ctx.m.cleanup();
});

const ok = { outcome: AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, exitCode: 0, signal: "", outputTail: "", durationMs: 1000, message: "" };
const failed = { ...ok, outcome: AttemptOutcome.ATTEMPT_OUTCOME_FAILED, exitCode: 1 };

function heartbeat(agent: RawAgent, cpuLoad: number): void {
  agent.send({
    $case: "heartbeat",
    value: { seq: 0, telemetry: { cpuLoad, memoryUsedMib: 1000, memoryTotalMib: 8192, ioPressure: 0, runningAttempts: 0, gpus: [], probeErrors: [] } },
  });
}

/** Runs one task to the end on whichever agent gets it; returns the attempt's decision. */
async function runOne(ctx: { c: RawClients; a: RawAgent; b: RawAgent }, spec: Record<string, unknown>, resultFor: (worker: string) => typeof ok) {
  const { task } = await call(ctx.c.tasks, "submitTask", { spec: { command: ["work"], ...spec } });
  const assign = await nextAssign(ctx.a, ctx.b);
  assert.is(assign.v.taskId, task.id);
  assign.agent.send({ $case: "started", value: { attemptId: assign.v.attemptId, pid: 1, startedAt: new Date(nowMs) } });
  assign.agent.send({ $case: "finished", value: { attemptId: assign.v.attemptId, result: resultFor(assign.id), finishedAt: new Date(nowMs) } });
  // A heartbeat right after is answered only once the finished report was handled (in order).
  const got = await waitForAttemptEnd(ctx.c, task.id);
  return { worker: assign.id, decision: got.attempts[0].decision };
}

/** The next assignment to either agent, without leaving a waiter behind that would steal a later one. */
async function nextAssign(a: RawAgent, b: RawAgent) {
  for (;;) {
    const onA = a.take("assign");
    if (onA) return { v: onA, agent: a, id: "rts-a" };
    const onB = b.take("assign");
    if (onB) return { v: onB, agent: b, id: "rts-b" };
    await Promise.race([a.arrival(), b.arrival()]);
  }
}

async function waitForAttemptEnd(c: RawClients, taskId: string) {
  const stream = c.tasks.watchTasks({ taskIds: [taskId], project: "" });
  for await (const msg of stream as AsyncIterable<any>) if (msg.event.state >= 5) break;
  stream.cancel();
  return (await call(c.tasks, "getTask", { taskId })).task;
}

rts("the idle worker wins over the loaded one, with the breakdown and runner-up recorded", async (ctx) => {
  heartbeat(ctx.a, 0.95);
  heartbeat(ctx.b, 0.05);
  const r = await runOne(ctx, { requiredTags: ["rts"] }, () => ok);
  assert.is(r.worker, "rts-b");
  assert.is(r.decision.strategy, "rts");
  assert.is(r.decision.chosen.workerId, "rts-b");
  assert.is(r.decision.runnerUp.workerId, "rts-a");
  assert.ok(r.decision.chosen.load > r.decision.runnerUp.load);
  assert.ok(r.decision.chosen.score > r.decision.runnerUp.score);
  assert.match(r.decision.weightsVersion, /^[0-9a-f]{12}$/);
});

rts("a worker with a history of failures loses to a reliable one", async (ctx) => {
  for (let i = 0; i < 4; i++) await runOne(ctx, { kind: "flaky", requiredTags: ["a"] }, () => failed);
  for (let i = 0; i < 4; i++) await runOne(ctx, { kind: "flaky", requiredTags: ["b"] }, () => ok);
  heartbeat(ctx.a, 0.1);
  heartbeat(ctx.b, 0.1);
  const r = await runOne(ctx, { kind: "flaky", requiredTags: ["rts"] }, () => ok);
  assert.is(r.worker, "rts-b");
  assert.ok(r.decision.chosen.success > r.decision.runnerUp.success, "S favours the reliable worker");
  assert.ok(r.decision.runnerUp.penalty > 0, "P counts the failures");
});

rts("when telemetry goes stale, placement falls back to round-robin and counts the reason", async (ctx) => {
  nowMs += 60_000;
  const r = await runOne(ctx, { requiredTags: ["rts"] }, () => ok);
  assert.is(r.decision.strategy, "round_robin");
  assert.is(r.decision.fallbackReason, "no_fresh_telemetry");
  const info = await call(ctx.c.admin, "getSchedulerInfo", {});
  assert.ok(info.fallbacksByReason.no_fresh_telemetry >= 1);
  assert.ok(info.decisionsByStrategy.rts >= 2);
  // Fresh telemetry brings RTS back.
  heartbeat(ctx.a, 0.9);
  heartbeat(ctx.b, 0.1);
  const back = await runOne(ctx, { requiredTags: ["rts"] }, () => ok);
  assert.is(back.decision.strategy, "rts");
});

rts.run();

const reload = suite("weights hot reload in the master");

reload("a rewritten weights file changes version and weights without restart; a corrupt one is reported and ignored", async () => {
  const dir = mkdtempSync(join(tmpdir(), "taskgrid-weights-"));
  const path = join(dir, "ga_output.json");
  const write = (text: string) => {
    writeFileSync(`${path}.tmp`, text);
    renameSync(`${path}.tmp`, path);
  };
  write('{"w_deadline":0.35,"w_affinity":0.20,"w_load":0.25,"w_io":0.10,"w_success":0.05,"w_penalty":0.05}');
  const m = await startTestMaster({ weightsPath: path });
  const c = rawClients(m.address);
  try {
    const before = await call(c.admin, "getSchedulerInfo", {});
    write('{"w_deadline":0.1,"w_affinity":0.1,"w_load":0.6,"w_io":0.1,"w_success":0.05,"w_penalty":0.05,"generation":12}');
    await m.master.weights.tick();
    const after = await call(c.admin, "getSchedulerInfo", {});
    assert.is.not(after.weightsVersion, before.weightsVersion);
    assert.is(after.weights.wLoad, 0.6);
    assert.is(after.weightsMetadata.generation, "12");
    write('{"w_deadline":0.1,"w_affinity"');
    await m.master.weights.tick();
    const corrupt = await call(c.admin, "getSchedulerInfo", {});
    assert.is(corrupt.weightsVersion, after.weightsVersion, "last good weights stay");
    assert.match(corrupt.weightsError, /invalid JSON/);
    assert.is(corrupt.weightsReloads.failure, 1);
  } finally {
    c.close();
    await m.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

reload("learned statistics survive a master restart", async () => {
  const first = await startTestMaster();
  const stats = { kind: "render", workerId: "w-1", runtimeRatio: 1.8, successes: 5, failures: 2, predictionError: 0.3, samples: 7, updatedAtMs: 1 };
  await first.master.store.write([{ kind: "upsert_learning", stats }]);
  await first.stop();
  const second = await startTestMaster({}, first.db);
  try {
    assert.equal(second.master.observer.learning.get("render", "w-1"), stats);
  } finally {
    await second.cleanup();
  }
});

reload("what a finished attempt taught is written by the flush (on its tick, and at stop) and reloads", async () => {
  const first = await startTestMaster();
  const c = rawClients(first.address);
  const agent = new RawAgent(first.address);
  const learnt = async () => (await first.master.store.loadLearning()).find((r) => r.kind === "flush" && r.workerId === "flush-w");
  try {
    agent.register("flush-w");
    await agent.next("registered");
    const run = async () => {
      const { task } = await call(c.tasks, "submitTask", { spec: { command: ["work"], kind: "flush", estimateMs: 500 } });
      const assign = await agent.next("assign");
      agent.send({ $case: "started", value: { attemptId: assign.attemptId, pid: 1, startedAt: new Date() } });
      agent.send({ $case: "finished", value: { attemptId: assign.attemptId, result: ok, finishedAt: new Date() } });
      await waitForAttemptEnd(c, task.id);
    };
    await run();
    assert.is(first.master.observer.learning.get("flush", "flush-w")?.successes, 1, "learnt in memory at the end");
    // The term's timer writes it within a tick (LEARNING_FLUSH_MS); wait for the row, not a fixed time.
    const deadline = Date.now() + 10_000;
    while (!(await learnt()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.is((await learnt())?.successes, 1, "written by the flush tick");
    await run();
  } finally {
    agent.close();
    c.close();
  }
  await first.stop(); // the second success is written by a tick or, at the latest, by the term's last flush
  const second = await startTestMaster({}, first.db);
  try {
    assert.is(second.master.observer.learning.get("flush", "flush-w")?.successes, 2);
  } finally {
    await second.cleanup();
  }
});

reload.run();
