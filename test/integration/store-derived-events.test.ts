// A task's RUNNING event and the event that ended it, recorded by the attempt and task rows rather
// than stored (migration 0017), read back exactly as the stored events would: the same task life is
// written twice, once with every event stored and once the way the master writes it now, and the two
// histories must be equal field for field; the derived one must add no task_events row.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { randomUUID } from "node:crypto";
import type { Attempt, Task, TaskEvent, TaskResult } from "../../src/core/types.js";
import type { StoreWrite, TaskgridStore } from "../../src/store/index.js";
import { backends } from "../helpers/db.js";
import { request, task, tick, worker } from "../helpers/store-rows.js";

const ok: TaskResult = { outcome: "SUCCEEDED", exitCode: 0, signal: "", outputTail: "done\n", durationMs: 42, message: "" };
const canceled: TaskResult = { outcome: "CANCELED", exitCode: -1, signal: "", outputTail: "", durationMs: 0, message: "no longer needed" };

/** One step of a task's life: its writes when the event is stored, and when a row records it. */
interface Step {
  stored: StoreWrite[];
  derived: StoreWrite[];
}

/**
 * Builds the steps of one task's life on `workerId` for both ways of recording, with equal fields.
 * Times come from a clock starting at `startMs`, so two lives scripted alike have equal times.
 */
function life(t: Task, workerId: string, startMs = tick()) {
  let clock = startMs;
  const tick = () => ++clock;
  const steps: Step[] = [];
  let attempt: Attempt | null = null;
  let progress = 0;
  let progressMessage = "";
  const base = () => ({ kind: "update_task" as const, taskId: t.id, retriesUsed: 0, requeues: 0, notBeforeMs: null });
  const ev = (state: TaskEvent["state"], timeMs: number, actor: string, extra: Partial<TaskEvent> = {}): TaskEvent => ({
    taskId: t.id,
    state,
    progress,
    progressMessage,
    timeMs,
    attemptId: attempt?.id ?? "",
    workerId: attempt ? workerId : "",
    result: null,
    actor,
    ...extra,
  });
  return {
    steps,
    assign(number: number) {
      attempt = {
        id: randomUUID(),
        taskId: t.id,
        number,
        workerId,
        gpuIndexes: [],
        assignedAtMs: tick(),
        startedAtMs: null,
        finishedAtMs: null,
        result: null,
        decision: null,
      };
      const writes: StoreWrite[] = [
        { kind: "insert_attempt", attempt, assignedBy: "master" },
        { ...base(), state: "ASSIGNED", updatedAtMs: attempt.assignedAtMs, currentAttemptId: attempt.id, attemptCount: number, result: null },
      ];
      steps.push({ stored: writes, derived: writes });
    },
    start(actor: string) {
      const a = attempt!;
      const now = tick();
      const task: StoreWrite = { ...base(), state: "RUNNING", updatedAtMs: now, currentAttemptId: a.id, attemptCount: a.number, result: null };
      steps.push({
        stored: [{ kind: "update_attempt", attemptId: a.id, startedAtMs: now - 1 }, task, { kind: "append_event", event: ev("RUNNING", now, actor) }],
        derived: [{ kind: "update_attempt", attemptId: a.id, startedAtMs: now - 1, running: { atMs: now, by: actor } }, task],
      });
    },
    progress(percent: number, message: string, actor: string) {
      const now = tick();
      progress = percent;
      progressMessage = message;
      const writes: StoreWrite[] = [
        { kind: "update_progress", taskId: t.id, progress, progressMessage, updatedAtMs: now },
        { kind: "append_event", event: ev("RUNNING", now, actor) },
      ];
      steps.push({ stored: writes, derived: writes });
    },
    requeue(message: string) {
      const a = attempt!;
      const now = tick();
      const lost: TaskResult = { ...ok, outcome: "LOST", exitCode: -1, message };
      // A requeue carries its reason: stored either way.
      const writes: StoreWrite[] = [
        { kind: "update_attempt", attemptId: a.id, finishedAtMs: now, result: lost },
        { ...base(), state: "QUEUED", updatedAtMs: now, currentAttemptId: null, attemptCount: a.number, result: null },
        { kind: "append_event", event: ev("QUEUED", now, "master", { progressMessage: message }) },
      ];
      steps.push({ stored: writes, derived: writes });
    },
    end(state: "SUCCEEDED" | "CANCELED", result: TaskResult, actor: string) {
      const a = attempt!;
      const now = tick();
      const task = { ...base(), state, updatedAtMs: now, currentAttemptId: null, attemptCount: a.number, result };
      const attemptEnd: StoreWrite = { kind: "update_attempt", attemptId: a.id, finishedAtMs: now, result };
      steps.push({
        stored: [attemptEnd, task, { kind: "append_event", event: ev(state, now, actor, { result }) }],
        derived: [attemptEnd, { ...task, endedBy: actor }],
      });
    },
  };
}

