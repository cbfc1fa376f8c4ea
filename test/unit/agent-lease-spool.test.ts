// The agent's lease on its attempts (renewed from the *send* time of answered heartbeats) and the
// on-disk spool of unacknowledged `finished` reports.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AttemptLease } from "../../agent/attempt-lease.js";
import { FinishedSpool, spooledAttemptIds } from "../../agent/finished-spool.js";
import { AgentMessage } from "../../src/gen/taskgrid/v1/worker_service.js";
import { finishedMessage } from "../../agent/agent-messages.js";
import { cleanUpExecutors, tempDir } from "../helpers/executor-harness.js";

test("lease: none before it is granted or when the master grants 0", () => {
  const lease = new AttemptLease();
  assert.not.ok(lease.expired(1e12));
  lease.grant(0, 0, 0);
  assert.not.ok(lease.expired(1e12));
  assert.is(lease.expiresAt, null);
});

test("lease: runs leaseMs from the send time of the latest answered heartbeat", () => {
  const lease = new AttemptLease();
  lease.grant(1000, 500, 100); // register sent at 100
  assert.is(lease.expiresAt, 1100);
  lease.heartbeatSent(1, 400);
  lease.heartbeatSent(2, 700);
  assert.not.ok(lease.expired(1099));
  assert.ok(lease.expired(1100), "unanswered heartbeats renew nothing");
  lease.heartbeatAnswered(2); // answering 2 also settles 1
  assert.is(lease.expiresAt, 1700);
  lease.heartbeatAnswered(1); // late answer of an older heartbeat: never moves the lease back
  assert.is(lease.expiresAt, 1700);
  assert.is(lease.graceMs, 500);
});

/** A state dir of its own, removed after the test. */
const spoolDir = () => tempDir("taskgrid-spool-");
test.after.each(cleanUpExecutors);

function finished(attemptId: string, seq: number) {
  const result = { outcome: 1, exitCode: 0, signal: "", outputTail: "out\n", durationMs: 3, message: "" };
  return { ...finishedMessage(attemptId, result, new Date(5000)), seq };
}

test("spool: saves, lists and removes finished reports across agent processes", () => {
  const dir = spoolDir();
  const spool = new FinishedSpool(dir);
  const message = finished("att/1", 9);
  spool.save({ attemptId: "att/1", taskId: "t1", startedAt: new Date(4000), message });
  spool.save({ attemptId: "att/2", taskId: "t2", startedAt: new Date(4100), message: finished("att/2", 10) });
  spool.remove("att/2");
  spool.close();
  assert.equal(spooledAttemptIds(dir), ["att/1"]);
  const next = new FinishedSpool(dir);
  const loaded = next.loadAll();
  assert.is(loaded.length, 1);
  assert.is(loaded[0].attemptId, "att/1");
  assert.is(loaded[0].taskId, "t1");
  assert.is(loaded[0].startedAt.getTime(), 4000);
  assert.equal(loaded[0].message, message);
  next.remove("att/1");
  next.close();
  assert.equal(new FinishedSpool(dir).loadAll(), []);
  assert.equal(new FinishedSpool(null).loadAll(), [], "no state dir: the spool is off");
});

test("spool: a torn line (a crash mid-write) is skipped and the lines after it are kept", () => {
  const dir = spoolDir();
  const spool = new FinishedSpool(dir);
  spool.save({ attemptId: "a1", taskId: "t1", startedAt: new Date(1), message: finished("a1", 1) });
  spool.close();
  appendFileSync(join(dir, "finished", "journal"), '\n{"attemptId":"a2","taskId":"t2","start'); // the write cut short
  const after = new FinishedSpool(dir);
  after.save({ attemptId: "a3", taskId: "t3", startedAt: new Date(3), message: finished("a3", 3) });
  after.close();
  assert.equal(spooledAttemptIds(dir), ["a1", "a3"]);
  assert.equal(
    new FinishedSpool(dir).loadAll().map((s) => s.attemptId),
    ["a1", "a3"],
  );
});

test("spool: files of an agent before the journal are taken over, unreadable and temp files removed", () => {
  const dir = spoolDir();
  new FinishedSpool(dir).close();
  const old = { attemptId: "att/0", taskId: "t0", startedAtMs: 7, message: AgentMessage.toJSON(finished("att/0", 4)) };
  writeFileSync(join(dir, "finished", "att_0.json"), JSON.stringify(old));
  writeFileSync(join(dir, "finished", "torn.json.tmp"), "{");
  writeFileSync(join(dir, "finished", "bad.json"), "not json");
  const spool = new FinishedSpool(dir);
  assert.equal(
    spool.loadAll().map((s) => [s.attemptId, s.taskId, s.startedAt.getTime()]),
    [["att/0", "t0", 7]],
  );
  assert.equal(readdirSync(join(dir, "finished")), ["journal"], "taken into the journal, the old files removed");
  spool.close();
  assert.equal(spooledAttemptIds(dir), ["att/0"]);
});

test("spool: the journal is rewritten once acks make up most of it, keeping what is owed", () => {
  const dir = spoolDir();
  const spool = new FinishedSpool(dir);
  const journal = join(dir, "finished", "journal");
  spool.save({ attemptId: "kept", taskId: "t", startedAt: new Date(1), message: finished("kept", 1) });
  let largest = 0;
  for (let i = 0; i < 3_000; i++) {
    spool.save({ attemptId: `a${i}`, taskId: "t", startedAt: new Date(1), message: finished(`a${i}`, i + 2) });
    spool.remove(`a${i}`);
    largest = Math.max(largest, statSync(journal).size);
  }
  const lines = readFileSync(journal, "utf8")
    .split("\n")
    .filter((l) => l !== "").length;
  assert.ok(lines < 2_100, `${lines} lines after 3,000 saves and acks`);
  assert.ok(largest < 2_100 * 400, `the journal stayed bounded (${largest} bytes at most)`);
  spool.close();
  assert.equal(spooledAttemptIds(dir), ["kept"]);
});

test.run();
