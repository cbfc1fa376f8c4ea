// Several masters on one Postgres (DESIGN §9), in process: one leads, the other is a standby that
// answers reads from the database and redirects the rest; leadership moves when the leader's
// database session is ended or the leader stops, and the epoch grows each time. Postgres only (an
// embedded database belongs to one process). The process faults (kill -9, SIGSTOP, a flood of
// clients across a failover) are in the chaos suite.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import * as grpc from "@grpc/grpc-js";
import pg from "pg";
import { LEADER_METADATA_KEY } from "../../src/core/errors.js";
import { MasterRole } from "../../src/gen/taskgrid/v1/admin_service.js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { applicationNameOf } from "../../src/store/leader-sql.js";
import { call, callError, rawClients, type RawClients } from "../helpers/grpc-clients.js";
import { eventually, waitUntil } from "../helpers/task-watch.js";
import { createTestDatabase, startTestMaster, type TestDatabase, type TestMaster } from "../helpers/test-master.js";

const pgUrl = process.env.TASKGRID_TEST_PG_URL;
const test = suite<{ db: TestDatabase; masters: TestMaster[]; clients: RawClients[] }>("several masters on one database");

// Short lease so that a takeover after a lost session takes about a second.
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

async function start(ctx: { db: TestDatabase; masters: TestMaster[]; clients: RawClients[] }): Promise<{ m: TestMaster; c: RawClients }> {
  const m = await startTestMaster(HA, ctx.db);
  ctx.masters.push(m);
  const c = rawClients(m.address);
  ctx.clients.push(c);
  return { m, c };
}

/** Without Postgres the tests are listed as skipped (an embedded database belongs to one process). */
const it = pgUrl ? test : test.skip;

const leadershipOf = async (c: RawClients) => (await call(c.admin, "getSchedulerInfo", {})).leadership;

it("the first master leads, the second is a standby: reads from the database there, writes redirected to the leader", async (ctx) => {
  const { m: a, c: ca } = await start(ctx);
  const { m: b, c: cb } = await start(ctx);
  const la = await leadershipOf(ca);
  const lb = await leadershipOf(cb);
  assert.is(la.role, MasterRole.MASTER_ROLE_LEADER);
  assert.is(lb.role, MasterRole.MASTER_ROLE_STANDBY);
  assert.is(Number(lb.epoch), Number(la.epoch), "the standby knows the leader's epoch");
  assert.is(lb.leaderAddress, a.address);
  assert.is(lb.leaderId, a.master.instanceId);
  assert.is(b.master.term, null);

  const { task } = await call(ca.tasks, "submitTask", { spec: { command: ["true"], requiredTags: ["nowhere"] } });
  // Reads on the standby come from the database.
  assert.is((await call(cb.tasks, "getTask", { taskId: task.id })).task.state, TaskState.TASK_STATE_QUEUED);
  assert.equal(
    (await call(cb.tasks, "listTasks", {})).tasks.map((t: { id: string }) => t.id),
    [task.id],
  );
  assert.equal((await call(cb.admin, "listWorkers", {})).workers, []);
  // Writes, control and watches: UNAVAILABLE with the leader's address in the trailers.
  for (const attempt of [
    call(cb.tasks, "submitTask", { spec: { command: ["true"] } }),
    call(cb.tasks, "cancelTask", { taskId: task.id }),
    call(cb.admin, "drainWorker", { workerId: "w" }),
  ]) {
    const err = await callError(attempt);
    assert.is(err.code, grpc.status.UNAVAILABLE);
    assert.match(err.details, /standby; the leader is at/);
    assert.equal(err.metadata.get(LEADER_METADATA_KEY), [a.address]);
  }
  const watchError = await new Promise<grpc.ServiceError>((resolve) => {
    const stream = cb.tasks.watchTasks({ taskIds: [task.id], project: "" });
    stream.on("error", resolve);
    stream.on("data", () => undefined);
  });
  assert.is(watchError.code, grpc.status.UNAVAILABLE);
  assert.equal(watchError.metadata.get(LEADER_METADATA_KEY), [a.address]);
});

it("the leader's database session ended: the standby leads within the lease in a later epoch, the old leader steps down; nothing is lost", async (ctx) => {
  const { m: a, c: ca } = await start(ctx);
  const { m: b, c: cb } = await start(ctx);
  const epochBefore = Number((await leadershipOf(ca)).epoch);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await call(ca.tasks, "submitTask", { spec: { command: ["true"], requiredTags: ["nowhere"] } })).task.id);

  // Every session of the leader: its lock session and its pool (as a standby ends a silent leader's).
  // A leader whose lock session broke may take the free lock again at its next renewal (a network
  // blip must not cost a failover) and then simply goes on leading; which of the two gets the lock
  // first is a race. So the sessions are ended again until the standby has won it: the case under
  // test is the takeover.
  const admin = new pg.Client({ connectionString: a.db.options.databaseUrl });
  await admin.connect();
  const cutAt = Date.now();
  try {
    let ended = 0;
    while (b.master.term === null && Date.now() - cutAt < 10_000) {
      const { rows } = await admin.query("SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1", [
        applicationNameOf(a.master.instanceId),
      ]);
      ended += rows[0].n;
      await waitUntil(() => b.master.term !== null, "the standby leads", 100).catch(() => undefined);
    }
    assert.ok(ended >= 1);
  } finally {
    await admin.end();
  }
  await waitUntil(() => b.master.term !== null, "the standby leads", 1);
  const tookMs = Date.now() - cutAt;
  await waitUntil(() => a.master.term === null, "the old leader stepped down", 10_000);
  const lb = await leadershipOf(cb);
  assert.is(lb.role, MasterRole.MASTER_ROLE_LEADER);
  assert.ok(Number(lb.epoch) > epochBefore, `epoch ${lb.epoch} > ${epochBefore}`);
  assert.ok(tookMs < 5_000, `took over in ${tookMs} ms`);
  // The old leader learns its successor at its next poll of the leader row.
  const la = await eventually(async () => {
    const l = await leadershipOf(ca);
    return l.leaderAddress === b.address && l;
  }, "the old leader names the new one");
  assert.is(la.role, MasterRole.MASTER_ROLE_STANDBY);
  assert.ok(Number(la.termsLost) >= 1);
  // The new leader rebuilt the queue from the database and takes writes.
  assert.equal([...b.master.state.queue.inOrder()].map((t) => t.id).sort(), [...ids].sort());
  const { task } = await call(cb.tasks, "submitTask", { spec: { command: ["true"], requiredTags: ["nowhere"] } });
  assert.ok(task.id);
  assert.is((await callError(call(ca.tasks, "submitTask", { spec: { command: ["true"] } }))).code, grpc.status.UNAVAILABLE);
});

it("a clean stop hands the lead over at once (no lease to wait out)", async (ctx) => {
  const { m: a } = await start(ctx);
  const { m: b, c: cb } = await start(ctx);
  const before = Number(a.master.term?.epoch);
  const stoppedAt = Date.now();
  await a.stop();
  await waitUntil(() => b.master.term !== null, "the standby leads", 10_000);
  const tookMs = Date.now() - stoppedAt;
  assert.is(Number(b.master.term?.epoch), before + 1);
  // The standby polls every lease / 10: well under the lease itself.
  assert.ok(tookMs < HA.leaderLeaseMs, `took over in ${tookMs} ms`);
  assert.is((await leadershipOf(cb)).role, MasterRole.MASTER_ROLE_LEADER);
});

test.run();
