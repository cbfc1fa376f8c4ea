// History end to end (issue 17): a real master, a real agent process and the CLI. Three tasks run
// (a CPU burner, a 200 MB allocation, one that fails); `taskgrid history --json` shows all three
// with the CPU time and max RSS the agent measured, `--state failed` one, the CSV parses, bad input
// is refused naming the field, and the leader's retention (its clock injected) deletes only what
// ended before the cut.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createClient, type TaskgridClient, type TaskSpecInput } from "../../src/client/index.js";
import { ClientError } from "../../src/client/errors.js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { Proc } from "../helpers/processes.js";
import { runCli } from "../helpers/run-cli.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";
import { TaskEvents } from "../helpers/task-watch.js";

const DAY = 86_400_000;
/** The master's clock: real time unless a test pins it. */
let pinnedMs: number | null = null;
const clock = { now: () => pinnedMs ?? Date.now() };

interface Ctx {
  m: TestMaster;
  agent: Proc;
  client: TaskgridClient;
  env: Record<string, string>;
  ids: { burn: string; alloc: string; fail: string };
}

const history = suite<Ctx>("history (real agent, CLI)");

const spec = (command: string[], kind: string): TaskSpecInput => ({
  command,
  kind,
  requiredTags: ["hist"],
  resources: { cpuMillis: 100, memoryMib: 64 },
});

async function runToEnd(client: TaskgridClient, specs: TaskSpecInput[]): Promise<string[]> {
  const ids: string[] = [];
  for (const s of specs) ids.push((await client.submitTask(s)).task.id);
  const events = new TaskEvents(client, ids);
  const ended = new Set([TaskState.TASK_STATE_SUCCEEDED, TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELED]);
  for (const id of ids) await events.until((e) => e.taskId === id && ended.has(e.state));
  events.close();
  return ids;
}

history.before(async (ctx) => {
  ctx.m = await startTestMaster({ clock, historyRetentionDays: 90 });
  ctx.env = { TASKGRID_MASTER: ctx.m.address };
  ctx.client = createClient(ctx.m.address);
  ctx.agent = new Proc(["agent", "--master", ctx.m.address, "--id", "hist-w1", "--tags", "hist", "--max-tasks", "3"]);
  await ctx.agent.waitFor(/"registered"/);
  const [burn, alloc, fail] = await runToEnd(ctx.client, [
    spec(["sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"], "burn"),
    spec(["python3", "-c", "x = bytearray(200_000_000)"], "alloc"),
    spec(["sh", "-c", "exit 3"], "fail"),
  ]);
  ctx.ids = { burn, alloc, fail };
});

history.after(async (ctx) => {
  ctx.client?.close();
  await ctx.agent?.stop();
  await ctx.m?.cleanup();
});

interface JsonRow {
  taskId: string;
  state: string;
  exitCode: number;
  workerId: string;
  cpuTimeMs?: number;
  maxRssKib?: number;
  runMs: number;
  waitMs?: number;
}

async function historyJson(env: Record<string, string>, ...flags: string[]): Promise<JsonRow[]> {
  const run = await runCli(["history", "--json", ...flags], env);
  assert.is(run.code, 0, run.err);
  return (JSON.parse(run.out) as { rows: JsonRow[] }).rows;
}

history("history --json shows the three tasks with the CPU time and max RSS their agent measured", async ({ env, ids }) => {
  const rows = await historyJson(env);
  const byId = new Map(rows.map((r) => [r.taskId, r]));
  assert.is(rows.length, 3, JSON.stringify(rows));
  for (const row of rows) {
    assert.is(row.workerId, "hist-w1");
    assert.type(row.cpuTimeMs, "number", `${row.taskId}: cpu`);
    assert.type(row.maxRssKib, "number", `${row.taskId}: rss`);
    assert.type(row.waitMs, "number");
  }
  const burn = byId.get(ids.burn)!;
  assert.is(burn.state, "TASK_STATE_SUCCEEDED");
  assert.ok(burn.cpuTimeMs! >= 20 && burn.cpuTimeMs! <= burn.runMs + 50, `burner: cpu ${burn.cpuTimeMs} ms, run ${burn.runMs} ms`);
  assert.ok(byId.get(ids.alloc)!.maxRssKib! >= 150_000, `allocation: max rss ${byId.get(ids.alloc)!.maxRssKib} KiB`);
  assert.equal([byId.get(ids.fail)!.state, byId.get(ids.fail)!.exitCode], ["TASK_STATE_FAILED", 3]);
});

