// The store suite, run once per available backend (PGlite always; Postgres when
// TASKGRID_TEST_PG_URL is set). One database per backend for the whole suite (a fresh PGlite costs
// ~700 MB and seconds of initdb), so each test works on its own tasks (own ids/projects) and
// asserts on those only. The last tests close and reopen the same database.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { randomUUID } from "node:crypto";
import { InvalidArgumentError, NotFoundError, UnavailableError } from "../../src/core/errors.js";
import type { Attempt, Task, TaskResult } from "../../src/core/types.js";
import { openStore, type StoreConfig, type TaskgridStore } from "../../src/store/index.js";
import { backends } from "../helpers/db.js";
import { event, request, task, taskUpdate, tick, worker } from "../helpers/store-rows.js";
import { idempotencyTests } from "./store-idempotency.cases.js";

const ok: TaskResult = { outcome: "SUCCEEDED", exitCode: 0, signal: "", outputTail: "done\n", durationMs: 42, message: "" };

/** The writes the master makes for assign -> start -> finish of one attempt. */
function lifecycle(t: Task, workerId: string) {
  const attempt: Attempt = {
    id: randomUUID(),
    taskId: t.id,
    number: 1,
    workerId,
    gpuIndexes: [0],
    assignedAtMs: tick(),
    startedAtMs: null,
    finishedAtMs: null,
    result: null,
    decision: { strategy: "rts", fallbackReason: "", feasibleWorkers: 1, chosen: null, runnerUp: null, weightsVersion: "v1" },
  };
  const base = {
    kind: "update_task" as const,
    taskId: t.id,
    currentAttemptId: attempt.id,
    attemptCount: 1,
    result: null,
    retriesUsed: 0,
    requeues: 0,
    notBeforeMs: null,
  };
  const assign = [
    { kind: "insert_attempt" as const, attempt },
    { ...base, state: "ASSIGNED" as const, updatedAtMs: attempt.assignedAtMs },
    { kind: "append_event" as const, event: event(t, "ASSIGNED", { attemptId: attempt.id, workerId }) },
  ];
  const startedAtMs = tick();
  const start = [
    { kind: "update_attempt" as const, attemptId: attempt.id, startedAtMs },
    { ...base, state: "RUNNING" as const, updatedAtMs: startedAtMs },
    { kind: "append_event" as const, event: event(t, "RUNNING", { attemptId: attempt.id, workerId }) },
  ];
  const finishedAtMs = tick();
  const finish = [
    { kind: "update_attempt" as const, attemptId: attempt.id, finishedAtMs, result: ok },
    { ...base, state: "SUCCEEDED" as const, updatedAtMs: finishedAtMs, currentAttemptId: null, result: ok },
    { kind: "append_event" as const, event: event(t, "SUCCEEDED", { attemptId: attempt.id, workerId, progress: 100, result: ok }) },
  ];
  return { attempt, assign, start, finish, startedAtMs, finishedAtMs };
}

async function rejects(promise: Promise<unknown>, type: new (...args: never[]) => Error): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    assert.instance(error, type);
    return error as Error;
  }
  throw new assert.Assertion({ message: `expected a ${type.name}`, operator: "rejects", expects: type.name, actual: "resolved" });
}

async function listAll(store: TaskgridStore, filter: Parameters<TaskgridStore["listTasks"]>[0], pageSize: number): Promise<Task[]> {
  const all: Task[] = [];
  let token = "";
  do {
    const page = await store.listTasks(filter, pageSize, token);
    assert.ok(page.tasks.length <= pageSize);
    all.push(...page.tasks);
    token = page.nextPageToken;
  } while (token !== "");
  return all;
}

