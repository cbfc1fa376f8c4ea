// Human output and argument parsing of the quota and fair-share verbs: `quota set` arguments and
// how the master's INVALID_ARGUMENT maps back to them, the `quota ls` and `shares` tables, the
// stored quota, and the Priority line and borrowed attempts of `get`.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseArgs } from "../../src/cli/args.js";
import { quotaFromArgs, quotaSetCommand, parseQuotaEntry, usageErrorFromMaster } from "../../src/cli/commands/quota.js";
import { HELP_FLAG } from "../../src/cli/command.js";
import {
  DEFAULT_PRIORITY_WEIGHTS,
  formatAmounts,
  formatDefaultQuota,
  formatGrouped,
  formatPriority,
  formatQuota,
  formatQuotaTable,
  formatSharesTable,
  formatUsage,
  sortResources,
} from "../../src/cli/render-sharing.js";
import { formatTaskDetail } from "../../src/cli/render-task.js";
import { GetSharesResponse, ListQuotasResponse, ProjectQuota } from "../../src/gen/taskgrid/v1/admin_service.js";
import { PriorityBreakdown, Task } from "../../src/gen/taskgrid/v1/task.js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { throwsUsage } from "../helpers/usage-error.js";

const now = new Date("2025-01-01T12:00:00Z");

test("grouped numbers and decayed usage", () => {
  assert.is(formatGrouped(10_545.12, 1), "10,545.1");
  assert.is(formatGrouped(1_000), "1,000");
  assert.is(formatGrouped(999), "999");
  assert.is(formatGrouped(1_234_567.891, 2), "1,234,567.89");
  assert.is(formatGrouped(-12_345), "-12,345");
  const usage: Array<[number, string]> = [
    [0, "0"],
    [0.004, "<0.01"],
    [0.126, "0.13"],
    [37.5, "37.5"],
    [3_600, "3,600"],
    [999_999, "999,999"],
    [1_200_000, "1.2M"],
    [4_500_000_000, "4.5G"],
    [7e12, "7T"],
  ];
  for (const [n, text] of usage) assert.is(formatUsage(n), text, String(n));
});

test("resources sort cpu, memory, gpu, per-model GPUs, tasks; memory shows its unit", () => {
  assert.equal(sortResources(["tasks", "gpu:h100", "gpu", "memory", "gpu:a100", "cpu"]), ["cpu", "memory", "gpu", "gpu:a100", "gpu:h100", "tasks"]);
  assert.is(formatAmounts({ gpu: 8, memory: 512, cpu: 64, "gpu:h100": 8 }), "cpu=64, memory=512Gi, gpu=8, gpu:h100=8");
  assert.is(formatAmounts({}), "");
});

const quota = (p: Partial<ProjectQuota>) => ProjectQuota.fromPartial({ shares: 1, ...p });

test("a stored quota: nominal, limits, shares and who set it", () => {
  const out = formatQuota(
    quota({
      project: "vision",
      nominal: { gpu: 8, "gpu:h100": 8, cpu: 64, memory: 512 },
      borrowingLimit: { gpu: 4 },
      lendingLimit: { gpu: 2 },
      shares: 2,
      updatedAt: now,
      updatedBy: "token 0123456789abcdef (alice)",
    }),
  );
  assert.is(
    out,
    "Project: vision\n" +
      "Nominal: cpu=64, memory=512Gi, gpu=8, gpu:h100=8 (resources not listed: no limit)\n" +
      "Borrow:  gpu=4 (resources not listed: no limit)\n" +
      "Lend:    gpu=2 (resources not listed: all of their nominal)\n" +
      "Shares:  2\n" +
      "Updated: 2025-01-01T12:00:00.000Z by token 0123456789abcdef (alice)\n",
  );
  const noLimits = formatQuota(quota({ project: "nlp", nominal: { tasks: 10 } }));
  assert.match(noLimits, /^Borrow:\s+no limit$/m);
  assert.match(noLimits, /^Lend:\s+all of its nominal$/m);
  const sharesOnly = formatQuota(quota({ project: "nlp", shares: 3 }));
  assert.match(sharesOnly, /^Nominal: none \(no resource is limited\)$/m);
  assert.not.match(sharesOnly, /Borrow/);
});

