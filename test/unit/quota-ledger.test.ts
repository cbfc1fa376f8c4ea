// Per-project quotas with borrowing and lending (issue 15): readable example cases of the ledger,
// the demand of an attempt, and the validation of quotas as operators write them.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { InvalidArgumentError } from "../../src/core/errors.js";
import { gpuModelKey, gpuModelsOf, taskDemand, validateDefaultQuota, validateQuota } from "../../src/core/fairshare/demand.js";
import { formatAmount, QuotaLedger } from "../../src/core/fairshare/quota-ledger.js";
import type { Amounts, ProjectQuota } from "../../src/core/fairshare/types.js";
import type { Gpu, ResourceRequest } from "../../src/core/types.js";

const H100 = "NVIDIA H100 80GB HBM3";
const A100 = "NVIDIA A100-SXM4-40GB";

function quota(project: string, nominal: Amounts, borrowingLimit: Amounts = {}, lendingLimit: Amounts = {}): ProjectQuota {
  return { project, nominal, borrowingLimit, lendingLimit };
}

function resources(overrides: Partial<ResourceRequest> = {}): ResourceRequest {
  return { cpuMillis: 1000, memoryMib: 1024, gpuCount: 0, gpuModel: "", gpuMemoryMib: 0, ...overrides };
}

/** One task on `count` H100s (1 core, 1 GiB). */
const h100 = (count = 1) => taskDemand(resources({ gpuCount: count, gpuModel: "h100" }), Array(count).fill(H100));

/** Adds `n` one-H100 attempts for the project. */
function run(ledger: QuotaLedger, project: string, n: number): void {
  for (let i = 0; i < n; i++) ledger.add(project, h100());
}

function invalid(fn: () => unknown, field: string, rule: RegExp): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, InvalidArgumentError);
    assert.is((err as InvalidArgumentError).field, field);
    assert.match((err as InvalidArgumentError).rule, rule);
    return;
  }
  assert.unreachable(`expected InvalidArgumentError on ${field}`);
}

// ---- demand -------------------------------------------------------------------------------------

test("taskDemand counts cores, GiB, GPUs, one task and one entry per allocated GPU model", () => {
  const demand = taskDemand(resources({ cpuMillis: 2500, memoryMib: 3072, gpuCount: 3 }), [H100, A100, H100]);
  assert.equal(demand, { tasks: 1, cpu: 2.5, memory: 3, gpu: 3, "gpu:nvidia-h100-80gb-hbm3": 2, "gpu:nvidia-a100-sxm4-40gb": 1 });
  assert.equal(taskDemand(resources({ cpuMillis: 0, memoryMib: 0 }), []), { tasks: 1 });
  assert.is(gpuModelKey("  Tesla T4 "), "tesla-t4");
});

test("gpuModelsOf maps allocated indexes to models and skips indexes the worker no longer has", () => {
  const gpus: Gpu[] = [
    { index: 1, uuid: "b", model: A100, memoryMib: 40960, numaNode: 0 },
    { index: 0, uuid: "a", model: H100, memoryMib: 81559, numaNode: 0 },
  ];
  assert.equal(gpuModelsOf(gpus, [0, 1]), [H100, A100]);
  assert.equal(gpuModelsOf(gpus, [7]), []);
});

// ---- admission ----------------------------------------------------------------------------------

test("within nominal: admitted, not borrowing", () => {
  const ledger = new QuotaLedger([quota("vision", { "gpu:h100": 8 })], null);
  run(ledger, "vision", 7);
  assert.equal(ledger.check("vision", h100()), { ok: true, borrowing: false });
  ledger.add("vision", h100());
  assert.is(ledger.usedOn("vision", "gpu:h100"), 8);
  assert.is(ledger.usedOn("vision", "gpu"), 8);
});

test("a quota's gpu:<model> counts every GPU whose model contains it", () => {
  const ledger = new QuotaLedger([quota("vision", { "gpu:h100": 2 })], null);
  ledger.add("vision", taskDemand(resources({ gpuCount: 2 }), [H100, "NVIDIA H100 NVL"]));
  assert.is(ledger.usedOn("vision", "gpu:h100"), 2);
  // An A100 is not limited by the H100 quota; another H100 is.
  assert.equal(ledger.check("vision", taskDemand(resources({ gpuCount: 1 }), [A100])), { ok: true, borrowing: false });
  assert.is(ledger.check("vision", h100()).ok, false);
});