for (const backend of backends()) {
  const test = suite(`store [${backend.name}]`);
  let store: TaskgridStore;
  let config: StoreConfig;
  let cleanup: () => Promise<void>;
  const survivor = task({ project: "restart", labels: { keep: "yes" } }, { traceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" });

  test.before(async () => {
    ({ store, config, cleanup } = await backend.open());
  });
  test.after(async () => {
    await store.close();
    await cleanup();
  });

  test("dialect and idempotent migrate", async () => {
    assert.is(store.dialect, backend.name);
    await store.migrate();
    await store.migrate();
  });

  test("submit + getTask round-trips every field", async () => {
    const full = task(
      {
        name: "train",
        project: "vision",
        labels: { team: "ml", tier: "gold" },
        queueClass: "LIVE",
        priority: "HIGH",
        command: ["python", "train.py", "--lr=0.1"],
        env: { CUDA: "1", EMPTY: "" },
        workingDir: "/srv",
        resources: { cpuMillis: 4000, memoryMib: 16384, gpuCount: 2, gpuModel: "h100", gpuMemoryMib: 40000 },
        requiredTags: ["gpu"],
        preferredTags: ["ssd"],
        kind: "train",
        ioIntensity: 0.25,
        estimateMs: 60_000,
        deadlineMs: 1_800_000_000_000,
        timeoutMs: 3_600_000,
        maxRetries: 3,
        idempotencyKey: "",
      },
      { progress: 12.5, progressMessage: "warming up", traceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
    );
    const bare = task();
    const outcome = await store.submit(request(full, bare));
    assert.equal(outcome, { kind: "created", tasks: [full, bare] });
    assert.equal(await store.getTask(full.id), full);
    assert.equal(await store.getTask(bare.id), bare);
    assert.is((await store.getTask(bare.id))!.deadlineMs, null);
    // The QUEUED event is derived from the row (queued_by), not stored.
    assert.equal(await store.getEvents(full.id), [event(full, "QUEUED", { timeMs: full.createdAtMs })]);
    assert.is(await store.getTask(randomUUID()), null);
  });

  test("values that need quoting in SQL text round-trip unchanged", async () => {
    // Batches send their json as an inlined string literal (write-script.ts): quotes, backslashes,
    // `?`, `$` patterns, semicolons and non-ASCII must all survive.
    const tricky = `it's a \\ back'slash; ? $& $1 "q" \\' \u00e9\u4e2d \u{1F600} \\u0000 --`;
    const t = task({ name: tricky, env: { [tricky]: tricky }, command: [tricky], idempotencyKey: tricky }, { progressMessage: tricky });
    assert.equal(await store.submit(request(t)), { kind: "created", tasks: [t] });
    assert.equal(await store.getTask(t.id), t);
    assert.equal(await store.submit(request(t)), { kind: "existing", tasks: [t] });
  });

  test("a multi-task submit is all-or-nothing", async () => {
    const first = task();
    await store.submit(request(first));
    const a = task();
    const b = task();
    const clash = task({}, { id: first.id }); // primary-key violation
    await rejects(store.submit(request(a, b, clash)), Error);
    assert.is(await store.getTask(a.id), null);
    assert.is(await store.getTask(b.id), null);
  });

  idempotencyTests(test, { store: () => store, config: () => config, postgres: backend.name === "postgres" });

  test("500 concurrent submits commit in far fewer transactions", async () => {
    const tasks = Array.from({ length: 500 }, () => task({ project: "burst" }));
    const before = store.stats();
    const outcomes = await Promise.all(tasks.map((t) => store.submit(request(t))));
    const after = store.stats();
    assert.ok(outcomes.every((o) => o.kind === "created"));
    const transactions = after.transactions - before.transactions;
    assert.ok(transactions >= 1 && transactions <= 10, `${transactions} transactions for 500 submits`);
    const stored = await listAll(store, { project: "burst" }, 1000);
    assert.is(stored.length, 500);
  });

  test("write() persists assign -> start -> progress -> finish", async () => {
    const t = task({ project: "life" });
    await store.submit(request(t));
    await store.write([{ kind: "upsert_worker", worker: worker("w-life") }]);
    const l = lifecycle(t, "w-life");
    await store.write(l.assign);
    assert.is((await store.getTask(t.id))!.state, "ASSIGNED");
    await store.write(l.start);
    await store.write([{ kind: "update_progress", taskId: t.id, progress: 50, progressMessage: "half", updatedAtMs: tick() }]);
    const running = (await store.getTask(t.id))!;
    assert.is(running.state, "RUNNING");
    assert.is(running.progress, 50);
    assert.is(running.progressMessage, "half");
    await store.write(l.finish);
    const done = (await store.getTask(t.id))!;
    assert.is(done.state, "SUCCEEDED");
    assert.is(done.currentAttemptId, null);
    assert.is(done.attemptCount, 1);
    assert.equal(done.result, ok);
    assert.equal(await store.getAttempts(t.id), [{ ...l.attempt, startedAtMs: l.startedAtMs, finishedAtMs: l.finishedAtMs, result: ok }]);
    assert.equal(
      (await store.getEvents(t.id)).map((e) => e.state),
      ["QUEUED", "ASSIGNED", "RUNNING", "SUCCEEDED"],
    );
  });

  test("writes for one task within one batch apply in order", async () => {
    const t = task({ project: "life" });
    const l = lifecycle(t, "w-life");
    const before = store.stats().batches;
    // Submit, assign, start, finish all enqueued at once: one batch, several statement rounds.
    await Promise.all([store.submit(request(t)), store.write(l.assign), store.write(l.start), store.write(l.finish)]);
    assert.is(store.stats().batches, before + 1);
    const done = (await store.getTask(t.id))!;
    assert.is(done.state, "SUCCEEDED");
    assert.equal(done.result, ok);
    const [attempt] = await store.getAttempts(t.id);
    assert.is(attempt.startedAtMs, l.startedAtMs);
    assert.is(attempt.finishedAtMs, l.finishedAtMs);
    assert.equal(
      (await store.getEvents(t.id)).map((e) => e.state),
      ["QUEUED", "ASSIGNED", "RUNNING", "SUCCEEDED"],
    );
  });

  test("a failing job fails alone; the rest of its batch commits", async () => {
    const a = task();
    const b = task();
    const before = store.stats();
    const results = await Promise.allSettled([
      store.submit(request(a)),
      store.write([{ kind: "update_progress", taskId: randomUUID(), progress: 1, progressMessage: "", updatedAtMs: 1 }]),
      store.write([{ kind: "update_progress", taskId: a.id, progress: 150, progressMessage: "", updatedAtMs: 1 }]), // CHECK
      store.submit(request(b)),
    ]);
    assert.equal(
      results.map((r) => r.status),
      ["fulfilled", "rejected", "rejected", "fulfilled"],
    );
    assert.instance((results[1] as PromiseRejectedResult).reason, NotFoundError);
    assert.is(store.stats().retriedBatches, before.retriedBatches + 1);
    assert.ok(await store.getTask(a.id));
    assert.ok(await store.getTask(b.id));
    assert.is((await store.getTask(a.id))!.progress, 0);
  });

  test("listTasks: filters and keyset paging", async () => {
    const tasks: Task[] = [];
    for (let i = 0; i < 23; i++) {
      // Groups of three share created_at_ms, so the id tie-break is exercised across page edges.
      tasks.push(
        task(
          { project: "paging", queueClass: i % 2 ? "BATCH" : "LIVE", labels: { parity: i % 2 ? "odd" : "even" } },
          { createdAtMs: 5_000 + Math.floor(i / 3), state: i % 5 === 0 ? "CANCELED" : "QUEUED" },
        ),
      );
    }
    await store.submit({ tasks, actor: "" });
    const expected = [...tasks].sort((x, y) => y.createdAtMs - x.createdAtMs || (y.id < x.id ? -1 : 1)).map((t) => t.id);
    for (const pageSize of [1, 4, 7, 23, 1000]) {
      assert.equal(
        (await listAll(store, { project: "paging" }, pageSize)).map((t) => t.id),
        expected,
        `pageSize ${pageSize}`,
      );
    }
    const ids = (list: Task[]) => new Set(list.map((t) => t.id));
    assert.equal(ids(await listAll(store, { project: "paging", queueClass: "BATCH" }, 5)), ids(tasks.filter((t) => t.spec.queueClass === "BATCH")));
    assert.equal(ids(await listAll(store, { project: "paging", label: "parity=even" }, 5)), ids(tasks.filter((_, i) => i % 2 === 0)));
    assert.equal(ids(await listAll(store, { project: "paging", states: ["CANCELED"] }, 5)), ids(tasks.filter((t) => t.state === "CANCELED")));
    assert.equal(
      ids(await listAll(store, { project: "paging", states: ["CANCELED", "QUEUED"], queueClass: "LIVE", label: "parity=even" }, 2)),
      ids(tasks.filter((t) => t.spec.queueClass === "LIVE")),
    );
    assert.is((await store.listTasks({ project: "paging", label: "parity=none" }, 10, "")).tasks.length, 0);
    await rejects(store.listTasks({}, 0, ""), InvalidArgumentError);
    await rejects(store.listTasks({}, 1001, ""), InvalidArgumentError);
    await rejects(store.listTasks({}, 10, "not-a-token"), InvalidArgumentError);
    await rejects(store.listTasks({ label: "novalue" }, 10, ""), InvalidArgumentError);
  });

  test("workers: upsert twice updates, status updates, unknown worker fails", async () => {
    const w = worker("w-up");
    await store.write([{ kind: "upsert_worker", worker: w }]);
    const changed = worker("w-up", {
      hostname: "renamed",
      tags: ["cpu"],
      agentVersion: "0.2.0",
      telemetry: {
        sampledAtMs: 1,
        cpuLoad: 0.5,
        memoryUsedMib: 100,
        memoryTotalMib: 200,
        ioPressure: 0.1,
        runningAttempts: 1,
        gpus: [{ index: 0, utilizationPercent: 90, memoryUsedMib: 1000 }],
        probeErrors: [],
      },
    });
    await store.write([{ kind: "upsert_worker", worker: changed }]);
    await store.write([{ kind: "update_worker_status", workerId: "w-up", status: "SUSPECT", lastSeenAtMs: 99 }]);
    const found = (await store.loadActive()).workers.filter((x) => x.id === "w-up");
    assert.equal(found, [{ ...changed, status: "SUSPECT", lastSeenAtMs: 99 }]);
    await rejects(store.write([{ kind: "update_worker_status", workerId: "nobody", status: "OFFLINE", lastSeenAtMs: 1 }]), NotFoundError);
  });

  test("loadActive: non-terminal tasks, their current attempts, all workers", async () => {
    const active = task({ project: "active" });
    const finished = task({ project: "active" });
    await store.submit(request(active, finished));
    await store.write([{ kind: "upsert_worker", worker: worker("w-active") }]);
    const la = lifecycle(active, "w-active");
    const lf = lifecycle(finished, "w-active");
    await store.write([...la.assign, ...la.start, ...lf.assign, ...lf.start, ...lf.finish]);
    const state = await store.loadActive();
    assert.ok(state.tasks.every((t) => !["SUCCEEDED", "FAILED", "CANCELED"].includes(t.state)));
    assert.equal(state.tasks.find((t) => t.id === active.id)?.state, "RUNNING");
    assert.is(
      state.tasks.find((t) => t.id === finished.id),
      undefined,
    );
    const activeIds = new Set(state.tasks.map((t) => t.currentAttemptId));
    assert.ok(state.attempts.every((a) => activeIds.has(a.id)));
    assert.equal(
      state.attempts.find((a) => a.taskId === active.id),
      { ...la.attempt, startedAtMs: la.startedAtMs },
    );
    assert.is(
      state.attempts.find((a) => a.taskId === finished.id),
      undefined,
    );
    assert.ok(state.workers.some((w) => w.id === "w-active"));
  });

  test("learning rows upsert and reload; deadline misses flag the task and count on the worker", async () => {
    const row = { kind: "render", workerId: "w-learn", runtimeRatio: 1.5, successes: 3, failures: 1, predictionError: 0.2, samples: 4, updatedAtMs: tick() };
    await store.write([{ kind: "upsert_learning", stats: row }]);
    await store.write([{ kind: "upsert_learning", stats: { ...row, runtimeRatio: 1.25, samples: 5, successes: 4 } }]);
    const learned = (await store.loadLearning()).filter((r) => r.workerId === "w-learn");
    assert.equal(learned, [{ ...row, runtimeRatio: 1.25, samples: 5, successes: 4 }]);

    const t = task();
    await store.submit(request(t));
    await store.write([{ kind: "upsert_worker", worker: worker("w-miss") }]);
    await store.write([{ kind: "record_deadline_miss", taskId: t.id, workerId: "w-miss" }, taskUpdate(t.id, "FAILED")]);
    assert.is((await store.getTask(t.id))!.deadlineMissed, true);
    assert.is((await store.getTask(t.id))!.state, "FAILED");
    const w = (await store.loadActive()).workers.find((x) => x.id === "w-miss")!;
    assert.is(w.deadlineMisses, 1);
  });

  test("data survives close and reopen", async () => {
    await store.submit(request(survivor));
    await store.close();
    store = await openStore(config);
    await store.migrate();
    assert.equal(await store.getTask(survivor.id), survivor);
    // The master rebuilds from loadActive: the task's trace context comes back with it.
    assert.equal(
      (await store.loadActive()).tasks.find((t) => t.id === survivor.id),
      survivor,
    );
    assert.equal((await store.getEvents(survivor.id)).length, 1);
    assert.is((await listAll(store, { project: "burst" }, 1000)).length, 500);
  });

  test("after close(), calls reject with UnavailableError", async () => {
    const pending = store.submit(request(task()));
    const closing = store.close();
    await rejects(store.submit(request(task())), UnavailableError);
    assert.is((await pending).kind, "created", "close() drains what was queued before it");
    await closing;
    await rejects(store.write([{ kind: "update_worker_status", workerId: "w-up", status: "OFFLINE", lastSeenAtMs: 1 }]), UnavailableError);
    await rejects(store.getTask(survivor.id), UnavailableError);
  });

  test.run();
}
