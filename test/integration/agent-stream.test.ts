// The agent against a fake master over real gRPC on loopback: registration with capacity,
// heartbeats with telemetry, assign -> started/progress/finished, cancel, pause/resume, drain,
// and reconnecting after the master restarts (re-adopting running attempts, delivering reports
// produced while disconnected). Tests wait on events, never on fixed sleeps.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startAgent, type AgentHandle, type AgentOptions, type AgentPhase } from "../../agent/agent.js";
import { TaskSpec } from "../../src/gen/taskgrid/v1/task.js";
import { AttemptOutcome } from "../../src/gen/taskgrid/v1/types.js";
import { FakeMaster } from "../helpers/fake-master.js";

const work = mkdtempSync(join(tmpdir(), "agent-stream-"));
const agents: AgentHandle[] = [];
const masters: FakeMaster[] = [];

// A fake nvidia-smi (the mixed workstation fixture) first on PATH: the agent announces 3 GPUs.
writeFileSync(join(work, "nvidia-smi"), `#!/bin/sh\ncat ${new URL("../fixtures/nvidia-smi/mixed.csv", import.meta.url).pathname}\n`);
chmodSync(join(work, "nvidia-smi"), 0o755);
const gpuProbe = { env: { ...process.env, PATH: `${work}:${process.env.PATH}` } };

/** An event log with waiters: `waitFor` resolves on the first matching entry (past or future). */
class Events<T> {
  private readonly seen: T[] = [];
  private waiters: Array<{ match: (e: T) => boolean; resolve: (e: T) => void }> = [];
  push(e: T): void {
    this.seen.push(e);
    this.waiters = this.waiters.filter((w) => (w.match(e) ? (w.resolve(e), false) : true));
  }
  waitFor(match: (e: T) => boolean, from = 0): Promise<T> {
    const hit = this.seen.slice(from).find(match);
    return hit !== undefined ? Promise.resolve(hit) : new Promise((resolve) => this.waiters.push({ match, resolve }));
  }
  get length(): number {
    return this.seen.length;
  }
}

function launch(master: FakeMaster, extra: Partial<AgentOptions> = {}) {
  const phases = new Events<AgentPhase>();
  const logs = new Events<Record<string, unknown>>();
  const agent = startAgent({
    master: master.address,
    workerId: "agent-test-1",
    tags: ["gpu", "ssd", ""],
    maxTasks: 3,
    gpuProbe,
    backoff: { baseMs: 10, capMs: 100 },
    stopGraceMs: 1_000,
    log: (line) => logs.push(JSON.parse(line)),
    onPhase: (p) => phases.push(p),
    ...extra,
  });
  agents.push(agent);
  return { agent, phases, logs };
}

async function startMaster(options: Parameters<typeof FakeMaster.start>[0] = {}): Promise<FakeMaster> {
  const master = await FakeMaster.start({ heartbeatIntervalMs: 20, ...options });
  masters.push(master);
  return master;
}

function assign(attemptId: string, command: string[], extra: Partial<TaskSpec> = {}) {
  return {
    $case: "assign" as const,
    value: { attemptId, taskId: `task-of-${attemptId}`, spec: TaskSpec.fromPartial({ command, ...extra }), gpuIndexes: [], attemptNumber: 1, traceParent: "" },
  };
}

test.after.each(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await Promise.all(masters.splice(0).map((m) => m.stop()));
});
test.after(() => rmSync(work, { recursive: true, force: true }));

test("registers with capacity, tags and GPUs, then heartbeats with telemetry", async () => {
  const master = await startMaster();
  const { agent } = launch(master);
  const register = await master.next("register");
  assert.is(register.workerId, "agent-test-1");
  assert.equal(register.tags, ["gpu", "ssd"]);
  assert.equal(register.running, []);
  assert.ok(register.agentVersion.length > 0);
  assert.is(register.capacity!.maxTasks, 3);
  assert.ok(register.capacity!.cpuMillis >= 1000);
  assert.ok(register.capacity!.memoryMib > 0);
  assert.equal(
    register.capacity!.gpus.map((g) => [g.index, g.model]),
    [
      [0, "NVIDIA A100-PCIE-40GB"],
      [1, "Tesla T4"],
      [2, "NVIDIA GeForce RTX 3090"],
    ],
  );
  await agent.ready;
  assert.is(agent.phase(), "registered");
  for (let i = 0; i < 3; i++) {
    const hb = await master.next("heartbeat");
    assert.ok(hb.telemetry);
    assert.ok(hb.telemetry!.memoryTotalMib > 0);
    assert.is(hb.telemetry!.gpus.length, 3);
    assert.is(hb.telemetry!.runningAttempts, 0);
    assert.equal(hb.telemetry!.probeErrors, []);
  }
});

test("worker id defaults to the sanitised host name", async () => {
  const master = await startMaster();
  const { agent } = launch(master, { workerId: undefined, hostname: "gpu box#7.example" });
  assert.is(agent.workerId, "gpu-box-7.example");
  assert.is((await master.next("register")).hostname, "gpu box#7.example");
});

