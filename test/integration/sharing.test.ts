// Quotas and fair share in the live master (issue 15), with raw agents that take assignments and
// report on command: a project over its quota keeps its task QUEUED with a reason and does not
// block other projects; borrowing from an idle project is marked on the attempt; shrinking a quota
// below use stops new starts only; the quota file provider; usage written and read back.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { call, callError, rawClients, type RawClients } from "../helpers/grpc-clients.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { eventually } from "../helpers/task-watch.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

const GPUS = [0, 1, 2, 3].map((index) => ({ index, uuid: `GPU-${index}`, model: "NVIDIA H100 80GB HBM3", memoryMib: 81920, numaNode: 0 }));
const ok = { outcome: 1, exitCode: 0, signal: "", outputTail: "", durationMs: 1, message: "" };

let tm: TestMaster;
let c: RawClients;
let agent: RawAgent;
const dir = mkdtempSync(join(tmpdir(), "taskgrid-sharing-"));

test.before(async () => {
  tm = await startTestMaster({ usageTickMs: 50 });
  c = rawClients(tm.address);
  agent = new RawAgent(tm.address);
  agent.register("gpu-box", { tags: ["share"], capacity: { cpuMillis: 64_000, memoryMib: 512 * 1024, maxTasks: 16, gpus: GPUS } });
  await agent.next("registered");
});

test.after(async () => {
  agent.close();
  c.close();
  await tm.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const gpuTask = (project: string) => ({
  spec: { project, command: ["true"], requiredTags: ["share"], resources: { gpuCount: 1, cpuMillis: 100, memoryMib: 64 } },
});
const submit = async (project: string): Promise<string> => (await call(c.tasks, "submitTask", gpuTask(project))).task.id;
const getTask = async (id: string) => (await call(c.tasks, "getTask", { taskId: id })).task;
const setQuota = (quota: Record<string, unknown>) => call(c.admin, "setQuota", { quota });

/** Finishes the attempts the agent was assigned (reported SUCCEEDED), waiting until each task ends. */
async function finish(assigned: Array<{ attemptId: string; taskId: string }>): Promise<void> {
  for (const a of assigned) agent.send({ $case: "finished", value: { attemptId: a.attemptId, result: ok, finishedAt: new Date() } });
  for (const a of assigned) await eventually(async () => (await getTask(a.taskId)).state === TaskState.TASK_STATE_SUCCEEDED, `task ${a.taskId} SUCCEEDED`);
}

test("a project at its nominal quota waits with a reason naming the numbers; another project is not blocked", async () => {
  await setQuota({ project: "vision", nominal: { gpu: 2 } });
  const ids = [await submit("vision"), await submit("vision"), await submit("vision")];
  const first = [await agent.next("assign"), await agent.next("assign")];
  assert.equal(first.map((a) => a.taskId).sort(), ids.slice(0, 2).sort());
  const waiting = await eventually(async () => {
    const t = await getTask(ids[2]);
    return t.pendingReason.startsWith("quota:") && t;
  }, "the third task names its quota");
  assert.is(waiting.state, TaskState.TASK_STATE_QUEUED);
  assert.is(waiting.pendingReason, "quota: project vision uses 2/2 gpu, borrowing 0/unlimited (none idle)");
  // Another project (no quota: unlimited) gets the free GPUs although vision's task is older.
  const other = await submit("nlp");
  const assigned = await agent.next("assign");
  assert.is(assigned.taskId, other);
  // A project running without a quota of its own is listed under the default (unlimited here).
  const nlp = (await call(c.admin, "listQuotas", {})).quotas.find((q: { quota: { project: string } }) => q.quota.project === "nlp");
  assert.equal([nlp?.isDefault, nlp?.used.gpu, nlp?.quota.nominal], [true, 1, {}]);
  // Raising the quota lets the waiting task start.
  await setQuota({ project: "vision", nominal: { gpu: 3 } });
  const third = await agent.next("assign");
  assert.is(third.taskId, ids[2]);
  await finish([...first, assigned, third]);
  await call(c.admin, "deleteQuota", { project: "vision" });
});

test("borrowing: a project beyond its nominal uses another's idle quota up to its limits; the attempt is marked borrowed", async () => {
  await setQuota({ project: "alpha", nominal: { gpu: 1 }, borrowingLimit: { gpu: 1 } });
  await setQuota({ project: "beta", nominal: { gpu: 3 }, lendingLimit: { gpu: 1 } });
  const ids = [await submit("alpha"), await submit("alpha"), await submit("alpha")];
  const assigned = [await agent.next("assign"), await agent.next("assign")];
  const third = await eventually(async () => {
    const t = await getTask(ids[2]);
    return t.pendingReason.startsWith("quota:") && t;
  }, "the third alpha task waits");
  assert.is(third.pendingReason, "quota: project alpha uses 2/1 gpu, borrowing 1/1 (none idle)");
  const attempts = await Promise.all(ids.slice(0, 2).map(async (id) => (await getTask(id)).attempts[0]));
  assert.equal(attempts.map((a: { borrowed: boolean }) => a.borrowed).sort(), [false, true], "the second one runs on beta's lent GPU");
  const listed = await call(c.admin, "listQuotas", {});
  const alpha = listed.quotas.find((q: { quota: { project: string } }) => q.quota.project === "alpha");
  assert.equal(alpha.used.gpu, 2);
  assert.is(listed.provider, "local");
  // Shrinking alpha below what it uses: what runs goes on, nothing new starts.
  await setQuota({ project: "alpha", nominal: { gpu: 0 } });
  await finish(assigned.slice(0, 1));
  const still = await getTask(ids[2]);
  assert.is(still.state, TaskState.TASK_STATE_QUEUED);
  assert.match(still.pendingReason, /^quota: project alpha uses 1\/0 gpu/);
  await call(c.admin, "deleteQuota", { project: "alpha" });
  await call(c.admin, "deleteQuota", { project: "beta" });
  const last = await agent.next("assign");
  assert.is(last.taskId, ids[2]);
  await finish([assigned[1], last]);
});

test("usage accrues for what runs, the fair-share factor follows, and the rows outlive the term", async () => {
  const id = await submit("heavy");
  const a = await agent.next("assign");
  assert.is(a.taskId, id);
  await eventually(async () => {
    const shares = await call(c.admin, "getShares", {});
    const heavy = shares.projects.find((p: { project: string }) => p.project === "heavy");
    return heavy && heavy.usage > 0 && heavy.fairShareFactor < 1 && heavy.running === 1;
  }, "heavy has usage and a factor below 1");
  const info = await call(c.admin, "getSchedulerInfo", {});
  assert.is(info.quotaProvider, "local");
  assert.ok(
    info.projectShares.some((p: { project: string; running: number }) => p.project === "heavy" && p.running === 1),
    "GetSchedulerInfo carries the shares",
  );
  const stored = await tm.master.store.loadUsage();
  assert.ok((stored.find((u) => u.project === "heavy")?.usage ?? 0) > 0, "written to the database");
  // A queued task under multifactor shows its priority breakdown.
  const queued = await call(c.tasks, "submitTask", { spec: { project: "light", command: ["true"], requiredTags: ["nowhere"] } });
  const t = await getTask(queued.task.id);
  assert.ok(t.priority, "breakdown present");
  assert.is(t.priority.fairShare, 1, "a project that used nothing has F = 1");
  assert.ok(Math.abs(t.priority.total - (t.priority.queueClass * 10_000 + t.priority.priority * 1_000 + 100 + t.priority.age * 10)) < 1e-6);
  await call(c.tasks, "cancelTask", { taskId: queued.task.id });
  await finish([a]);
});

test("quota errors name the field and the rule", async () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ project: "p", nominal: { gpus: 2 } }, /quota\.nominal\.gpus: unknown resource/],
    [{ project: "p", nominal: { gpu: -1 } }, /quota\.nominal\.gpu: must be >= 0/],
    [{ project: "p", nominal: { gpu: 1 }, lendingLimit: { gpu: 2 } }, /quota\.lendingLimit\.gpu: must be <= the nominal quota/],
    [{ project: "", nominal: { gpu: 1 } }, /quota\.project: must not be empty/],
    [{ project: "p", nominal: { gpu: 1 }, shares: -2 }, /quota\.shares/],
  ];
  for (const [quota, rule] of cases) {
    const err = await callError(setQuota(quota));
    assert.is(err.code, 3, JSON.stringify(quota));
    assert.match(err.details, rule);
  }
  const missing = await call(c.admin, "deleteQuota", { project: "never-had-one" }).catch((e: { code: number }) => e);
  assert.is((missing as { code: number }).code, 5);
});

