// What the master learns when an attempt ends: runtime ratio and success counts per (kind,
// worker), penalties for failures and deadline misses, one miss per task, and the writes that
// persist it: a miss with the end, the learning rows by a flush of those that changed.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LearningObserver } from "../../master/learning-observer.js";
import type { TaskResult } from "../../src/core/types.js";
import type { StoreWrite } from "../../src/store/store-types.js";
import { task } from "../helpers/domain.js";

const result = (outcome: TaskResult["outcome"], durationMs = 2000): TaskResult => ({
  outcome,
  exitCode: outcome === "SUCCEEDED" ? 0 : 1,
  signal: "",
  outputTail: "",
  durationMs,
  message: "",
});

test("a success moves the runtime ratio, kept for the next flush; no penalty", () => {
  const o = new LearningObserver();
  const t = task({ kind: "encode", estimateMs: 1000 });
  assert.equal(o.persistAttemptEnd(t, "w1", result("SUCCEEDED", 2000), 10_000), [], "nothing to commit with the end");
  const stats = o.learning.get("encode", "w1")!;
  assert.is(stats.successes, 1);
  assert.ok(stats.runtimeRatio > 1, "took twice the estimate");
  assert.is(o.penalties.value("w1", 10_000), 0);
  assert.is(o.unsavedRows, 1);
});

/** A store whose writes are recorded, failing while `down`. */
function recordingStore() {
  const written: StoreWrite[][] = [];
  const store = {
    down: false,
    write: async (writes: StoreWrite[]) => {
      if (store.down) throw new Error("database unreachable");
      written.push(writes);
    },
  };
  return { store, written };
}

test("a flush writes the latest copy of each changed row once, then nothing until a row changes again", async () => {
  const o = new LearningObserver();
  const { store, written } = recordingStore();
  for (let i = 0; i < 3; i++) o.persistAttemptEnd(task({ kind: "k" }), "w1", result("SUCCEEDED"), 1000 + i);
  o.persistAttemptEnd(task({ kind: "k" }), "w2", result("FAILED"), 2000);
  await o.flush(store);
  assert.is(written.length, 1, "one write");
  const rows = written[0].map((w) => (w.kind === "upsert_learning" ? [w.stats.workerId, w.stats.successes, w.stats.failures] : w.kind));
  assert.equal(rows, [
    ["w1", 3, 0],
    ["w2", 0, 1],
  ]);
  await o.flush(store);
  assert.is(written.length, 1, "nothing changed: no write");
  assert.is(o.unsavedRows, 0);
});

test("a failed flush keeps the rows for the next one, unless a newer copy came meanwhile", async () => {
  const o = new LearningObserver();
  const { store, written } = recordingStore();
  o.persistAttemptEnd(task({ kind: "k" }), "w1", result("SUCCEEDED"), 1000);
  o.persistAttemptEnd(task({ kind: "k" }), "w2", result("SUCCEEDED"), 1000);
  store.down = true;
  const failing = o.flush(store);
  o.persistAttemptEnd(task({ kind: "k" }), "w1", result("SUCCEEDED"), 1500); // newer copy of w1's row, during the write
  await failing.then(
    () => assert.unreachable("the write failed"),
    (e: Error) => assert.match(e.message, /unreachable/),
  );
  store.down = false;
  await o.flush(store);
  const rows = written[0].map((w) => (w.kind === "upsert_learning" ? [w.stats.workerId, w.stats.successes] : w.kind)).sort();
  assert.equal(rows, [
    ["w1", 2],
    ["w2", 1],
  ]);
});

test("a failure counts against the worker; a cancel teaches nothing", () => {
  const o = new LearningObserver();
  o.persistAttemptEnd(task({ kind: "k" }), "w1", result("FAILED"), 1000);
  assert.is(o.learning.get("k", "w1")!.failures, 1);
  assert.ok(o.penalties.value("w1", 1000) > 0);
  assert.equal(o.persistAttemptEnd(task({ kind: "k" }), "w2", result("CANCELED"), 1000), []);
  assert.is(o.learning.get("k", "w2"), undefined);
});

test("finishing after the deadline is one miss per task, counted and persisted", () => {
  const o = new LearningObserver();
  const t = task({ kind: "k" }, { deadlineMs: 5000 });
  const first = o.persistAttemptEnd(t, "w1", result("FAILED"), 6000);
  assert.ok(first.some((w) => w.kind === "record_deadline_miss"));
  assert.is(t.deadlineMissed, true);
  const second = o.persistAttemptEnd(t, "w2", result("SUCCEEDED"), 7000);
  assert.not.ok(
    second.some((w) => w.kind === "record_deadline_miss"),
    "a retry does not miss again",
  );
  assert.is(o.deadlineMisses, 1);
  const inTime = task({}, { deadlineMs: 5000 });
  assert.not.ok(o.persistAttemptEnd(inTime, "w1", result("SUCCEEDED"), 4000).some((w) => w.kind === "record_deadline_miss"));
});

test("learned rows reload", () => {
  const o = new LearningObserver();
  o.load([{ kind: "k", workerId: "w", runtimeRatio: 1.5, successes: 3, failures: 1, predictionError: 0.1, samples: 4, updatedAtMs: 1 }]);
  assert.is(o.learning.get("k", "w")!.runtimeRatio, 1.5);
});

test.run();
