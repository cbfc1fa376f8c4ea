// History and retention in the store (issue 17), once per backend (PGlite always; Postgres when
// TASKGRID_TEST_PG_URL is set): finished tasks with their attempts' figures summed, by a time range
// of their end with filters and keyset pages; and the retention's bounded deletes, which take only
// finished tasks that ended before the cut (with their attempts and events).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { randomUUID } from "node:crypto";
import { InvalidArgumentError } from "../../src/core/errors.js";
import type { Attempt, Task, TaskResult, TaskState } from "../../src/core/types.js";
import type { HistoryFilter, HistoryRow, TaskgridStore } from "../../src/store/index.js";
import { HistoryRetention } from "../../master/history-retention.js";
import { silentLogger } from "../../master/logger.js";
import { backends } from "../helpers/db.js";
import { event, request, task } from "../helpers/store-rows.js";

const DAY = 86_400_000;
const T0 = 1_750_000_000_000;

function result(state: TaskState, extra: Partial<TaskResult> = {}): TaskResult {
  const outcome = state === "SUCCEEDED" ? "SUCCEEDED" : state === "FAILED" ? "FAILED" : "CANCELED";
  return { outcome, exitCode: state === "SUCCEEDED" ? 0 : 3, signal: "", outputTail: "", durationMs: 1000, message: "", ...extra };
}

interface Run {
  workerId: string;
  startedAtMs: number | null;
  finishedAtMs: number;
  gpus?: number;
  result: TaskResult;
}

/** Submits a task created at `createdAtMs`, runs `runs` as attempts and ends it in `state` at `endedAtMs` (progress events too). */
async function finished(store: TaskgridStore, t: Task, state: TaskState, endedAtMs: number, runs: Run[], progressEvents = 0): Promise<Task> {
  await store.submit(request(t));
  const writes: Parameters<TaskgridStore["write"]>[0] = [];
  runs.forEach((run, i) => {
    const attempt: Attempt = {
      id: randomUUID(),
      taskId: t.id,
      number: i + 1,
      workerId: run.workerId,
      gpuIndexes: Array.from({ length: run.gpus ?? 0 }, (_, g) => g),
      assignedAtMs: (run.startedAtMs ?? run.finishedAtMs) - 1,
      startedAtMs: run.startedAtMs,
      finishedAtMs: run.finishedAtMs,
      result: run.result,
      decision: null,
    };
    writes.push({ kind: "insert_attempt", attempt });
  });
  for (let i = 0; i < progressEvents; i++) writes.push({ kind: "append_event", event: event(t, "RUNNING", { progress: i }) });
  const last = runs[runs.length - 1]?.result ?? null;
  writes.push(
    {
      kind: "update_task",
      taskId: t.id,
      state,
      updatedAtMs: endedAtMs,
      currentAttemptId: null,
      attemptCount: runs.length,
      result: last,
      retriesUsed: 0,
      requeues: 0,
      notBeforeMs: null,
    },
    { kind: "append_event", event: event(t, state, { timeMs: endedAtMs }) },
  );
  await store.write(writes);
  return t;
}

async function listAll(store: TaskgridStore, filter: HistoryFilter, pageSize: number): Promise<HistoryRow[]> {
  const rows: HistoryRow[] = [];
  let token = "";
  do {
    const page = await store.history.list(filter, pageSize, token);
    assert.ok(page.rows.length <= pageSize);
    rows.push(...page.rows);
    token = page.nextPageToken;
  } while (token !== "");
  return rows;
}

const ids = (rows: readonly HistoryRow[]) => rows.map((r) => r.taskId);