test("borrowing from an idle project: admitted and marked borrowing", () => {
  const ledger = new QuotaLedger([quota("vision", { "gpu:h100": 8 }, { "gpu:h100": 4 }), quota("nlp", { "gpu:h100": 8 })], null);
  run(ledger, "vision", 8);
  assert.equal(ledger.check("vision", h100()), { ok: true, borrowing: true });
  ledger.add("vision", h100());
  // The lender itself always gets its nominal back (reclaiming the loan waits for preemption).
  run(ledger, "nlp", 7);
  assert.equal(ledger.check("nlp", h100()), { ok: true, borrowing: false });
});

test("the example of the issue: nothing idle to borrow", () => {
  const ledger = new QuotaLedger([quota("vision", { "gpu:h100": 8 }, { "gpu:h100": 4 }), quota("nlp", { "gpu:h100": 8 })], null);
  run(ledger, "vision", 8);
  run(ledger, "nlp", 8);
  assert.equal(ledger.check("vision", h100()), {
    ok: false,
    resource: "gpu:h100",
    reason: "quota: project vision uses 8/8 gpu:h100, borrowing 0/4 (none idle)",
  });
});

test("lending limit respected: a lender lets go of at most its lending limit", () => {
  const ledger = new QuotaLedger([quota("vision", { "gpu:h100": 8 }, { "gpu:h100": 4 }), quota("nlp", { "gpu:h100": 8 }, {}, { "gpu:h100": 2 })], null);
  run(ledger, "vision", 10);
  assert.equal(ledger.check("vision", h100()), {
    ok: false,
    resource: "gpu:h100",
    reason: "quota: project vision uses 10/8 gpu:h100, borrowing 2/4 (none idle)",
  });
});

test("borrowing limit respected, even with more idle", () => {
  const ledger = new QuotaLedger([quota("vision", { "gpu:h100": 8 }, { "gpu:h100": 4 }), quota("nlp", { "gpu:h100": 8 })], null);
  run(ledger, "vision", 12);
  assert.equal(ledger.check("vision", h100()), {
    ok: false,
    resource: "gpu:h100",
    reason: "quota: project vision uses 12/8 gpu:h100, borrowing 4/4 (4 idle)",
  });
});

test("some idle but not enough: the reason says how much is idle and what the task needs", () => {
  const ledger = new QuotaLedger([quota("vision", { "gpu:h100": 8 }, { "gpu:h100": 4 }), quota("nlp", { "gpu:h100": 8 })], null);
  run(ledger, "vision", 8);
  run(ledger, "nlp", 7);
  assert.equal(ledger.check("vision", h100(4)), {
    ok: false,
    resource: "gpu:h100",
    reason: "quota: project vision uses 8/8 gpu:h100, borrowing 0/4 (1 idle), task needs 4",
  });
  assert.equal(ledger.check("vision", h100(1)), { ok: true, borrowing: true });
});

test("what other projects already borrow is not idle any more", () => {
  const ledger = new QuotaLedger([quota("vision", { gpu: 4 }), quota("nlp", { gpu: 4 }), quota("speech", { gpu: 4 }, { gpu: 0 }, { gpu: 4 })], null);
  run(ledger, "vision", 6); // borrows 2 of speech's 4
  run(ledger, "nlp", 6); // borrows the other 2
  assert.equal(ledger.check("nlp", h100()), {
    ok: false,
    resource: "gpu",
    reason: "quota: project nlp uses 6/4 gpu, borrowing 2/unlimited (none idle)",
  });
});

test("unlimited project: never refused, lends nothing", () => {
  const ledger = new QuotaLedger([quota("vision", { gpu: 1 })], null);
  run(ledger, "scratch", 100);
  assert.equal(ledger.check("scratch", h100(8)), { ok: true, borrowing: false });
  assert.is(ledger.quotaOf("scratch"), null);
  run(ledger, "vision", 1);
  assert.is(ledger.check("vision", h100()).ok, false);
  assert.equal(ledger.projects(), ["scratch", "vision"]);
});

