// Commit, then apply: a task change becomes visible (memory, watchers, agents) only after its
// commit; a failed commit leaves memory exactly as it was, and the same report applies cleanly
// once the database takes it. Changes of one task run one at a time. The store is a scripted fake.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { TaskResult } from "../../src/core/types.js";
import { lifecycleHarness as setup } from "../helpers/lifecycle-harness.js";

const ok: TaskResult = { outcome: "SUCCEEDED", exitCode: 0, signal: "", outputTail: "", durationMs: 5, message: "" };

test("a finished report is applied only after its commit", async () => {
  const { state, t, s, lifecycle, events, nextCommit } = setup();
  const done = lifecycle.attemptFinished("w1", "a1", ok, 1000);
  await new Promise((r) => setImmediate(r));
  assert.is(t.state, "RUNNING", "not visible before the commit");
  assert.ok(state.liveAttempts.has("a1"));
  assert.is(s.allocations.size, 1);
  assert.equal(events, []);
  (await nextCommit()).commit();
  await done;
  assert.is(t.state, "SUCCEEDED");
  assert.not.ok(state.liveAttempts.has("a1"));
  assert.is(s.allocations.size, 0);
  assert.not.ok(state.activeTasks.has(t.id));
  assert.equal(
    events.map((e) => e.state),
    ["SUCCEEDED"],
  );
});

test("a failed commit leaves memory as it was; the report sent again then applies", async () => {
  const { state, t, s, lifecycle, events, nextCommit } = setup();
  const first = lifecycle.attemptFinished("w1", "a1", ok, 1000);
  (await nextCommit()).fail();
  const error = await first.then(
    () => null,
    (e: Error) => e,
  );
  assert.match(error?.message ?? "", /commit failed/);
  assert.equal([t.state, t.currentAttemptId, t.result], ["RUNNING", "a1", null]);
  assert.ok(state.liveAttempts.has("a1"));
  assert.is(s.allocations.size, 1);
  assert.ok(state.activeTasks.has(t.id));
  assert.equal(events, [], "watchers saw nothing");

  const again = lifecycle.attemptFinished("w1", "a1", ok, 1000);
  (await nextCommit()).commit();
  await again;
  assert.is(t.state, "SUCCEEDED");
});

test("changes of one task run one at a time: a cancel waits for the finish and then finds it ended", async () => {
  const { t, lifecycle, pending, sent, nextCommit } = setup();
  const finished = lifecycle.attemptFinished("w1", "a1", ok, 1000);
  const canceled = lifecycle.cancel(t.id, "too late").then(
    () => "canceled",
    (e: Error) => e.constructor.name,
  );
  assert.ok(lifecycle.changing(t.id));
  const finish = await nextCommit();
  await new Promise((r) => setImmediate(r));
  assert.is(pending.length, 0, "the cancel is not planned while the finish commits");
  finish.commit();
  await finished;
  assert.is(await canceled, "NotFoundError", "the task already ended: the caller reports it from the database");
  assert.equal(sent, [], "no kill was sent for an attempt that ended");
  assert.is(t.state, "SUCCEEDED");
});

test.run();
