// The group committer during a database outage (no database needed: runBatch is scripted): state
// changes wait and are retried in order until the database is back, submissions fail fast with
// UnavailableError, the outage is reported once at its start and once at its end, an error that is
// not an outage still fails only its own job, and close() gives up on waiting writes after its bound.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { UnavailableError } from "../../src/core/errors.js";
import { GroupCommitter } from "../../src/store/group-commit.js";
import { isConnectionError } from "../../src/store/connection-errors.js";

interface Job {
  id: string;
  submit?: boolean;
}

function committer(down: { value: boolean }, committed: string[], outages: Array<string | null>, onOutage = () => {}) {
  return new GroupCommitter<Job, string>({
    runBatch: async (jobs) => {
      if (down.value) throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
      if (jobs.some((j) => j.id === "bad")) throw new Error("invalid input syntax");
      committed.push(...jobs.map((j) => j.id));
      return jobs.map((j) => `ok ${j.id}`);
    },
    rowsOf: () => 1,
    isUnavailable: isConnectionError,
    failFast: (job) => job.submit === true,
    onOutage: (err) => (outages.push(err === null ? null : (err as Error).message), onOutage()),
    retryDelayMs: () => 5,
  });
}

test("connection errors are recognised; statement errors are not", () => {
  assert.ok(isConnectionError(Object.assign(new Error("x"), { code: "ECONNREFUSED" })));
  assert.ok(isConnectionError(Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" })));
  assert.ok(isConnectionError(Object.assign(new Error("x"), { code: "08006" })));
  assert.ok(isConnectionError(new Error("Connection terminated unexpectedly")));
  assert.ok(isConnectionError(new Error("Knex: Timeout acquiring a connection. The pool is probably full.")));
  assert.ok(isConnectionError(Object.assign(new AggregateError([Object.assign(new Error("a"), { code: "ECONNREFUSED" })]), {})));
  assert.not.ok(isConnectionError(Object.assign(new Error("invalid byte sequence"), { code: "22021" })));
  assert.not.ok(isConnectionError("ECONNREFUSED"));
});

test("during an outage writes wait and commit in order afterwards; submissions fail fast", async () => {
  const down = { value: true };
  const committed: string[] = [];
  const outages: Array<string | null> = [];
  const gc = committer(down, committed, outages);
  const w1 = gc.submit({ id: "w1" });
  const s1 = gc.submit({ id: "s1", submit: true });
  const w2 = gc.submit({ id: "w2" });
  const rejected = await s1.then(
    () => null,
    (e: unknown) => e,
  );
  assert.instance(rejected, UnavailableError);
  assert.match((rejected as Error).message, /database unavailable: connect ECONNREFUSED/);
  assert.ok(gc.unavailable);
  const s2 = await gc.submit({ id: "s2", submit: true }).then(
    () => null,
    (e: unknown) => e,
  );
  assert.instance(s2, UnavailableError, "a submission during a known outage is refused without queueing");
  assert.equal(committed, []);
  down.value = false;
  assert.equal(await Promise.all([w1, w2]), ["ok w1", "ok w2"]);
  assert.equal(committed, ["w1", "w2"]);
  assert.equal(outages, ["connect ECONNREFUSED 127.0.0.1:5432", null], "reported once when it starts, once when it ends");
  assert.not.ok(gc.unavailable);
  assert.is(await gc.submit({ id: "s3", submit: true }), "ok s3");
});

test("a statement error is not an outage: only its own job fails", async () => {
  const committed: string[] = [];
  const outages: Array<string | null> = [];
  const gc = committer({ value: false }, committed, outages);
  const results = await Promise.allSettled([gc.submit({ id: "a" }), gc.submit({ id: "bad" }), gc.submit({ id: "b" })]);
  assert.equal(
    results.map((r) => r.status),
    ["fulfilled", "rejected", "fulfilled"],
  );
  assert.equal(committed, ["a", "b"]);
  assert.equal(outages, []);
});

test("close() during an outage waits at most its bound, then rejects the waiting writes", async () => {
  let outageStarted!: () => void;
  const started = new Promise<void>((r) => (outageStarted = r));
  const gc = committer({ value: true }, [], [], () => outageStarted());
  const waiting = gc.submit({ id: "w" }).then(
    () => null,
    (e: unknown) => e,
  );
  await started;
  await gc.close(30);
  assert.instance(await waiting, UnavailableError);
});

test.run();
