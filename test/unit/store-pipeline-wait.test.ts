// A pipelined batch waits for its predecessor before its COMMIT for a bounded time only
// (src/store/pipeline-wait.ts): past it, its transaction rolls back and the batch runs again, whole
// and ungated, once the predecessor has settled; errors other than the timeout pass through.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { PredecessorSlowError, runAfterPredecessor } from "../../src/store/pipeline-wait.js";

/** A scripted transaction: records each run and whether it was gated; awaits the gate like COMMIT would. */
function transactions(log: string[], fail?: Error) {
  let n = 0;
  return async (beforeCommit?: () => Promise<void>) => {
    const run = ++n;
    log.push(`run ${run} ${beforeCommit ? "gated" : "ungated"}`);
    if (fail) throw fail;
    try {
      await beforeCommit?.();
    } catch (error) {
      log.push(`rollback ${run}`);
      throw error;
    }
    log.push(`commit ${run}`);
    return run;
  };
}

test("a predecessor that settles in time: one transaction, committed after it", async () => {
  const log: string[] = [];
  let settle!: () => void;
  const settled = new Promise<void>((resolve) => (settle = resolve));
  const result = runAfterPredecessor(transactions(log), () => settled, 1_000);
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(log, ["run 1 gated"]);
  log.push("predecessor settled");
  settle();
  assert.is(await result, 1);
  assert.equal(log, ["run 1 gated", "predecessor settled", "commit 1"]);
});

test("a slow predecessor: the transaction rolls back, then runs again after it", async () => {
  const log: string[] = [];
  let settle!: () => void;
  const settled = new Promise<void>((resolve) => (settle = resolve));
  const result = runAfterPredecessor(transactions(log), () => settled, 5);
  while (!log.includes("rollback 1")) await new Promise<void>((resolve) => setTimeout(resolve, 1));
  assert.equal(log, ["run 1 gated", "rollback 1"], "its locks are freed while the predecessor still runs");
  log.push("predecessor settled");
  settle();
  assert.is(await result, 2);
  assert.equal(log, ["run 1 gated", "rollback 1", "predecessor settled", "run 2 ungated", "commit 2"]);
});

test("another failure is the batch's own: no rerun", async () => {
  const log: string[] = [];
  const error = new Error("invalid input syntax");
  const outcome = await runAfterPredecessor(transactions(log, error), () => Promise.resolve(), 1_000).catch((e: unknown) => e);
  assert.is(outcome, error);
  assert.equal(log, ["run 1 gated"]);
  assert.not.instance(outcome, PredecessorSlowError);
});

test.run();
