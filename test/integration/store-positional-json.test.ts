// Decisions and results are stored positionally (src/store/stored-decision.ts, stored-result.ts) and
// read back equal, number for number, on both backends: through the task and the attempt, the
// derived ending event and the history's sums; rows in the older object form (written before
// migration 0018) read back the same; the migration's down turns them back into objects.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { randomUUID } from "node:crypto";
import type { Attempt, PlacementDecision, TaskResult } from "../../src/core/types.js";
import * as positional from "../../src/store/migrations/0018-positional-decisions-and-results.js";
import { openKnex, type OpenedKnex, type TaskgridStore } from "../../src/store/index.js";
import { decisionFromStored, storedDecision } from "../../src/store/stored-decision.js";
import { resultFromStored, storedResult } from "../../src/store/stored-result.js";
import { queryRows } from "../../src/store/sql-util.js";
import { backends } from "../helpers/db.js";
import { request, task, tick, worker } from "../helpers/store-rows.js";

const decision: PlacementDecision = {
  strategy: "rts",
  fallbackReason: "",
  feasibleWorkers: 12,
  // Full doubles, a negative and an integer: nothing may be rounded on the way.
  chosen: { workerId: "gpu-07", score: 0.8123456789012345, deadline: 1, affinity: 0.1 + 0.2, load: 0.3333333333333333, io: 0, success: 0.95, penalty: 1e-9 },
  runnerUp: { workerId: "gpu-11", score: -0.25, deadline: 0.5, affinity: 0, load: 0.75, io: 0.125, success: 0.5, penalty: 0.03125 },
  weightsVersion: "2026-12-08T03:00:00Z",
};
const fallback: PlacementDecision = {
  strategy: "round_robin",
  fallbackReason: "no fresh telemetry",
  feasibleWorkers: 1,
  chosen: null,
  runnerUp: null,
  weightsVersion: "",
};

/** Every optional field present. */
const measured: TaskResult = {
  outcome: "SUCCEEDED",
  exitCode: 0,
  signal: "",
  outputTail: 'done "quoted"\n',
  durationMs: 1234,
  message: "",
  logLocation: "w1:/var/lib/taskgrid/logs/x",
  cpuTimeMs: 987,
  maxRssKib: 20480,
};
/** None of them (an older agent's report, or a start that failed). */
const bare: TaskResult = { outcome: "FAILED", exitCode: 2, signal: "SIGKILL", outputTail: "", durationMs: 0, message: "killed" };

