// `taskgrid quota set/ls/rm`, `taskgrid shares` and the quota and priority parts of `taskgrid get`
// against a real master (multifactor ordering, its default), with hand-driven agents: tasks run
// without processes, so every wait is on a message or a state the master reports, never a sleep.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createClient, type TaskgridClient } from "../../src/client/index.js";
import { AttemptOutcome, TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { runCli } from "../helpers/run-cli.js";
import { cancelActiveTasks, eventually } from "../helpers/task-watch.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

let tm: TestMaster;
let client: TaskgridClient;
const agents: RawAgent[] = [];

test.before(async () => {
  // Usage accrues every 100 ms, so `shares` shows it moving within a test.
  tm = await startTestMaster({ usageTickMs: 100 });
  client = createClient(tm.address);
});

test.after(async () => {
  await cancelActiveTasks(client);
  for (const a of agents) a.close();
  client.close();
  await tm.cleanup();
});

const cli = (...argv: string[]) => runCli([...argv, "--master", tm.address], {});

const ok = { outcome: AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, exitCode: 0, signal: "", outputTail: "", durationMs: 5, message: "" };

/** A registered hand-driven worker that only tasks requiring `tag` go to. */
async function worker(id: string, tag: string, maxTasks = 4): Promise<RawAgent> {
  const agent = new RawAgent(tm.address);
  agents.push(agent);
  agent.register(id, { tags: [tag], capacity: { cpuMillis: 16_000, memoryMib: 32_768, maxTasks, gpus: [] } });
  await agent.next("registered");
  return agent;
}

/** Takes the next assignment, checks it is for `taskId`, and reports the process started. */
async function runNext(agent: RawAgent, taskId: string): Promise<string> {
  const a = await agent.next("assign");
  assert.is(a.taskId, taskId, "assigned task");
  agent.send({ $case: "started", value: { attemptId: a.attemptId, pid: 1, startedAt: new Date() } });
  return a.attemptId;
}

function finish(agent: RawAgent, attemptId: string): void {
  agent.send({ $case: "finished", value: { attemptId, result: ok, finishedAt: new Date() } });
}

async function submit(project: string, tag: string, name: string): Promise<string> {
  const { task } = await client.submitTask({ name, project, command: ["true"], requiredTags: [tag], resources: { cpuMillis: 1000, memoryMib: 1024 } });
  return task.id;
}

const stateOf = async (id: string) => (await client.getTask(id)).state;

test("quota set, ls and rm: round trip, in text and JSON", async () => {
  const set = await cli("quota", "set", "vision", "gpu=8", "gpu:h100=8", "cpu=64", "memory=512", "--borrow", "gpu=4", "--lend", "gpu=2", "--shares", "2");
  assert.is(set.code, 0, set.err);
  assert.match(set.out, /^Project:\s+vision$/m);
  assert.match(set.out, /^Nominal:\s+cpu=64, memory=512Gi, gpu=8, gpu:h100=8 /m);
  assert.match(set.out, /^Borrow:\s+gpu=4 /m);
  assert.match(set.out, /^Lend:\s+gpu=2 /m);
  assert.match(set.out, /^Shares:\s+2$/m);
  assert.match(set.out, /^Updated:\s+\S+ by anonymous$/m);

  const ls = await cli("quota", "ls");
  assert.is(ls.code, 0, ls.err);
  assert.match(ls.out, /^PROJECT\s+RESOURCE\s+USED\s+NOMINAL\s+BORROW LIMIT\s+LEND LIMIT\s+SHARES$/m);
  assert.match(ls.out, /^vision\s+cpu\s+0\s+64\s+-\s+-\s+2$/m);
  assert.match(ls.out, /^vision\s+memory\s+0Gi\s+512Gi\s+-\s+-\s+2$/m);
  assert.match(ls.out, /^vision\s+gpu\s+0\s+8\s+4\s+2\s+2$/m);
  assert.match(ls.out, /^vision\s+gpu:h100\s+0\s+8\s+-\s+-\s+2$/m);
  assert.match(ls.out, /^default: unlimited$/m);
  assert.match(ls.out, /^quotas from: local$/m);

  const json = JSON.parse((await cli("quota", "ls", "--json")).out);
  const vision = json.quotas.find((q: { quota: { project: string } }) => q.quota.project === "vision");
  assert.equal(vision.quota.nominal, { gpu: 8, "gpu:h100": 8, cpu: 64, memory: 512 });
  assert.equal(vision.quota.borrowingLimit, { gpu: 4 });
  assert.equal(vision.quota.lendingLimit, { gpu: 2 });
  assert.is(vision.quota.shares, 2);
  assert.is(json.provider, "local");

  // A second set replaces the quota (memory with its unit; shares back to the default).
  const again = await cli("quota", "set", "vision", "memory=1Ti", "--json");
  assert.is(again.code, 0, again.err);
  const stored = JSON.parse(again.out);
  assert.equal(stored.nominal, { memory: 1024 });
  assert.is(stored.shares, 1);

  const rm = await cli("quota", "rm", "vision");
  assert.is(rm.code, 0, rm.err);
  assert.match(rm.out, /quota of project vision removed/);
  const after = await cli("quota", "ls");
  assert.not.match(after.out, /^vision/m);
  assert.match(after.out, /^no project has a quota$/m);
});

test("bad input: a usage error naming the argument; rm of an unknown project is NOT_FOUND", async () => {
  const cases: Array<[string[], RegExp]> = [
    [["bad", "cpu=-1"], /^error: quota set: cpu=-1: must be >= 0 \(got -1\)/],
    [["bad", "cpu=NaN"], /^error: quota set: cpu=NaN: "NaN" is not a number/],
    [["bad", "gpu=lots"], /^error: quota set: gpu=lots: "lots" is not a number/],
    [["bad", "memory=12XB"], /^error: quota set: memory=12XB: "12XB" is not a number/],
    [["bad", "gpus=8"], /^error: quota set: gpus=8: unknown resource "gpus"/],
    [["bad", "gpu=8", "--lend", "gpu=10"], /^error: quota set: --lend gpu=10: must be <= the nominal quota 8 \(got 10\)/],
    [["bad", "gpu=8", "--borrow", "cpu=4"], /^error: quota set: --borrow cpu=4: cpu has no nominal quota/],
    [["bad", "gpu=8", "--borrow", "gpu=1e12"], /^error: quota set: --borrow gpu=1e12: must be <= 1000000000/],
    [["bad", "gpu:H100!=2"], /^error: quota set: gpu:H100!=2: GPU model must be/],
    [["bad", "gpu=8", "gpu=4"], /^error: quota set: gpu=4: gpu is given twice/],
    [["bad", "gpu"], /^error: quota set: gpu: not RESOURCE=AMOUNT/],
    [["bad", "gpu=1", "--shares", "0"], /^error: quota set: --shares 0: must be > 0/],
    [["bad", "gpu=1", "--shares", "-2"], /^error: quota set: --shares -2: must be > 0/],
    [["bad", "gpu=1", "--shares", "lots"], /^error: quota set: --shares lots: not a number/],
    [["bad"], /^error: quota set needs RESOURCE=AMOUNT entries or --shares/],
    [["gpu=8"], /^error: quota set: the first argument is the PROJECT/],
  ];
  for (const [args, message] of cases) {
    const r = await cli("quota", "set", ...args);
    assert.is(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, message, args.join(" "));
    assert.is(r.out, "");
  }
  const listed = JSON.parse((await cli("quota", "ls", "--json")).out);
  assert.not.ok(
    (listed.quotas ?? []).some((q: { quota: { project: string } }) => q.quota.project === "bad"),
    "nothing stored",
  );

  const rm = await cli("quota", "rm", "nobody");
  assert.is(rm.code, 1);
  assert.match(rm.err, /^error: NOT_FOUND: quota "nobody" not found/);
  const usage = await cli("quota", "rm");
  assert.is(usage.code, 2);
  assert.match((await cli("quota", "frob")).err, /unknown subcommand "frob"/);
});

test("a project over its quota keeps its task QUEUED with the reason, others run; raising the quota places it", async () => {
  const agent = await worker("w-quota", "quota");
  assert.is((await cli("quota", "set", "vision", "tasks=1")).code, 0);
  const first = await submit("vision", "quota", "first");
  const firstAttempt = await runNext(agent, first);
  const second = await submit("vision", "quota", "second");

  // The reason is the quota, in numbers, and `get` shows it.
  const queued = await eventually(async () => {
    const t = await client.getTask(second);
    return t.pendingReason.startsWith("quota: project ") ? t : undefined;
  }, "the quota reason of the second task");
  assert.is(queued.state, TaskState.TASK_STATE_QUEUED);
  assert.match(queued.pendingReason, /^quota: project vision uses 1\/1 tasks/);
  const got = await cli("get", second);
  assert.is(got.code, 0, got.err);
  assert.match(got.out, /^State:\s+QUEUED$/m);
  assert.match(got.out, /^Pending:\s+quota: project vision uses 1\/1 /m);

  // Another project's task is not held up behind it.
  const other = await submit("nlp", "quota", "other");
  const otherAttempt = await runNext(agent, other);

  // `shares` counts running and queued per project; `quota ls` shows what vision uses.
  const shares = await cli("shares");
  assert.is(shares.code, 0, shares.err);
  assert.match(shares.out, /^PROJECT\s+SHARES\s+NORM SHARES\s+USAGE\s+NORM USAGE\s+FAIRSHARE\s+RUNNING\s+QUEUED$/m);
  assert.match(shares.out, /^vision\s+1\s+\S+\s+\S+\s+\S+\s+\d\.\d{3}\s+1\s+1$/m);
  assert.match(shares.out, /^nlp\s+1\s+\S+\s+\S+\s+\S+\s+\d\.\d{3}\s+1\s+0$/m);
  assert.match(shares.out, /^half-life: 7d, ordering: multifactor$/m);
  const ls = await cli("quota", "ls");
  assert.match(ls.out, /^vision\s+tasks\s+1\s+1\s+-\s+-\s+1$/m);
  assert.match(ls.out, /^vision\s+cpu\s+1\s+-\s+-\s+-\s+1$/m);

  // Raising the quota lets the next dispatch pass place it.
  const raised = await cli("quota", "set", "vision", "tasks=2");
  assert.is(raised.code, 0, raised.err);
  const secondAttempt = await runNext(agent, second);
  await eventually(async () => (await stateOf(second)) === TaskState.TASK_STATE_RUNNING, "second RUNNING");

  for (const id of [firstAttempt, otherAttempt, secondAttempt]) finish(agent, id);
  for (const id of [first, other, second]) await eventually(async () => (await stateOf(id)) === TaskState.TASK_STATE_SUCCEEDED, `${id} SUCCEEDED`);
  assert.is((await cli("quota", "rm", "vision")).code, 0);
});

test("shares shows decayed usage moving while a project runs", async () => {
  const agent = await worker("w-usage", "usage");
  const id = await submit("busy", "usage", "busy");
  const attempt = await runNext(agent, id);
  const usageOf = async () => (await client.getShares()).projects.find((p) => p.project === "busy")?.usage ?? 0;
  const first = await eventually(async () => {
    const u = await usageOf();
    return u > 0 ? u : undefined;
  }, "busy's usage above 0");
  await eventually(async () => (await usageOf()) > first, "busy's usage growing");
  const json = JSON.parse((await cli("shares", "--json")).out);
  const busy = json.projects.find((p: { project: string }) => p.project === "busy");
  assert.ok(busy.usage > 0);
  assert.is(busy.running, 1);
  assert.ok(busy.fairShareFactor > 0 && busy.fairShareFactor <= 1);
  assert.is(json.orderingPolicy, "multifactor");
  finish(agent, attempt);
  await eventually(async () => (await stateOf(id)) === TaskState.TASK_STATE_SUCCEEDED, "busy SUCCEEDED");
});

test("get shows the multifactor Priority of a queued task", async () => {
  // No worker has this tag: the task stays QUEUED, in the multifactor queue.
  const id = await submit("waiting", "nowhere", "waiting");
  const got = await cli("get", id);
  assert.is(got.code, 0, got.err);
  assert.match(
    got.out,
    /^Priority:\s+[\d,]+(\.\d)? = class 0\.5x10,000 \+ priority 0\.5x1,000 \+ fair share [\d.]+x100 \+ age [\d.]+x10 \+ size [\d.]+x0 \(highest first\)$/m,
  );
  const json = JSON.parse((await cli("get", id, "--json")).out);
  assert.is(json.priority.queueClass, 0.5);
  assert.ok(json.priority.total > 5500);
  await client.cancelTask(id);
  assert.not.match((await cli("get", id)).out, /^Priority:/m, "not once it left the queue");
});

test("an attempt on borrowed quota is marked in get", async () => {
  const agent = await worker("w-borrow", "borrow");
  // lender's idle nominal is what borrower may borrow, up to one task beyond its own.
  assert.is((await cli("quota", "set", "lender", "tasks=2")).code, 0);
  assert.is((await cli("quota", "set", "borrower", "tasks=1", "--borrow", "tasks=1")).code, 0);
  const own = await submit("borrower", "borrow", "own");
  const ownAttempt = await runNext(agent, own);
  const extra = await submit("borrower", "borrow", "extra");
  const extraAttempt = await runNext(agent, extra);
  const got = await cli("get", extra);
  assert.match(got.out, /^ {2}#1 {2}w-borrow {2}.* in progress {2}borrowed quota$/m);
  assert.not.match((await cli("get", own)).out, /borrowed quota/);
  finish(agent, ownAttempt);
  finish(agent, extraAttempt);
  for (const id of [own, extra]) await eventually(async () => (await stateOf(id)) === TaskState.TASK_STATE_SUCCEEDED, `${id} SUCCEEDED`);
  for (const p of ["lender", "borrower"]) assert.is((await cli("quota", "rm", p)).code, 0);
});

test("a master reading a quota file: ls shows the file and its quotas, set and rm are refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "taskgrid-cli-quotas-"));
  const file = join(dir, "quotas.yaml");
  writeFileSync(
    file,
    "default:\n  nominal: { gpu: 2, tasks: 100 }\nprojects:\n  vision:\n    nominal: { gpu: 8, cpu: 64 }\n    borrowingLimit: { gpu: 4 }\n    shares: 2\n",
  );
  const fm = await startTestMaster({ quotaProvider: "file", quotaFile: file });
  try {
    const fcli = (...argv: string[]) => runCli([...argv, "--master", fm.address], {});
    const ls = await fcli("quota", "ls");
    assert.is(ls.code, 0, ls.err);
    assert.match(ls.out, /^vision\s+gpu\s+0\s+8\s+4\s+-\s+2$/m);
    assert.match(ls.out, /^default: gpu=2, tasks=100 /m);
    assert.ok(ls.out.endsWith(`\nquotas from: file:${file} (read only here: edit the file)\n`), ls.out);
    const set = await fcli("quota", "set", "vision", "gpu=1");
    assert.is(set.code, 1);
    assert.match(set.err, /^error: FAILED_PRECONDITION: quotas come from .*edit the file instead/);
    const rm = await fcli("quota", "rm", "vision");
    assert.is(rm.code, 1);
    assert.match(rm.err, /^error: FAILED_PRECONDITION: /);
  } finally {
    await fm.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("help lists quota and shares, and each subcommand's flags", async () => {
  const top = await runCli(["help"]);
  assert.match(top.out, /^ {2}quota +Projects' quotas/m);
  assert.match(top.out, /^ {2}shares +Fair share per project/m);
  const quota = await runCli(["quota", "--help"]);
  for (const sub of ["set", "ls", "rm"]) assert.match(quota.out, new RegExp(`^  ${sub} `, "m"));
  const set = await runCli(["quota", "set", "--help"]);
  assert.match(set.out, /Usage: taskgrid quota set \[flags\] PROJECT RESOURCE=AMOUNT\.\.\./);
  for (const flag of ["--borrow RES=AMOUNT", "--lend RES=AMOUNT", "--shares N", "--token TOKEN", "--json"]) assert.ok(set.out.includes(flag), flag);
});

test.run();