for (const backend of backends()) {
  const test = suite(`store history [${backend.name}]`);
  let store: TaskgridStore;
  let cleanup: () => Promise<void>;

  test.before(async () => {
    ({ store, cleanup } = await backend.open());
  });
  test.after(async () => {
    await cleanup();
  });

  test("a finished task's row sums its attempts: wait, run, CPU, max RSS, GPU-seconds, last worker", async () => {
    const t = task({ project: "acct", kind: "train", labels: { team: "ml" } }, { createdAtMs: T0 });
    await finished(store, t, "FAILED", T0 + 20_000, [
      {
        workerId: "w1",
        startedAtMs: T0 + 2000,
        finishedAtMs: T0 + 5000,
        gpus: 2,
        result: result("FAILED", { durationMs: 3000, cpuTimeMs: 2500, maxRssKib: 1000 }),
      },
      {
        workerId: "w2",
        startedAtMs: T0 + 10_000,
        finishedAtMs: T0 + 20_000,
        gpus: 2,
        result: result("FAILED", { durationMs: 10_000, cpuTimeMs: 500, maxRssKib: 4000, signal: "SIGKILL", exitCode: -1 }),
      },
    ]);
    const [row] = await listAll(store, { project: "acct" }, 10);
    assert.equal(row, {
      taskId: t.id,
      name: "job",
      project: "acct",
      kind: "train",
      state: "FAILED",
      exitCode: -1,
      signal: "SIGKILL",
      workerId: "w2",
      attempts: 2,
      labels: { team: "ml" },
      submittedAtMs: T0,
      startedAtMs: T0 + 2000,
      endedAtMs: T0 + 20_000,
      runMs: 13_000,
      cpuTimeMs: 3000,
      maxRssKib: 4000,
      gpuMs: 26_000,
    });
  });

  test("a default name and kind (left out of the stored spec) read as empty, and filter as such", async () => {
    const t = task({ project: "sparse", name: "", kind: "" }, { createdAtMs: T0 });
    await finished(store, t, "SUCCEEDED", T0 + 1000, []);
    const [row] = await listAll(store, { project: "sparse" }, 10);
    assert.equal([row.taskId, row.name, row.kind], [t.id, "", ""]);
    assert.equal(ids(await listAll(store, { project: "sparse", kind: "train" }, 10)), []);
    assert.equal((await store.getTask(t.id))?.spec, t.spec, "the whole spec reads back");
  });

  test("unmeasured figures are null; a task canceled before it started has no start and no worker", async () => {
    const plain = task({ project: "unmeasured" }, { createdAtMs: T0 });
    await finished(store, plain, "SUCCEEDED", T0 + 3000, [
      { workerId: "w1", startedAtMs: T0 + 1000, finishedAtMs: T0 + 3000, result: result("SUCCEEDED", { durationMs: 2000 }) },
    ]);
    const never = task({ project: "unmeasured" }, { createdAtMs: T0 });
    await finished(store, never, "CANCELED", T0 + 4000, []);
    const [canceled, succeeded] = await listAll(store, { project: "unmeasured" }, 10);
    assert.is(succeeded.cpuTimeMs, null);
    assert.is(succeeded.maxRssKib, null);
    assert.is(succeeded.runMs, 2000);
    assert.equal(
      { started: canceled.startedAtMs, worker: canceled.workerId, attempts: canceled.attempts, run: canceled.runMs, exit: canceled.exitCode },
      { started: null, worker: "", attempts: 0, run: 0, exit: -1 },
    );
  });

  test("filters: time range of the end, states, project, label, kind; active tasks never; pages newest end first", async () => {
    const project = `range-${randomUUID()}`;
    const ended: Task[] = [];
    for (let i = 0; i < 7; i++) {
      const t = task({ project, kind: i % 2 ? "odd" : "even", labels: { i: String(i) } }, { createdAtMs: T0 });
      const state = i === 3 ? "FAILED" : "SUCCEEDED";
      ended.push(await finished(store, t, state, T0 + i * 1000, [{ workerId: "w", startedAtMs: T0, finishedAtMs: T0 + i * 1000, result: result(state) }]));
    }
    await store.submit(request(task({ project }, { createdAtMs: T0 }))); // still queued: not history
    const newestFirst = ended.map((t) => t.id).reverse();
    assert.equal(ids(await listAll(store, { project }, 2)), newestFirst, "paged by 2, no duplicates or gaps");
    assert.equal(
      ids(await listAll(store, { project, sinceMs: T0 + 2000, untilMs: T0 + 5000 }, 100)),
      newestFirst.slice(2, 5),
      "since inclusive, until exclusive",
    );
    assert.equal(ids(await listAll(store, { project, states: ["FAILED"] }, 100)), [ended[3].id]);
    assert.equal(ids(await listAll(store, { project, states: ["CANCELED"] }, 100)), []);
    assert.equal(ids(await listAll(store, { project, label: "i=4" }, 100)), [ended[4].id]);
    assert.equal(ids(await listAll(store, { project, kind: "odd" }, 100)), [ended[5].id, ended[3].id, ended[1].id]);
  });

  test("bad page size and token are refused naming the field", async () => {
    for (const size of [0, 1001, 1.5]) {
      try {
        await store.history.list({}, size, "");
        assert.unreachable("accepted");
      } catch (err) {
        assert.instance(err, InvalidArgumentError);
        assert.match((err as Error).message, /page_size/);
      }
    }
    try {
      await store.history.list({}, 10, "not-a-token");
      assert.unreachable("accepted");
    } catch (err) {
      assert.instance(err, InvalidArgumentError);
      assert.match((err as Error).message, /page_token/);
    }
  });

  test("retention deletes only finished tasks that ended before the cut, with their attempts and events, in bounded batches", async () => {
    const project = `retention-${randomUUID()}`;
    const now = T0 + 100 * DAY;
    const old: Task[] = [];
    for (let i = 0; i < 5; i++) {
      const t = task({ project }, { createdAtMs: T0 });
      old.push(await finished(store, t, "SUCCEEDED", T0 + i, [{ workerId: "w", startedAtMs: T0, finishedAtMs: T0 + i, result: result("SUCCEEDED") }], 7));
    }
    const recent = await finished(store, task({ project }, { createdAtMs: now - DAY }), "FAILED", now - DAY, [
      { workerId: "w", startedAtMs: now - DAY, finishedAtMs: now - DAY, result: result("FAILED") },
    ]);
    const oldButQueued = task({ project }, { createdAtMs: T0 });
    await store.submit(request(oldButQueued));
    // An element of an array that still runs elements: kept, the array's status reads them all.
    const arrayId = randomUUID();
    const element = await finished(store, task({ project }, { createdAtMs: T0, arrayId, arrayIndex: 0 }), "SUCCEEDED", T0, []);
    await store.submit(request(task({ project }, { createdAtMs: T0, arrayId, arrayIndex: 1 })));

    const retention = new HistoryRetention({ store, clock: { now: () => now }, log: silentLogger, retentionMs: 90 * DAY, taskBatch: 2, eventBatch: 3 });
    const pass = await retention.runOnce();
    assert.ok(pass.tasks >= 5, `deleted ${pass.tasks} tasks`); // other tests' old rows in this database go too
    for (const t of old) {
      assert.is(await store.getTask(t.id), null);
      assert.equal(await store.getAttempts(t.id), []);
      assert.equal(await store.getEvents(t.id), []);
    }
    assert.ok(await store.getTask(recent.id));
    assert.is((await store.getAttempts(recent.id)).length, 1);
    assert.ok(await store.getTask(oldButQueued.id));
    assert.ok(await store.getTask(element.id));
    assert.equal(ids(await listAll(store, { project }, 100)), [recent.id, element.id]);
    assert.equal(await retention.runOnce(), { tasks: 0, events: 0 }, "a second pass finds nothing");
    await retention.stop();
  });

  test("retention deletes a job array's record with its last element, and keeps it while elements remain", async () => {
    const now = T0 + 100 * DAY;
    const head = task({ project: "arrays" }, { createdAtMs: T0, arrayId: randomUUID(), arrayIndex: 0, spec: { ...task().spec, array: "0-1" } });
    const second = { ...head, id: randomUUID(), arrayIndex: 1 };
    await store.submit({ tasks: [head], actor: "", arrays: [{ template: head, total: 2, elements: [{ id: second.id, index: 1 }], actor: "" }] });
    const arrayId = head.arrayId ?? "";
    const endWrite = (t: Task) => ({
      kind: "update_task" as const,
      taskId: t.id,
      state: "SUCCEEDED" as const,
      updatedAtMs: T0 + 1,
      currentAttemptId: null,
      attemptCount: 0,
      result: result("SUCCEEDED"),
      retriesUsed: 0,
      requeues: 0,
      notBeforeMs: null,
    });
    await store.write([endWrite(head)]);
    const retention = new HistoryRetention({ store, clock: { now: () => now }, log: silentLogger, retentionMs: 90 * DAY });
    await retention.runOnce();
    assert.ok(await store.getArrayRecord(arrayId), "kept: an element is still queued");
    await store.write([endWrite(second)]);
    await retention.runOnce();
    assert.is(await store.getTask(second.id), null);
    assert.is(await store.getArrayRecord(arrayId), null, "the record goes with the last element");
    await retention.stop();
  });

  test("retention 0 keeps everything", async () => {
    const t = await finished(store, task({ project: "forever" }, { createdAtMs: 1 }), "SUCCEEDED", 2, []);
    const retention = new HistoryRetention({ store, clock: { now: () => T0 * 2 }, log: silentLogger, retentionMs: 0 });
    assert.equal(await retention.runOnce(), { tasks: 0, events: 0 });
    assert.ok(await store.getTask(t.id));
  });

  test.run();
}