for (const backend of backends()) {
  const test = suite(`positional decisions and results [${backend.name}]`);
  let store: TaskgridStore;
  let raw: OpenedKnex | undefined;
  let cleanup: () => Promise<void>;
  const workerId = `w-${randomUUID()}`;

  test.before(async () => {
    const opened = await backend.open();
    ({ store, cleanup } = opened);
    await store.write([{ kind: "upsert_worker", worker: worker(workerId) }]);
    // PGlite has one connection, held by the store: its raw checks are the pure suite's.
    if (backend.name === "postgres") raw = await openKnex(opened.config);
  });
  test.after(async () => {
    await raw?.knex.destroy();
    await cleanup();
  });

  /** A task run once on `workerId` with `d`, ended with `r` (null: left running). */
  async function ran(d: PlacementDecision | null, r: TaskResult | null, project = "positional"): Promise<Attempt> {
    const t = task({ project });
    await store.submit(request(t));
    const assignedAtMs = tick();
    const a: Attempt = {
      id: randomUUID(),
      taskId: t.id,
      number: 1,
      workerId,
      gpuIndexes: [0],
      assignedAtMs,
      startedAtMs: null,
      finishedAtMs: null,
      result: null,
      decision: d,
    };
    const base = { kind: "update_task" as const, taskId: t.id, attemptCount: 1, retriesUsed: 0, requeues: 0, notBeforeMs: null };
    await store.write([
      { kind: "insert_attempt", attempt: a },
      { ...base, state: "ASSIGNED", updatedAtMs: assignedAtMs, currentAttemptId: a.id, result: null },
    ]);
    if (r === null) return a;
    const endMs = tick() + 5000;
    await store.write([
      { kind: "update_attempt", attemptId: a.id, startedAtMs: assignedAtMs + 1, finishedAtMs: endMs, result: r },
      { ...base, state: r.outcome === "SUCCEEDED" ? "SUCCEEDED" : "FAILED", updatedAtMs: endMs, currentAttemptId: null, result: r, endedBy: "agent" },
    ]);
    return a;
  }

  const kindOf = async (table: string, column: string, id: string) =>
    (await queryRows<{ kind: string }>(raw!.knex, `SELECT jsonb_typeof(${column}) AS kind FROM ${table} WHERE id = ?`, [id]))[0].kind;

  test("a decision and a result read back equal, every number exact, stored as arrays", async () => {
    const a = await ran(decision, measured);
    const [attempt] = await store.getAttempts(a.taskId);
    assert.equal(attempt.decision, decision);
    assert.equal(attempt.result, measured);
    assert.equal((await store.getTask(a.taskId))!.result, measured);
    const events = await store.getEvents(a.taskId);
    assert.equal(events.at(-1)!.result, measured, "the derived ending event reads the task row's result");
    if (raw) {
      assert.is(await kindOf("attempts", "decision", a.id), "array");
      assert.is(await kindOf("attempts", "result", a.id), "array");
      assert.is(await kindOf("tasks", "result", a.taskId), "array");
    }
  });

  test("no runner-up, a fallback's decision, none at all; a result without its optional fields", async () => {
    for (const d of [fallback, { ...decision, feasibleWorkers: 1, runnerUp: null }, null]) {
      const a = await ran(d, bare);
      const [attempt] = await store.getAttempts(a.taskId);
      assert.equal(attempt.decision, d);
      assert.equal(attempt.result, bare);
      assert.not.ok("cpuTimeMs" in attempt.result!, "an absent field stays absent");
    }
    const running = await ran(decision, null);
    assert.is((await store.getAttempts(running.taskId))[0].result, null);
    assert.is((await store.getTask(running.taskId))!.result, null);
  });

  test("the history's sums read positional results", async () => {
    const project = `history-${randomUUID()}`;
    const a = await ran(decision, measured, project);
    const page = await store.history.list({ project }, 10, "");
    assert.is(page.rows.length, 1);
    const row = page.rows[0];
    assert.is(row.taskId, a.taskId);
    assert.equal([row.exitCode, row.signal, row.runMs, row.cpuTimeMs, row.maxRssKib, row.gpuMs], [0, "", 1234, 987, 20480, 1234]);
  });

  if (backend.name === "postgres")
    test("rows holding the older object forms read back the same, history included", async () => {
      const project = `legacy-${randomUUID()}`;
      const a = await ran(decision, measured, project);
      await raw!.knex.raw("UPDATE attempts SET decision = ?::jsonb, result = ?::jsonb WHERE id = ?", [
        JSON.stringify(decision),
        JSON.stringify(measured),
        a.id,
      ]);
      await raw!.knex.raw("UPDATE tasks SET result = ?::jsonb WHERE id = ?", [JSON.stringify(measured), a.taskId]);
      assert.is(await kindOf("attempts", "result", a.id), "object");
      const [attempt] = await store.getAttempts(a.taskId);
      assert.equal([attempt.decision, attempt.result], [decision, measured]);
      assert.equal((await store.getTask(a.taskId))!.result, measured);
      const row = (await store.history.list({ project }, 10, "")).rows[0];
      assert.equal([row.runMs, row.cpuTimeMs, row.maxRssKib], [1234, 987, 20480]);
    });

  if (backend.name === "postgres")
    test("migration 0018's down turns them back into objects (what older versions read)", async () => {
      const written: Array<[PlacementDecision | null, TaskResult | null]> = [
        [decision, measured],
        [{ ...decision, runnerUp: null }, bare],
        [null, null],
      ];
      const attempts: Attempt[] = [];
      for (const [d, r] of written) attempts.push(await ran(d, r));
      await positional.down(raw!.knex);
      try {
        for (const [i, a] of attempts.entries()) {
          const [row] = await queryRows<{ decision: unknown; result: unknown }>(raw!.knex, "SELECT decision, result FROM attempts WHERE id = ?", [a.id]);
          assert.equal(row, { decision: written[i][0], result: written[i][1] });
          const [taskRow] = await queryRows<{ result: unknown }>(raw!.knex, "SELECT result FROM tasks WHERE id = ?", [a.taskId]);
          assert.equal(taskRow.result, written[i][1]);
        }
      } finally {
        await positional.up(raw!.knex);
      }
    });

  test.run();
}

const pure = suite("positional decisions and results (pure)");

pure("both forms read back the same; the stored forms carry no keys", () => {
  for (const d of [decision, fallback]) {
    const stored = storedDecision(d);
    assert.ok(Array.isArray(stored));
    assert.not.ok(JSON.stringify(stored).includes("workerId"));
    assert.equal(decisionFromStored(JSON.parse(JSON.stringify(stored))), d);
    assert.equal(decisionFromStored(JSON.parse(JSON.stringify(d))), d);
  }
  for (const r of [measured, bare]) {
    const stored = storedResult(r);
    assert.ok(Array.isArray(stored));
    assert.not.ok(JSON.stringify(stored).includes("exitCode"));
    assert.equal(resultFromStored(JSON.parse(JSON.stringify(stored))), r);
    assert.equal(resultFromStored(JSON.parse(JSON.stringify(r))), r);
  }
  assert.is(decisionFromStored(null), null);
  assert.is(storedDecision(null), null);
  assert.is(resultFromStored(null), null);
  assert.is(storedResult(null), null);
});

pure.run();