/** The history without the ids of the task and its attempts (the two copies differ in those only). */
function withoutIds(events: TaskEvent[]) {
  const attempts: string[] = [];
  return events.map(({ taskId: _, attemptId, ...rest }) => {
    if (attemptId !== "" && !attempts.includes(attemptId)) attempts.push(attemptId);
    return { ...rest, attempt: attemptId === "" ? 0 : attempts.indexOf(attemptId) + 1 };
  });
}

for (const backend of backends()) {
  const test = suite(`derived run events [${backend.name}]`);
  let store: TaskgridStore;
  let cleanup: () => Promise<void>;
  const workerId = `w-${randomUUID()}`;

  test.before(async () => {
    ({ store, cleanup } = await backend.open());
    await store.write([{ kind: "upsert_worker", worker: worker(workerId) }]);
  });
  test.after(async () => cleanup());

  /** Writes one task's life both ways, step by step (or all in one batch), and compares the histories. */
  async function compare(script: (l: ReturnType<typeof life>) => void, oneBatch = false): Promise<TaskEvent[]> {
    const original = task({ project: "derived" });
    const copies = [original, { ...original, id: randomUUID() }];
    const startMs = tick();
    const histories: TaskEvent[][] = [];
    for (const [i, t] of copies.entries()) {
      const l = life(t, workerId, startMs);
      script(l);
      const writes = l.steps.map((s) => (i === 0 ? s.stored : s.derived));
      if (oneBatch) await Promise.all([store.submit({ ...request(t), actor: "alice" }), ...writes.map((w) => store.write(w))]);
      else {
        await store.submit({ ...request(t), actor: "alice" });
        for (const w of writes) await store.write(w);
      }
      histories.push(await store.getEvents(t.id));
    }
    assert.equal(withoutIds(histories[1]), withoutIds(histories[0]));
    return histories[1];
  }

  test("start and success: the rows stand for both events, read back field for field", async () => {
    const history = await compare((l) => {
      l.assign(1);
      l.start("agent-token");
      l.end("SUCCEEDED", ok, "agent-token");
    });
    assert.equal(
      history.map((e) => `${e.state}:${e.actor}`),
      ["QUEUED:alice", "ASSIGNED:master", "RUNNING:agent-token", "SUCCEEDED:agent-token"],
    );
    assert.equal(history[3].result, ok);
  });

  test("progress between start and end: the end carries the last progress and message", async () => {
    const history = await compare((l) => {
      l.assign(1);
      l.start("agent");
      l.progress(40, "epoch 4", "agent");
      l.progress(90, "epoch 9", "agent");
      l.end("SUCCEEDED", ok, "agent");
    });
    assert.equal(
      history.map((e) => `${e.state}@${e.progress}`),
      ["QUEUED@0", "ASSIGNED@0", "RUNNING@0", "RUNNING@40", "RUNNING@90", "SUCCEEDED@90"],
    );
    assert.is(history[5].progressMessage, "epoch 9");
  });

  test("a retried task canceled while running: requeue stored, second attempt's start and the cancel derived", async () => {
    const history = await compare((l) => {
      l.assign(1);
      l.start("agent");
      l.requeue("worker lost");
      l.assign(2);
      l.start("agent");
      l.end("CANCELED", canceled, "bob");
    });
    assert.equal(
      history.map((e) => `${e.state}#${e.attemptId === "" ? 0 : 1}`),
      ["QUEUED#0", "ASSIGNED#1", "RUNNING#1", "QUEUED#1", "ASSIGNED#1", "RUNNING#1", "CANCELED#1"],
    );
    assert.is(history[6].attemptId, history[4].attemptId, "the end names the last attempt");
  });

  test("a whole life in one batch (writes folded into the inserts) reads back the same", async () => {
    const before = store.stats().batches;
    await compare((l) => {
      l.assign(1);
      l.start("agent");
      l.end("SUCCEEDED", ok, "agent");
    }, true);
    assert.ok(store.stats().batches - before <= 4);
  });

  test("the derived copy stores no event row", async () => {
    const t = task({ project: "derived" });
    const l = life(t, workerId);
    l.assign(1);
    l.start("agent");
    l.end("SUCCEEDED", ok, "agent");
    await store.submit(request(t));
    for (const s of l.steps) await store.write(s.derived);
    const storedOnly = l.steps.flatMap((s) => s.stored).filter((w) => w.kind === "append_event");
    assert.is(storedOnly.length, 2, "the stored copy would write RUNNING and SUCCEEDED rows");
    assert.is(l.steps.flatMap((s) => s.derived).filter((w) => w.kind === "append_event").length, 0);
    assert.is((await store.getEvents(t.id)).length, 4);
  });

  test.run();
}
