// StreamLogs on a leader that steps down (issue 17). Following a task that has no attempt yet
// (`submit --wait` across a failover): the term ends the wait as it ends watches, with UNAVAILABLE
// (naming the new leader when it knows it), instead of leaving the call open until the client gives
// up. Following a running task's output with `taskgrid logs -f` (a real agent process and the real
// CLI): the CLI resumes on the new leader from the offsets it received, so every line is printed
// exactly once and in order. Two masters on one Postgres, in process; skipped without Postgres.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import * as grpc from "@grpc/grpc-js";
import pg from "pg";
import { LEADER_METADATA_KEY } from "../../src/core/errors.js";
import { StreamLogsRequest, type StreamLogsResponse } from "../../src/gen/taskgrid/v1/logs.js";
import { applicationNameOf } from "../../src/store/leader-sql.js";
import { createClient } from "../../src/client/index.js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { call, rawClients, type RawClients } from "../helpers/grpc-clients.js";
import { Cli, expectedLines, gate, numberedLines } from "../helpers/log-follow.js";
import { Proc } from "../helpers/processes.js";
import { TaskEvents, waitUntil } from "../helpers/task-watch.js";
import { createTestDatabase, startTestMaster, type TestDatabase, type TestMaster } from "../helpers/test-master.js";

const pgUrl = process.env.TASKGRID_TEST_PG_URL;
const test = suite<{ db: TestDatabase; masters: TestMaster[]; clients: RawClients[] }>("StreamLogs follow across a step-down");
const HA = { leaderLeaseMs: 1000 };

test.before.each(async (ctx) => {
  if (!pgUrl) return;
  ctx.db = await createTestDatabase();
  ctx.masters = [];
  ctx.clients = [];
});
test.after.each(async (ctx) => {
  if (!pgUrl) return;
  for (const c of ctx.clients) c.close();
  for (const m of ctx.masters) await m.stop();
  await ctx.db.drop();
});

const it = pgUrl ? test : test.skip;

it("a follow waiting for the first attempt ends UNAVAILABLE when its leader steps down; the new leader serves it again", async (ctx) => {
  const a = await startTestMaster(HA, ctx.db);
  ctx.masters.push(a);
  const b = await startTestMaster(HA, ctx.db);
  ctx.masters.push(b);
  const ca = rawClients(a.address);
  const cb = rawClients(b.address);
  ctx.clients.push(ca, cb);
  // Never placed (no worker has the tag): the follow waits for an attempt that does not come.
  const { task } = await call(ca.tasks, "submitTask", { spec: { command: ["true"], requiredTags: ["nowhere"] } });
  const term = a.master.term!;
  const received: StreamLogsResponse[] = [];
  const ended = new Promise<grpc.ServiceError | null>((resolve) => {
    const stream = ca.tasks.streamLogs(StreamLogsRequest.fromPartial({ taskId: task.id, follow: true }));
    stream.on("data", (r: StreamLogsResponse) => received.push(r));
    stream.on("error", (err: grpc.ServiceError) => resolve(err));
    stream.on("end", () => resolve(null));
  });
  await waitUntil(() => term.watchCalls.size === 1, "the follow waits in the leader's term", 10_000);

  await handOver(a, b);
  // Bounded only so that a regression fails here instead of hanging the suite.
  const err = await Promise.race([ended, new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), 15_000).unref())]);
  assert.ok(err !== "hung" && err !== null, `the follow ended with a status (got ${err === null ? "a clean end" : err})`);
  assert.is(err.code, grpc.status.UNAVAILABLE, err.details);
  const hint = err.metadata.get(LEADER_METADATA_KEY);
  if (hint.length > 0) assert.equal(hint, [b.address], "a hint names the new leader");
  assert.equal(received, [], "nothing was sent before");
  assert.is(term.watchCalls.size, 0, "the term keeps no stream");

  // The new leader takes the follow: it waits there (and a cancel of the task ends it cleanly).
  const notices: string[] = [];
  const again = new Promise<grpc.ServiceError | null>((resolve) => {
    const stream = cb.tasks.streamLogs(StreamLogsRequest.fromPartial({ taskId: task.id, follow: true }));
    stream.on("data", (r: StreamLogsResponse) => notices.push(r.notice));
    stream.on("error", (e: grpc.ServiceError) => resolve(e));
    stream.on("end", () => resolve(null));
  });
  await waitUntil(() => b.master.term!.watchCalls.size === 1, "the follow waits on the new leader", 10_000);
  await call(cb.tasks, "cancelTask", { taskId: task.id });
  assert.is(await again, null);
  assert.equal(notices, [`task ${task.id} ended CANCELED without running`]);
  assert.is(b.master.term!.watchCalls.size, 0);
});

/**
 * Ends every database session of `from` until `to` has taken the lead (a leader whose lock session
 * broke may take the free lock back at its next renewal, by design; the case under test is the takeover).
 */
async function handOver(from: TestMaster, to: TestMaster): Promise<void> {
  const admin = new pg.Client({ connectionString: from.db.options.databaseUrl });
  await admin.connect();
  try {
    const cutAt = Date.now();
    while (to.master.term === null && Date.now() - cutAt < 10_000) {
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [applicationNameOf(from.master.instanceId)]);
      await waitUntil(() => to.master.term !== null, "the standby leads", 100).catch(() => undefined);
    }
  } finally {
    await admin.end();
  }
  await waitUntil(() => to.master.term !== null, "the standby leads", 1);
  await waitUntil(() => from.master.term === null, "the old leader stepped down", 10_000);
}

it("logs -f of a running task across a step-down: the CLI resumes on the new leader, every line once and in order", async (ctx) => {
  const a = await startTestMaster(HA, ctx.db);
  ctx.masters.push(a);
  const b = await startTestMaster(HA, ctx.db);
  ctx.masters.push(b);
  const masters = `${a.address},${b.address}`;
  const dir = mkdtempSync(join(tmpdir(), "taskgrid-ha-logs-"));
  const agent = new Proc(["agent", "--master", masters, "--id", "ha-logs-w1", "--tags", "ha-logs", "--state-dir", join(dir, "agent")]);
  const client = createClient([a.address, b.address]);
  const g = gate(dir, "lines");
  try {
    await agent.waitFor(/"message":"registered"/);
    const N = 10;
    const { task } = await client.submitTask({ command: numberedLines(N, g.path), requiredTags: ["ha-logs"], resources: { cpuMillis: 100, memoryMib: 64 } });
    const events = new TaskEvents(client, [task.id]);
    await events.state(TaskState.TASK_STATE_RUNNING);
    events.close();
    const logs = new Cli(["logs", "-f", task.id], { TASKGRID_MASTER: masters });
    await logs.stdoutHasLine("line 1");
    g.open(2);
    await logs.stdoutHasLine("line 3");

    await handOver(a, b);
    // The task goes on while the lead moves; its output is followed on the new leader.
    g.open(3);
    await logs.stdoutHasLine("line 6");
    g.open(N - 6);
    assert.is(await logs.exited, 0, logs.stderr);
    assert.is(logs.stdout, expectedLines(N), "every line exactly once, in order");
    assert.is(logs.stderr, "", "no notice: the whole output was followed");
    assert.is(a.master.term, null, "the old leader did not come back");
    assert.is((await client.getTask(task.id)).state, TaskState.TASK_STATE_SUCCEEDED);
    assert.is(b.master.term!.registry.logs.openReads, 0);
  } finally {
    g.close();
    client.close();
    await agent.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