test("quota ls: a row per project and resource, '-' for no limit, the default and the provider", () => {
  const res = ListQuotasResponse.fromPartial({
    quotas: [
      {
        quota: quota({ project: "vision", nominal: { gpu: 8, "gpu:h100": 4, memory: 512 }, borrowingLimit: { gpu: 4 }, lendingLimit: { gpu: 2 }, shares: 2 }),
        // What runs: per-model keys as agents report them; cpu and tasks without a limit still show.
        used: { gpu: 5, "gpu:nvidia-h100-80gb-hbm3": 3, "gpu:nvidia-a100": 2, cpu: 2.5, memory: 40.5, tasks: 5 },
      },
      { quota: quota({ project: "audio", shares: 3 }), used: {} },
    ],
    defaultQuota: quota({ nominal: { gpu: 2, tasks: 100 }, borrowingLimit: { gpu: 1 } }),
    provider: "file:/etc/taskgrid/quotas.yaml",
  });
  assert.is(
    formatQuotaTable(res),
    "PROJECT  RESOURCE  USED    NOMINAL  BORROW LIMIT  LEND LIMIT  SHARES\n" +
      "audio    -         -       -        -             -           3\n" +
      "vision   cpu       2.5     -        -             -           2\n" +
      "vision   memory    40.5Gi  512Gi    -             -           2\n" +
      "vision   gpu       5       8        4             2           2\n" +
      "vision   gpu:h100  3       4        -             -           2\n" +
      "vision   tasks     5       -        -             -           2\n" +
      "default: gpu=2, tasks=100; borrow gpu=1 (each project without a quota of its own)\n" +
      "quotas from: file:/etc/taskgrid/quotas.yaml (read only here: edit the file)\n",
  );
  const empty = formatQuotaTable(ListQuotasResponse.fromPartial({ provider: "local" }));
  assert.is(empty, "no project has a quota\ndefault: unlimited\nquotas from: local\n");
  assert.is(formatDefaultQuota(undefined), "default: unlimited");
});

test("shares: like sshare, then the half-life and the ordering", () => {
  const res = GetSharesResponse.fromPartial({
    projects: [
      { project: "a", shares: 1, sharesNorm: 0.5, usage: 3_600, usageNorm: 0.003, fairShareFactor: 0.99584, running: 16, queued: 4984 },
      { project: "b", shares: 1, sharesNorm: 0.5, usage: 1_200_000, usageNorm: 0.997, fairShareFactor: 0.2512, running: 0, queued: 50 },
    ],
    halfLifeMs: 7 * 86_400_000,
    orderingPolicy: "multifactor",
  });
  assert.is(
    formatSharesTable(res),
    "PROJECT  SHARES  NORM SHARES  USAGE  NORM USAGE  FAIRSHARE  RUNNING  QUEUED\n" +
      "a        1       0.500        3,600  0.003       0.996      16       4984\n" +
      "b        1       0.500        1.2M   0.997       0.251      0        50\n" +
      "half-life: 7d, ordering: multifactor\n",
  );
  const priority = formatSharesTable(GetSharesResponse.fromPartial({ halfLifeMs: 3_600_000, orderingPolicy: "priority" }));
  assert.match(priority, /^half-life: 1h, ordering: priority \(the fair-share factor orders tasks only under the multifactor ordering\)$/m);
});

const breakdown = (b: Partial<PriorityBreakdown>) => {
  const full = PriorityBreakdown.fromPartial({ queueClass: 0.5, priority: 0.5, fairShare: 0.451, age: 0.01, size: 0.9, ...b });
  const w = DEFAULT_PRIORITY_WEIGHTS;
  full.total ||= w.queueClass * full.queueClass + w.priority * full.priority + w.fairShare * full.fairShare + w.age * full.age + w.size * full.size;
  return full;
};

test("the Priority line: each factor times its weight, and the total", () => {
  assert.equal(DEFAULT_PRIORITY_WEIGHTS, { queueClass: 10_000, priority: 1_000, fairShare: 100, age: 10, size: 0 });
  assert.is(formatPriority(breakdown({})), "5,545.2 = class 0.5x10,000 + priority 0.5x1,000 + fair share 0.451x100 + age 0.01x10 + size 0.9x0");
  // Weights the master was configured with, other than the defaults: shown when given.
  const custom = { queueClass: 10_000, priority: 1_000, fairShare: 5_000, age: 10, size: 0 };
  const b = breakdown({ total: 5_000 + 500 + 0.451 * 5_000 + 0.1 });
  assert.is(formatPriority(b, custom), "7,755.1 = class 0.5x10,000 + priority 0.5x1,000 + fair share 0.451x5,000 + age 0.01x10 + size 0.9x0");
  // Weights that do not give the total are not shown as if they did.
  assert.is(
    formatPriority(b),
    "7,755.1, the weighted sum of class 0.5, priority 0.5, fair share 0.451, age 0.01, size 0.9 (weights as configured on the master)",
  );
});