test("assign runs the command and reports started, progress and finished", async () => {
  const master = await startMaster();
  const { agent } = launch(master);
  await agent.ready;
  master.send(assign("att-1", ["sh", "-c", 'echo ::progress 50 half; echo "gpus=[$CUDA_VISIBLE_DEVICES] task=$TASKGRID_TASK_ID"']));
  const started = await master.next("started");
  assert.is(started.attemptId, "att-1");
  assert.ok(started.pid > 0);
  assert.instance(started.startedAt, Date);
  const progress = await master.next("progress");
  assert.equal([progress.attemptId, progress.percent, progress.message], ["att-1", 50, "half"]);
  const finished = await master.next("finished");
  assert.is(finished.attemptId, "att-1");
  assert.is(finished.result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
  // This machine has (fake) GPUs and none were allocated: they are hidden from the task.
  assert.match(finished.result!.outputTail, /gpus=\[\] task=task-of-att-1\n$/);
  assert.instance(finished.finishedAt, Date);
});

test("cancel, pause/resume and drain", async () => {
  const master = await startMaster();
  const { agent } = launch(master);
  await agent.ready;
  master.send(assign("att-sleep", ["sleep", "30"]));
  await master.next("started", (s) => s.attemptId === "att-sleep");
  assert.equal(agent.runningAttempts(), ["att-sleep"]);
  master.send({ $case: "pause", value: { attemptId: "att-sleep" } });
  const pausedReport = await master.next("paused");
  assert.equal([pausedReport.attemptId, pausedReport.paused, pausedReport.session], ["att-sleep", true, 1]);
  assert.ok(pausedReport.seq > 0, "reports carry a sequence number");
  master.send({ $case: "resume", value: { attemptId: "att-sleep" } });
  const resumedReport = await master.next("paused");
  assert.equal([resumedReport.attemptId, resumedReport.paused, resumedReport.session], ["att-sleep", false, 1]);
  master.send({ $case: "cancel", value: { attemptId: "att-sleep", graceMs: 5_000, reason: "user asked" } });
  const canceled = await master.next("finished", (f) => f.attemptId === "att-sleep");
  assert.is(canceled.result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_CANCELED);
  assert.is(canceled.result!.message, "user asked");
  master.send({ $case: "drain", value: { reason: "maintenance" } });
  master.send(assign("att-late", ["true"]));
  const refused = await master.next("finished", (f) => f.attemptId === "att-late");
  // Handed back as LOST (requeued elsewhere without using a retry), never START_FAILED.
  assert.is(refused.result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_LOST);
  assert.is(refused.result!.message, "agent draining");
  // An operator's undrain: work is taken again.
  master.send({ $case: "undrain", value: {} });
  master.send(assign("att-after-undrain", ["true"]));
  const taken = await master.next("finished", (f) => f.attemptId === "att-after-undrain");
  assert.is(taken.result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
  await agent.drain();
  assert.equal(agent.runningAttempts(), []);
});

test("reconnects after a master restart: re-adopts running attempts, delivers buffered reports", async () => {
  const master1 = await startMaster();
  const { agent, phases, logs } = launch(master1);
  await agent.ready;
  const go = join(work, "go");
  master1.send(assign("att-long", ["sleep", "30"]));
  master1.send(assign("att-wait", ["sh", "-c", `while [ ! -e '${go}' ]; do sleep 0.02; done; echo finished offline`]));
  await master1.next("started", (s) => s.attemptId === "att-long");
  await master1.next("started", (s) => s.attemptId === "att-wait");

  const phasesBefore = phases.length;
  await master1.stop();
  await phases.waitFor((p) => p === "backoff", phasesBefore);
  writeFileSync(go, "");
  await logs.waitFor((l) => l.message === "attempt finished" && l.attempt === "att-wait");

  const master2 = await startMaster({ port: master1.port });
  const register = await master2.next("register");
  const listed = register.running.map((r) => r.attemptId).sort();
  assert.equal(listed, ["att-long", "att-wait"], "running, and finished-but-unreported, attempts are listed");
  assert.is(register.running.find((r) => r.attemptId === "att-long")!.taskId, "task-of-att-long");
  const finished = await master2.next("finished");
  assert.is(finished.attemptId, "att-wait");
  assert.is(finished.result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
  assert.is(finished.result!.outputTail, "finished offline\n");
  assert.equal(agent.runningAttempts(), ["att-long"]);

  // A stopping agent reports its killed attempts as LOST (retry), not CANCELED.
  await agent.stop();
  const lost = await master2.next("finished", (f) => f.attemptId === "att-long");
  assert.is(lost.result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_LOST);
  assert.is(agent.phase(), "stopped");
});

test("attempts in registered.kill_attempt_ids are killed and not reported", async () => {
  const master1 = await startMaster();
  const { agent, phases } = launch(master1);
  await agent.ready;
  master1.send(assign("att-stale", ["sleep", "30"]));
  await master1.next("started");
  const before = phases.length;
  await master1.stop();
  await phases.waitFor((p) => p === "backoff", before);
  const master2 = await startMaster({ port: master1.port, killAttemptIds: (r) => r.running.map((a) => a.attemptId) });
  assert.equal(
    (await master2.next("register")).running.map((a) => a.attemptId),
    ["att-stale"],
  );
  await agent.drain(); // the kill ends it
  assert.equal(agent.runningAttempts(), []);
  // The stream is ordered: once a heartbeat sent after the kill arrived, a report would have too.
  const mark = master2.received.length;
  agent.heartbeatTick();
  await master2.next("heartbeat", () => true, mark);
  assert.equal(master2.all("finished"), []);
});

test.run();
