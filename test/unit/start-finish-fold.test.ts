// A `started` report waits one event-loop turn for its attempt's `finished` (master/start-windows.ts):
// read together, the two commit as one write in which the attempt's and the task's row are each
// written once, with both events published in order after the commit. Counted here: the commits the
// store was asked for and what each held, not only final states.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { TaskResult } from "../../src/core/types.js";
import type { StoreWrite } from "../../src/store/store-types.js";
import { lifecycleHarness } from "../helpers/lifecycle-harness.js";

const ok: TaskResult = { outcome: "SUCCEEDED", exitCode: 0, signal: "", outputTail: "", durationMs: 5, message: "" };
const nextTurn = () => new Promise((r) => setImmediate(r));
const kinds = (writes: StoreWrite[]) => writes.map((w) => w.kind);

test("a start and its finish read in one turn commit as one write, applied and published after it", async () => {
  const h = lifecycleHarness({ taskState: "ASSIGNED" });
  const started = h.lifecycle.attemptStarted("w1", "a1", 500);
  const finished = h.lifecycle.attemptFinished("w1", "a1", ok, 900);
  const commit = await h.nextCommit();
  assert.equal(
    commit.writes,
    [
      { kind: "update_attempt", attemptId: "a1", startedAtMs: 500, running: { atMs: 1000, by: "master" }, finishedAtMs: 900, result: ok },
      {
        kind: "update_task",
        taskId: h.t.id,
        state: "SUCCEEDED",
        updatedAtMs: 1000,
        currentAttemptId: null,
        attemptCount: 1,
        result: ok,
        retriesUsed: 0,
        requeues: 0,
        notBeforeMs: null,
        endedBy: "master",
      },
    ],
    "one write of each row: the attempt's with its start (RUNNING recorded by the row) and its end, the task's final state",
  );
  await nextTurn();
  assert.is(h.pending.length, 0, "no second commit was asked for");
  assert.is(h.t.state, "ASSIGNED", "nothing applied before the commit");
  assert.equal(h.events, []);
  commit.commit();
  await Promise.all([started, finished]);
  assert.is(h.t.state, "SUCCEEDED");
  assert.is(h.attempt.startedAtMs, 500);
  assert.is(h.attempt.finishedAtMs, 900);
  assert.not.ok(h.state.liveAttempts.has("a1"));
  assert.is(h.s.allocations.size, 0, "the slot is free");
  assert.equal(
    h.events.map((e) => e.state),
    ["RUNNING", "SUCCEEDED"],
  );
  assert.is(h.committed.length, 1);
});

test("a folded start whose RUNNING event is stored as a row (the task has progress) keeps that event, before the end", async () => {
  const h = lifecycleHarness({ taskState: "ASSIGNED" });
  h.t.progress = 40; // an earlier attempt's: the attempt row cannot stand for the event (task-change.ts)
  const reports = [h.lifecycle.attemptStarted("w1", "a1", 500), h.lifecycle.attemptFinished("w1", "a1", ok, 900)];
  const commit = await h.nextCommit();
  assert.equal(kinds(commit.writes), ["update_attempt", "append_event", "update_task"]);
  assert.equal(commit.writes[0], { kind: "update_attempt", attemptId: "a1", startedAtMs: 500, finishedAtMs: 900, result: ok });
  const stored = commit.writes[1];
  assert.equal(stored.kind === "append_event" && [stored.event.state, stored.event.progress], ["RUNNING", 40]);
  commit.commit();
  await Promise.all(reports);
  assert.equal(
    h.events.map((e) => e.state),
    ["RUNNING", "SUCCEEDED"],
  );
});

/** Commits every write the store is asked for until `reports` settle; the kinds each commit held. */
async function commitAll(h: ReturnType<typeof lifecycleHarness>, reports: Promise<unknown>[]): Promise<string[][]> {
  let settled = false;
  const all = Promise.all(reports).finally(() => (settled = true));
  const commits: string[][] = [];
  while (!settled) {
    if (h.pending.length === 0) {
      await new Promise((r) => setImmediate(r));
      continue;
    }
    const next = await h.nextCommit();
    commits.push(kinds(next.writes));
    next.commit();
  }
  await all;
  return commits;
}

test("a progress report between the start and the finish keeps its place: the finish is not folded past it", async () => {
  const h = lifecycleHarness({ taskState: "ASSIGNED" });
  const reports = [
    h.lifecycle.attemptStarted("w1", "a1", 500),
    h.lifecycle.attemptProgress("w1", "a1", 40, "half"),
    h.lifecycle.attemptFinished("w1", "a1", ok, 900),
  ];
  assert.equal(await commitAll(h, reports), [["update_attempt", "update_task"], ["update_progress"], ["update_attempt", "update_task"]]);
  assert.equal(
    h.events.map((e) => [e.state, e.progress]),
    [
      ["RUNNING", 0],
      ["RUNNING", 40],
      ["SUCCEEDED", 40],
    ],
  );
});