test("the file provider: quotas from a YAML file, re-read on change; a broken file keeps the last good quotas", async () => {
  const file = join(dir, "quotas.yaml");
  writeFileSync(file, "projects:\n  filed:\n    nominal: { gpu: 1 }\n    shares: 3\n");
  const m = await startTestMaster({ quotaProvider: "file", quotaFile: file });
  const fc = rawClients(m.address);
  try {
    const listed = await call(fc.admin, "listQuotas", {});
    assert.is(listed.provider, `file:${file}`);
    assert.equal(
      listed.quotas.map((q: { quota: { project: string; nominal: Record<string, number>; shares: number } }) => [
        q.quota.project,
        q.quota.nominal,
        q.quota.shares,
      ]),
      [["filed", { gpu: 1 }, 3]],
    );
    const refused = await call(fc.admin, "setQuota", { quota: { project: "x", nominal: { gpu: 1 } } }).catch((e: { code: number; details: string }) => e);
    assert.is((refused as { code: number }).code, 9, "FAILED_PRECONDITION: the file is the source");
    writeFileSync(file, "projects:\n  filed:\n    nominal: { gpu: 2 }\n");
    await eventually(async () => (await call(fc.admin, "listQuotas", {})).quotas[0]?.quota.nominal.gpu === 2, "the edit is picked up");
    writeFileSync(file, "projects:\n  filed:\n    nominal: { gpu: -5 }\n");
    await eventually(
      async () => m.logs.some((l) => l.includes("the quota file is not usable") && l.includes("last good quotas kept")),
      "the bad file is reported",
    );
    assert.is((await call(fc.admin, "listQuotas", {})).quotas[0].quota.nominal.gpu, 2, "last good kept");
  } finally {
    fc.close();
    await m.cleanup();
  }
});

test.run();