history("--state failed shows the failed one; the table has sacct's columns", async ({ env, ids }) => {
  const failed = await historyJson(env, "--state", "failed");
  assert.equal(
    failed.map((r) => r.taskId),
    [ids.fail],
  );
  const table = await runCli(["history", "--kind", "burn"], env);
  assert.is(table.code, 0, table.err);
  const [header, row, ...rest] = table.out.trimEnd().split("\n");
  assert.equal(header.split(/\s+/), ["JobID", "State", "ExitCode", "Worker", "Wait", "Elapsed", "CPUTime", "MaxRSS"]);
  assert.match(row, new RegExp(`^${ids.burn}\\s+SUCCEEDED\\s+0\\s+hist-w1\\s`));
  assert.is(rest.length, 0);
});

history("--csv prints one parsable line per task with raw numbers", async ({ env, ids }) => {
  const run = await runCli(["history", "--csv", "--format", "id,state,exit,cpu,rss,gpus"], env);
  assert.is(run.code, 0, run.err);
  const [header, ...lines] = run.out.trimEnd().split("\n");
  assert.is(header, "task_id,state,exit_code,cpu_time_ms,max_rss_kib,gpu_seconds");
  const rows = lines.map((l) => l.split(","));
  assert.is(rows.length, 3);
  for (const [id, state, exit, cpu, rss, gpus] of rows) {
    assert.ok(Object.values(ids).includes(id));
    assert.ok(["SUCCEEDED", "FAILED"].includes(state));
    assert.ok(Number.isInteger(Number(exit)) && Number.isInteger(Number(cpu)) && Number(rss) > 0, `${id}: ${exit} ${cpu} ${rss}`);
    assert.is(Number(gpus), 0);
  }
});

history("bad input is refused naming the field", async ({ env, client }) => {
  const bad = async (flags: string[], field: RegExp) => {
    const run = await runCli(["history", ...flags], env);
    assert.is(run.code, 2, `${flags.join(" ")}: ${run.out}`);
    assert.match(run.err, field);
  };
  await bad(["--since", "yesterday"], /--since: "yesterday" is neither/);
  await bad(["--since", "1d", "--until", "2d"], /--until .* must be after --since/);
  await bad(["--state", "running"], /--state: history holds finished tasks/);
  await bad(["--format", "id,bogus"], /--format: unknown column "bogus"/);
  const refused = async (request: Parameters<TaskgridClient["listHistory"]>[0], field: RegExp) => {
    try {
      await client.listHistory(request);
      assert.unreachable("accepted");
    } catch (err) {
      assert.instance(err, ClientError);
      assert.is((err as ClientError).code, 3, (err as Error).message); // INVALID_ARGUMENT
      assert.match((err as Error).message, field);
    }
  };
  await refused({ pageSize: 1001 }, /page_size/);
  await refused({ since: new Date(2_000_000), until: new Date(1_000_000) }, /until/);
  await refused({ states: [TaskState.TASK_STATE_RUNNING] }, /states\[0\]/);
});

history("retention deletes only the tasks that ended before the cut (the leader's clock pinned)", async ({ m, client, env, ids }) => {
  const before = await historyJson(env, "--since", "all");
  const [late] = await runToEnd(client, [spec(["true"], "late")]);
  const rows = await historyJson(env, "--since", "all");
  const endOf = async (id: string) => (await client.listHistory({})).rows.find((r) => r.taskId === id)!.endedAt!.getTime();
  const lastOld = Math.max(...(await Promise.all(before.map((r) => endOf(r.taskId)))));
  const lateEnd = await endOf(late);
  assert.ok(lateEnd > lastOld, "the late task ended after the three");
  assert.is(rows.length, 4);
  // 90 days after a moment between the three ends and the late one.
  pinnedMs = Math.floor((lastOld + lateEnd) / 2) + 90 * DAY + 1;
  let pass: { tasks: number; events: number };
  try {
    pass = await m.master.term!.retention.runOnce();
  } finally {
    pinnedMs = null;
  }
  assert.is(pass.tasks, 3);
  // Stored: only the failure's end, which carries its reason. The other events (QUEUED, ASSIGNED,
  // RUNNING, the successes' ends) are derived from the task and attempt rows, deleted with them.
  assert.is(pass.events, 1, `events deleted: ${pass.events}`);
  assert.equal(
    (await historyJson(env, "--since", "all")).map((r) => r.taskId),
    [late],
  );
  for (const id of Object.values(ids)) {
    const run = await runCli(["get", id], env);
    assert.is(run.code, 1, `${id} is gone`);
  }
});

history.run();