test("get: a queued task shows its Priority; attempts on borrowed quota are marked", () => {
  const queued = Task.fromPartial({
    id: "t1",
    state: TaskState.TASK_STATE_QUEUED,
    spec: { command: ["train"], project: "vision" },
    pendingReason: "quota: project vision uses 8/8 gpu:h100, borrowing 0/4 (none idle)",
    priority: breakdown({}),
  });
  const out = formatTaskDetail(queued, now);
  assert.match(out, /^Pending:\s+quota: project vision uses 8\/8 gpu:h100, borrowing 0\/4 \(none idle\)$/m);
  assert.match(out, /^Priority:\s+5,545.2 = class 0.5x10,000 \+ .* size 0.9x0 \(highest first\)$/m);
  assert.ok(out.indexOf("Pending:") < out.indexOf("Priority:"), "the reason first, then the priority");
  const running = Task.fromPartial({
    id: "t2",
    state: TaskState.TASK_STATE_RUNNING,
    spec: { command: ["train"] },
    priority: breakdown({}),
    attempts: [
      { id: "a1", number: 1, workerId: "w1", assignedAt: now, borrowed: true },
      { id: "a0", number: 2, workerId: "w2", assignedAt: now },
    ],
  });
  const text = formatTaskDetail(running, now);
  assert.not.match(text, /^Priority:/m, "only while queued");
  assert.match(text, /^ {2}#1 {2}w1 .* in progress {2}borrowed quota/m);
  assert.match(text, /^ {2}#2 {2}w2 .* in progress$/m);
});

const setArgs = (...argv: string[]) => parseArgs(argv, { ...quotaSetCommand.flags, ...HELP_FLAG });

test("quota set arguments: RES=AMOUNT, limits, shares; mistakes name the argument", () => {
  const { quota: q } = quotaFromArgs(
    setArgs("vision", "gpu=8", "gpu:h100=8", "cpu=0.5", "memory=1Ti", "--borrow", "gpu=4", "--lend", "gpu=2", "--shares", "2"),
  );
  assert.equal(q, {
    project: "vision",
    nominal: { gpu: 8, "gpu:h100": 8, cpu: 0.5, memory: 1024 },
    borrowingLimit: { gpu: 4 },
    lendingLimit: { gpu: 2 },
    shares: 2,
  });
  assert.is(quotaFromArgs(setArgs("nlp", "--shares", "3")).quota.shares, 3);
  assert.is(quotaFromArgs(setArgs("nlp", "tasks=5")).quota.shares, 0, "unset: the master's default");
  assert.is(parseQuotaEntry("memory=512Mi", "nominal").amount, 0.5);
  assert.is(parseQuotaEntry("memory=512", "nominal").amount, 512);
  assert.is(parseQuotaEntry("cpu=-1", "nominal").amount, -1, "ranges are the master's rules");
  throwsUsage(() => parseQuotaEntry("cpu=NaN", "nominal"), "cpu=NaN", '"NaN" is not a number', "cores");
  throwsUsage(() => parseQuotaEntry("gpu=Infinity", "borrowingLimit"), "--borrow gpu=Infinity", "not a number");
  throwsUsage(() => parseQuotaEntry("gpu=", "lendingLimit"), "--lend gpu=", "not a number");
  throwsUsage(() => parseQuotaEntry("memory=5PB", "nominal"), "memory=5PB", "512Gi");
  throwsUsage(() => parseQuotaEntry("=8", "nominal"), "not RESOURCE=AMOUNT");
  throwsUsage(() => quotaFromArgs(setArgs()), "needs a PROJECT");
  throwsUsage(() => quotaFromArgs(setArgs("vision")), "RESOURCE=AMOUNT entries or --shares");
  throwsUsage(() => quotaFromArgs(setArgs("gpu=8")), "the first argument is the PROJECT");
  throwsUsage(() => quotaFromArgs(setArgs("v", "gpu=1", "gpu=2")), "gpu=2", "given twice");
  throwsUsage(() => quotaFromArgs(setArgs("v", "gpu=1", "--shares", "0")), "--shares 0", "> 0");
  throwsUsage(() => quotaFromArgs(setArgs("v", "gpu=1", "--shares", "x")), "--shares x", "not a number");
});

test("the master's INVALID_ARGUMENT for a field becomes a usage error naming the argument", () => {
  const { entries } = quotaFromArgs(setArgs("v", "GPUS=8", "gpu:H100=2", "--borrow", "cpu=4", "--lend", "gpu=9"));
  const mapped = (details: string) => usageErrorFromMaster(details, entries, undefined)?.message;
  assert.is(
    mapped('quota.nominal.GPUS: unknown resource "GPUS": use cpu, memory, gpu, tasks or gpu:<model>'),
    'quota set: GPUS=8: unknown resource "GPUS": use cpu, memory, gpu, tasks or gpu:<model>',
  );
  assert.is(mapped('quota.nominal["gpu:h100"]: must be <= 1000000000 (got 2)'), "quota set: gpu:H100=2: must be <= 1000000000 (got 2)");
  assert.is(
    mapped("quota.borrowingLimit.cpu: cpu has no nominal quota; a borrowing limit needs one"),
    "quota set: --borrow cpu=4: cpu has no nominal quota; a borrowing limit needs one",
  );
  assert.is(mapped("quota.lendingLimit.gpu: must be <= the nominal quota 8 (got 9)"), "quota set: --lend gpu=9: must be <= the nominal quota 8 (got 9)");
  assert.is(usageErrorFromMaster("quota.shares: must be > 0", entries, "-1")?.message, "quota set: --shares -1: must be > 0");
  assert.is(mapped("quota.project: at most 128 characters (got 200)"), "quota set: PROJECT: at most 128 characters (got 200)");
  assert.is(mapped("quota.nominal.tasks: must be >= 0 (got -1)"), undefined, "no such argument: the master's error as is");
  assert.is(mapped("something else"), undefined);
});

test.run();
