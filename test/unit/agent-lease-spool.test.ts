// The agent's lease on its attempts (renewed from the *send* time of answered heartbeats) and the
// on-disk spool of unacknowledged `finished` reports.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AttemptLease } from "../../agent/attempt-lease.js";
import { FinishedSpool } from "../../agent/finished-spool.js";
import { finishedMessage } from "../../agent/agent-messages.js";

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

test("spool: saves, lists and removes finished reports; skips torn and foreign files", () => {
  const dir = mkdtempSync(join(tmpdir(), "taskgrid-spool-"));
  try {
    const spool = new FinishedSpool(dir);
    const result = { outcome: 1, exitCode: 0, signal: "", outputTail: "out\n", durationMs: 3, message: "" };
    const message = { ...finishedMessage("att/1", result, new Date(5000)), seq: 9 };
    spool.save({ attemptId: "att/1", taskId: "t1", startedAt: new Date(4000), message });
    writeFileSync(join(dir, "finished", "torn.json.tmp"), "{");
    writeFileSync(join(dir, "finished", "bad.json"), "not json");
    const loaded = new FinishedSpool(dir).loadAll();
    assert.is(loaded.length, 1);
    assert.is(loaded[0].attemptId, "att/1");
    assert.is(loaded[0].taskId, "t1");
    assert.is(loaded[0].startedAt.getTime(), 4000);
    assert.equal(loaded[0].message.body, message.body);
    assert.equal(readdirSync(join(dir, "finished")), ["att_1.json"], "the torn and unreadable files were removed");
    spool.remove("att/1");
    assert.equal(new FinishedSpool(dir).loadAll(), []);
    assert.equal(new FinishedSpool(null).loadAll(), [], "no state dir: the spool is off");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