test("default quota applied to a project without one; default projects borrow but do not lend", () => {
  const ledger = new QuotaLedger([quota("vision", { gpu: 2 })], { nominal: { gpu: 1 }, borrowingLimit: {}, lendingLimit: {} });
  assert.equal(ledger.quotaOf("interns"), { project: "interns", nominal: { gpu: 1 }, borrowingLimit: {}, lendingLimit: {} });
  run(ledger, "interns", 1);
  assert.equal(ledger.check("interns", h100()), { ok: true, borrowing: true }); // from vision's idle 2
  run(ledger, "interns", 2);
  assert.equal(ledger.check("interns", h100()), {
    ok: false,
    resource: "gpu",
    reason: "quota: project interns uses 3/1 gpu, borrowing 2/unlimited (none idle)",
  });
  // "students" on the default is idle, yet lends vision nothing.
  const other = new QuotaLedger([quota("vision", { gpu: 2 })], { nominal: { gpu: 1 }, borrowingLimit: {}, lendingLimit: {} });
  run(other, "vision", 2);
  assert.equal(other.check("vision", h100()), { ok: false, resource: "gpu", reason: "quota: project vision uses 2/2 gpu, borrowing 0/unlimited (none idle)" });
});

test("reason units: cores, GiB, at most two decimals; odd project names quoted", () => {
  const ledger = new QuotaLedger(
    [quota("web", { cpu: 4 }, { cpu: 0 }), quota("etl", { memory: 2 }, { memory: 0 }), quota("my team", { tasks: 1 }, { tasks: 0 })],
    null,
  );
  ledger.add("web", taskDemand(resources({ cpuMillis: 3500, memoryMib: 0 }), []));
  assert.equal(ledger.check("web", taskDemand(resources({ cpuMillis: 1000 }), [])), {
    ok: false,
    resource: "cpu",
    reason: "quota: project web uses 3.5/4 cpu cores, borrowing 0/0 (none idle), task needs 1",
  });
  ledger.add("etl", taskDemand(resources({ cpuMillis: 0, memoryMib: 1365 }), []));
  assert.equal(ledger.check("etl", taskDemand(resources({ memoryMib: 1024 }), [])), {
    ok: false,
    resource: "memory",
    reason: "quota: project etl uses 1.33/2 GiB memory, borrowing 0/0 (none idle), task needs 1",
  });
  ledger.add("my team", taskDemand(resources(), []));
  assert.equal(ledger.check("my team", taskDemand(resources(), [])), {
    ok: false,
    resource: "tasks",
    reason: 'quota: project "my team" uses 1/1 tasks, borrowing 0/0 (none idle)',
  });
  assert.is(formatAmount(2 / 3), "0.67");
  assert.is(formatAmount(1e9), "1000000000");
});

test("the scarcest resource is named first: a GPU model before GPUs before cpu", () => {
  const ledger = new QuotaLedger([quota("vision", { cpu: 1, gpu: 1, "gpu:h100": 1 }, { cpu: 0, gpu: 0, "gpu:h100": 0 })], null);
  run(ledger, "vision", 1);
  assert.equal((ledger.check("vision", h100()) as { resource: string }).resource, "gpu:h100");
});

test("shrink below use: running work continues, nothing new needing the resource starts", () => {
  const ledger = new QuotaLedger([quota("vision", { gpu: 8 }, { gpu: 0 })], null);
  run(ledger, "vision", 8);
  ledger.setQuotas([quota("vision", { gpu: 4 }, { gpu: 0 })], null);
  assert.is(ledger.usedOn("vision", "gpu"), 8); // usage kept across the edit
  assert.equal(ledger.check("vision", h100()), { ok: false, resource: "gpu", reason: "quota: project vision uses 8/4 gpu, borrowing 4/0 (none idle)" });
  // A CPU-only task does not need the shrunk resource.
  assert.equal(ledger.check("vision", taskDemand(resources(), [])), { ok: true, borrowing: false });
  for (let i = 0; i < 4; i++) ledger.remove("vision", h100());
  assert.is(ledger.check("vision", h100()).ok, false); // 4/4: still full
  ledger.remove("vision", h100());
  assert.equal(ledger.check("vision", h100()), { ok: true, borrowing: false });
});

test("remove never goes below zero and leaves no rounding residue", () => {
  const ledger = new QuotaLedger([], null);
  const tenth = taskDemand(resources({ cpuMillis: 100, memoryMib: 0 }), []);
  for (let i = 0; i < 3; i++) ledger.add("p", tenth);
  for (let i = 0; i < 3; i++) ledger.remove("p", tenth);
  assert.equal(ledger.usage("p"), {});
  ledger.remove("p", tenth);
  assert.equal(ledger.usage("p"), {});
  assert.equal(ledger.projects(), []);
});

