// The group committer with two batches at once (no database needed: runBatch is scripted and each
// transaction is held open until the test lets it go). A batch starts beside a running one only when
// its jobs name none of that one's rows, and stops at the first job that does (queue order is kept);
// the second batch's COMMIT waits until the first has settled, so commits happen in batch order even
// when the second batch's statements finish first, or when the first fails and is retried job by
// job; during an outage one batch runs at a time.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GroupCommitter } from "../../src/store/group-commit.js";
import { isConnectionError } from "../../src/store/connection-errors.js";

interface Job {
  id: string;
  rows: string[];
}

/** A transaction the test holds open: its statements "ran" when it is created; `finish` lets it commit. */
interface Transaction {
  jobs: string[];
  pipelined: boolean;
  finish(outcome?: Error): void;
}

function harness(maxInFlight = 2) {
  const open: Transaction[] = [];
  const commits: string[][] = [];
  const events: string[] = [];
  let opened: (() => void) | null = null;
  const gc = new GroupCommitter<Job, string>({
    runBatch: async (jobs, predecessor) => {
      const ids = jobs.map((j) => j.id);
      let finish!: (outcome?: Error) => void;
      const done = new Promise<Error | undefined>((resolve) => (finish = resolve));
      open.push({ jobs: ids, pipelined: predecessor !== undefined, finish });
      opened?.();
      const failure = await done;
      if (failure) throw failure;
      await predecessor?.();
      commits.push(ids);
      events.push(`commit ${ids.join(",")}`);
      return ids.map((id) => `ok ${id}`);
    },
    rowsOf: () => 1,
    conflictKeysOf: (job) => job.rows,
    maxInFlight,
    isUnavailable: isConnectionError,
    retryDelayMs: () => 1,
  });
  /** Resolves once `n` transactions have been opened in all. */
  const untilOpened = async (n: number) => {
    while (open.length < n) await new Promise<void>((resolve) => (opened = resolve));
  };
  return { gc, open, commits, events, untilOpened };
}

test("a batch on other rows starts while the first runs; its commit waits for the first one's", async () => {
  const h = harness();
  const a = h.gc.submit({ id: "a", rows: ["task:1"] });
  await h.untilOpened(1);
  const b = h.gc.submit({ id: "b", rows: ["task:2"] });
  const c = h.gc.submit({ id: "c", rows: ["task:3"] });
  await h.untilOpened(2);
  assert.equal(
    h.open.map((t) => [t.jobs, t.pipelined]),
    [
      [["a"], false],
      [["b", "c"], true],
    ],
  );
  // The second transaction's statements are done first; it still commits after the first.
  h.open[1].finish();
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(h.commits, [], "nothing committed before the first batch");
  h.open[0].finish();
  assert.equal(await Promise.all([a, b, c]), ["ok a", "ok b", "ok c"]);
  assert.equal(h.commits, [["a"], ["b", "c"]]);
  assert.is(h.gc.stats().pipelinedBatches, 1);
  await h.gc.close();
});

test("a job naming a running batch's row waits for it, and so does every job after it", async () => {
  const h = harness();
  const a = h.gc.submit({ id: "a", rows: ["task:1", "worker:w"] });
  await h.untilOpened(1);
  const b = h.gc.submit({ id: "b", rows: ["task:2"] });
  const c = h.gc.submit({ id: "c", rows: ["worker:w"] });
  const d = h.gc.submit({ id: "d", rows: ["task:4"] });
  await h.untilOpened(2);
  assert.equal(h.open[1].jobs, ["b"], "c names the running batch's worker row: it and d wait");
  h.open[1].finish();
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.is(h.open.length, 2, "nothing started while a still runs");
  h.open[0].finish();
  await h.untilOpened(3);
  assert.equal(h.open[2].jobs, ["c", "d"]);
  h.open[2].finish();
  assert.equal(await Promise.all([a, b, c, d]), ["ok a", "ok b", "ok c", "ok d"]);
  assert.equal(h.commits, [["a"], ["b"], ["c", "d"]]);
});