test("a cancel queued between the start and the finish goes first: the finish then only records the attempt's end", async () => {
  const h = lifecycleHarness({ taskState: "ASSIGNED" });
  const reports = [h.lifecycle.attemptStarted("w1", "a1", 500), h.lifecycle.cancel(h.t.id, "by request"), h.lifecycle.attemptFinished("w1", "a1", ok, 900)];
  assert.equal(await commitAll(h, reports), [["update_attempt", "update_task"], ["update_task"], ["update_attempt"]]);
  assert.is(h.t.state, "CANCELED");
});

test("a failed folded commit leaves memory as it was and fails both reports; sent again, they apply", async () => {
  const h = lifecycleHarness({ taskState: "ASSIGNED" });
  const outcomes = [h.lifecycle.attemptStarted("w1", "a1", 500), h.lifecycle.attemptFinished("w1", "a1", ok, 900)].map((p) =>
    p.then(
      () => "ok",
      (e: Error) => e.message,
    ),
  );
  (await h.nextCommit()).fail();
  assert.equal(await Promise.all(outcomes), ["commit failed", "commit failed"]);
  assert.equal([h.t.state, h.attempt.startedAtMs, h.s.allocations.size], ["ASSIGNED", null, 1]);
  assert.ok(h.state.liveAttempts.has("a1"));
  assert.equal(h.events, []);

  const again = [h.lifecycle.attemptStarted("w1", "a1", 500), h.lifecycle.attemptFinished("w1", "a1", ok, 900)];
  (await h.nextCommit()).commit();
  await Promise.all(again);
  assert.is(h.t.state, "SUCCEEDED");
  assert.is(h.committed.length, 1);
});

test("a finish read after the start's turn is planned after the start's commit, from what it committed", async () => {
  const h = lifecycleHarness({ taskState: "ASSIGNED" });
  const started = h.lifecycle.attemptStarted("w1", "a1", 500);
  const start = await h.nextCommit();
  const finished = h.lifecycle.attemptFinished("w1", "a1", ok, 900);
  await nextTurn();
  assert.is(h.pending.length, 0, "the finish waits for the start's commit");
  assert.equal(kinds(start.writes), ["update_attempt", "update_task"]);
  start.commit();
  await started;
  assert.is(h.t.state, "RUNNING");
  const finish = await h.nextCommit();
  assert.equal(kinds(finish.writes), ["update_attempt", "update_task"]);
  finish.commit();
  await finished;
  assert.is(h.t.state, "SUCCEEDED");
  assert.equal(
    h.events.map((e) => e.state),
    ["RUNNING", "SUCCEEDED"],
  );
  assert.is(h.committed.length, 2);
});

test("a finish from another worker is not folded into a start's window: it is refused as foreign", async () => {
  const h = lifecycleHarness({ taskState: "ASSIGNED" });
  const started = h.lifecycle.attemptStarted("w1", "a1", 500);
  await h.lifecycle.attemptFinished("w2", "a1", { ...ok, outcome: "FAILED", exitCode: 1 }, 900);
  assert.equal(h.rejected, ["foreign w2 a1"]);
  const commit = await h.nextCommit();
  assert.equal(kinds(commit.writes), ["update_attempt", "update_task"], "the start alone");
  commit.commit();
  await started;
  assert.is(h.t.state, "RUNNING");
  assert.ok(h.state.liveAttempts.has("a1"));
});

test("a start that does not move the task (canceled meanwhile) is not folded: each report commits on its own", async () => {
  const h = lifecycleHarness({ taskState: "ASSIGNED" });
  const canceled = h.lifecycle.cancel(h.t.id, "by request");
  (await h.nextCommit()).commit();
  await canceled;
  assert.equal(h.sent, ["cancel a1"]);
  const canceledResult: TaskResult = { ...ok, outcome: "CANCELED", exitCode: -1, signal: "SIGTERM" };
  const reports = [h.lifecycle.attemptStarted("w1", "a1", 500), h.lifecycle.attemptFinished("w1", "a1", canceledResult, 900)];
  const start = await h.nextCommit();
  assert.equal(kinds(start.writes), ["update_attempt"], "the start only records its time");
  start.commit();
  const finish = await h.nextCommit();
  assert.equal(kinds(finish.writes), ["update_attempt"], "the finish only records the result");
  finish.commit();
  await Promise.all(reports);
  assert.not.ok(h.state.liveAttempts.has("a1"));
  assert.is(h.s.allocations.size, 0);
  assert.is(h.t.state, "CANCELED");
});

test("a start sent twice waits once; the second is a no-op after the first committed", async () => {
  const h = lifecycleHarness({ taskState: "ASSIGNED" });
  const first = h.lifecycle.attemptStarted("w1", "a1", 500);
  const second = h.lifecycle.attemptStarted("w1", "a1", 500);
  (await h.nextCommit()).commit();
  await Promise.all([first, second]);
  await nextTurn();
  assert.is(h.pending.length, 0);
  assert.is(h.committed.length, 1);
  assert.equal(
    h.events.map((e) => e.state),
    ["RUNNING"],
  );
});

test.run();