test("bad demands and duplicate quota rows are refused; a failed edit changes nothing", () => {
  const ledger = new QuotaLedger([quota("vision", { gpu: 1 })], null);
  invalid(() => ledger.add("vision", { gpus: 1 }), 'demand["gpus"]', /unknown resource/);
  invalid(() => ledger.add("vision", { cpu: -1 }), 'demand["cpu"]', />= 0/);
  invalid(() => ledger.add("vision", { cpu: Number.NaN }), 'demand["cpu"]', /finite/);
  invalid(() => ledger.setQuotas([quota("a", {}), quota("a", {})], null), "quotas[1].project", /more than one quota/);
  invalid(() => ledger.setQuotas([quota("a", { cpu: -1 })], null), "quotas[0].nominal.cpu", /must be >= 0/);
  assert.equal(ledger.quotaOf("vision")?.nominal, { gpu: 1 });
});

// ---- validateQuota ------------------------------------------------------------------------------

test("validateQuota normalises keys and fills absent limits", () => {
  assert.equal(validateQuota({ project: "vision", nominal: { "GPU:H100": 8, CPU: 64 }, borrowingLimit: { "gpu:h100": 4 } }, "quota"), {
    project: "vision",
    nominal: { "gpu:h100": 8, cpu: 64 },
    borrowingLimit: { "gpu:h100": 4 },
    lendingLimit: {},
  });
  assert.is(validateDefaultQuota(null, "default"), null);
  assert.equal(validateDefaultQuota({ nominal: { gpu: 1 } }, "default"), { nominal: { gpu: 1 }, borrowingLimit: {}, lendingLimit: {} });
});

test("validateQuota refuses bad amounts, unknown resources and bad projects", () => {
  const q =
    (nominal: unknown, project: unknown = "vision") =>
    () =>
      validateQuota({ project, nominal }, "quota");
  invalid(q({ gpu: -1 }), "quota.nominal.gpu", /^must be >= 0 \(got -1\)$/);
  invalid(q({ gpu: Number.NaN }), "quota.nominal.gpu", /^must be a finite number \(got NaN\)/);
  invalid(q({ cpu: Number.POSITIVE_INFINITY }), "quota.nominal.cpu", /^must be a finite number \(got Infinity\)/);
  invalid(q({ memory: 1e12 }), "quota.nominal.memory", /^must be <= 1000000000 \(got 1000000000000\)/);
  invalid(q({ gpu: "8" }), "quota.nominal.gpu", /must be a number \(got string\)/);
  invalid(q({ gpus: 8 }), "quota.nominal.gpus", /^unknown resource "gpus": use cpu, memory, gpu, tasks or gpu:<model>$/);
  invalid(q({ "gpu:": 8 }), 'quota.nominal["gpu:"]', /GPU model must be 1\.\.64 characters .* \(got ""\)/);
  invalid(q({ "gpu:h 100": 8 }), 'quota.nominal["gpu:h 100"]', /GPU model must be/);
  invalid(q({ [`gpu:${"x".repeat(65)}`]: 8 }), `quota.nominal["gpu:${"x".repeat(65)}"]`, /GPU model must be/);
  invalid(q({ gpu: 1, GPU: 2 }), "quota.nominal.GPU", /listed twice/);
  invalid(q({ gpu: 1 }, ""), "quota.project", /^must not be empty$/);
  invalid(q({ gpu: 1 }, "x".repeat(129)), "quota.project", /at most 128 characters/);
  invalid(q({ gpu: 1 }, "a\u0000b"), "quota.project", /NUL/);
  invalid(q({ gpu: 1 }, 7), "quota.project", /must be a string/);
  invalid(q(undefined), "quota.nominal", /must be an object/);
  invalid(() => validateQuota("vision", "quota"), "quota", /must be an object/);
  invalid(
    () => validateQuota({ project: "v", nominal: { gpu: 1 }, borrowingLimit: { gpu: 1e12 } }, "quota"),
    "quota.borrowingLimit.gpu",
    /^must be <= 1000000000/,
  );
  invalid(() => validateQuota({ project: "v", nominal: { gpu: 1 }, borrowingLimit: { cpu: 1 } }, "quota"), "quota.borrowingLimit.cpu", /no nominal quota/);
  invalid(() => validateQuota({ project: "v", nominal: { gpu: 1 }, lendingLimit: { gpu: 2 } }, "quota"), "quota.lendingLimit.gpu", /<= the nominal quota 1/);
});

test.run();