test("at most maxInFlight batches: a third waits, then runs behind the second", async () => {
  const h = harness();
  const jobs = [h.gc.submit({ id: "a", rows: ["1"] })];
  await h.untilOpened(1);
  jobs.push(h.gc.submit({ id: "b", rows: ["2"] }));
  await h.untilOpened(2);
  jobs.push(h.gc.submit({ id: "c", rows: ["3"] }));
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.is(h.open.length, 2);
  h.open[0].finish();
  await h.untilOpened(3);
  assert.equal(h.open[2].jobs, ["c"]);
  assert.ok(h.open[2].pipelined, "it starts beside b");
  h.open[2].finish();
  h.open[1].finish();
  await Promise.all(jobs);
  assert.equal(h.commits, [["a"], ["b"], ["c"]]);
});

test("the first batch fails and its jobs are retried alone: the second still commits after all of them", async () => {
  const h = harness();
  const a = h.gc.submit({ id: "a", rows: ["1"] });
  const bad = h.gc.submit({ id: "bad", rows: ["2"] });
  await h.untilOpened(1);
  const c = h.gc.submit({ id: "c", rows: ["3"] });
  await h.untilOpened(2);
  h.open[1].finish();
  h.open[0].finish(new Error("invalid input syntax"));
  // The retries: a alone, then bad alone.
  await h.untilOpened(3);
  assert.equal(h.open[2].jobs, ["a"]);
  h.open[2].finish();
  await h.untilOpened(4);
  assert.equal(h.open[3].jobs, ["bad"]);
  h.open[3].finish(new Error("invalid input syntax"));
  assert.is(await a, "ok a");
  await bad.then(
    () => assert.unreachable("bad committed"),
    (e: Error) => assert.match(e.message, /invalid input/),
  );
  assert.is(await c, "ok c");
  assert.equal(h.commits, [["a"], ["c"]]);
});

test("during an outage one batch runs at a time", async () => {
  const h = harness();
  const a = h.gc.submit({ id: "a", rows: ["1"] });
  await h.untilOpened(1);
  h.open[0].finish(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }));
  await h.untilOpened(2);
  assert.ok(h.gc.unavailable);
  const b = h.gc.submit({ id: "b", rows: ["2"] });
  await new Promise<void>((resolve) => setTimeout(resolve, 10));
  assert.equal(
    h.open.map((t) => t.jobs),
    [["a"], ["a"]],
    "b waits: nothing starts beside a batch retried during an outage",
  );
  h.open[1].finish();
  await h.untilOpened(3);
  assert.equal(h.open[2].jobs, ["b"]);
  assert.not.ok(h.open[2].pipelined);
  h.open[2].finish();
  assert.equal(await Promise.all([a, b]), ["ok a", "ok b"]);
  assert.not.ok(h.gc.unavailable);
});

test("without conflict keys, or with maxInFlight 1, batches run one at a time", async () => {
  const h = harness(1);
  const a = h.gc.submit({ id: "a", rows: ["1"] });
  await h.untilOpened(1);
  const b = h.gc.submit({ id: "b", rows: ["2"] });
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.is(h.open.length, 1);
  h.open[0].finish();
  await h.untilOpened(2);
  assert.not.ok(h.open[1].pipelined);
  h.open[1].finish();
  await Promise.all([a, b]);
  assert.is(h.gc.stats().pipelinedBatches, 0);
  await h.gc.close();
});

test("close() waits for both running batches and what is queued behind them", async () => {
  const h = harness();
  const a = h.gc.submit({ id: "a", rows: ["1"] });
  await h.untilOpened(1);
  const b = h.gc.submit({ id: "b", rows: ["2"] });
  const c = h.gc.submit({ id: "c", rows: ["1"] });
  await h.untilOpened(2);
  let closed = false;
  const closing = h.gc.close().then(() => (closed = true));
  h.open[1].finish();
  h.open[0].finish();
  await h.untilOpened(3);
  assert.not.ok(closed);
  h.open[2].finish();
  await closing;
  assert.equal(await Promise.all([a, b, c]), ["ok a", "ok b", "ok c"]);
  assert.equal(h.commits, [["a"], ["b"], ["c"]]);
});

test.run();
