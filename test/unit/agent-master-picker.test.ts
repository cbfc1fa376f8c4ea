// The agent's choice of master (agent/master-picker.ts): round robin with growing backoff on
// failures, prompt following of a new leader hint, backoff for a hint loop, resets on registration.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Backoff } from "../../agent/backoff.js";
import { MasterPicker, STANDBY_RETRIES } from "../../agent/master-picker.js";

/** Delays are the backoff's ceiling minus one (random just under 1): 9, 19, 39, ... */
const picker = (addresses: string[]) => new MasterPicker(addresses, new Backoff({ baseMs: 10, capMs: 1_000, random: () => 0.999999 }), 5);

test("failures go round robin through the list, with the growing backoff", () => {
  const p = picker(["a:1", "b:1", "c:1"]);
  assert.is(p.current, "a:1");
  const steps = [p.afterClose(), p.afterClose(), p.afterClose(), p.afterClose()];
  assert.equal(
    steps.map((s) => [s.address, s.delayMs]),
    [
      ["b:1", 9],
      ["c:1", 19],
      ["a:1", 39],
      ["b:1", 79],
    ],
  );
  assert.is(p.current, "b:1");
  assert.is(steps[0].why, "next master address");
  const single = picker(["only:1"]);
  assert.equal([single.afterClose().address, single.afterClose().address], ["only:1", "only:1"]);
});

test("a new leader hint is followed promptly; a failure there continues round robin", () => {
  const p = picker(["a:1", "b:1", "c:1"]);
  const hinted = p.afterClose("leader:9");
  assert.equal([hinted.address, hinted.delayMs, hinted.why], ["leader:9", 5, "leader hint"]);
  assert.is(p.current, "leader:9");
  // The hinted leader is not listed: round robin goes on after the standby that named it.
  assert.is(p.afterClose().address, "b:1");
  // A listed leader: round robin goes on after it.
  assert.is(p.afterClose("a:1").address, "a:1");
  assert.is(p.afterClose().address, "b:1");
});

test("a hint loop falls back to the growing backoff until a registration", () => {
  const p = picker(["s1:1", "s2:1"]);
  const steps = [p.afterClose("s2:1"), p.afterClose("s1:1"), p.afterClose("s2:1"), p.afterClose("s1:1"), p.afterClose("s2:1")];
  assert.equal(
    steps.map((s) => [s.address, s.delayMs]),
    [
      ["s2:1", 5],
      ["s1:1", 5],
      ["s2:1", 9],
      ["s1:1", 19],
      ["s2:1", 39],
    ],
  );
  assert.match(steps[2].why, /hint loop/);
  // A hint to a leader not seen before (elected meanwhile) is prompt again.
  assert.equal(p.afterClose("new:1").delayMs, 5);
  // A dead hinted leader: its failures use the backoff too, and its second hint is a loop.
  assert.is(p.afterClose().delayMs, 79);
  assert.is(p.afterClose("new:1").delayMs, 159);

  p.registered();
  assert.equal([p.afterClose("new:1").delayMs, p.afterClose().delayMs], [5, 9], "hints and backoff start afresh");
});

test("needs at least one address", () => {
  assert.throws(() => picker([]), /at least one address/);
});

test("a standby without a leader is asked again after the short delay, a bounded number of times; registration resets the count", () => {
  const p = picker(["dead:1", "standby:1"]);
  p.afterClose(); // the leader died: on to the standby
  const quick = Array.from({ length: STANDBY_RETRIES }, () => p.afterClose(undefined, true));
  assert.ok(
    quick.every((s) => s.address === "standby:1" && s.delayMs === 5),
    "the same standby, promptly",
  );
  const after = p.afterClose(undefined, true);
  assert.is(after.address, "dead:1", "then round robin again");
  assert.ok(after.delayMs > 5, "with the growing backoff");
  p.registered();
  assert.equal([p.afterClose(undefined, true).address, p.afterClose(undefined, true).delayMs], ["dead:1", 5]);
});

test("a hint naming the master that went silent is stale: the standby is asked again until it leads, within STANDBY_RETRIES", () => {
  const p = picker(["leader:1", "standby:1"]);
  p.wentSilent(); // the leader stopped answering heartbeats
  assert.is(p.afterClose().address, "standby:1");
  // The standby still sees the silent leader's lease and names it.
  for (let i = 0; i < STANDBY_RETRIES; i++) {
    const next = p.afterClose("leader:1");
    assert.equal([next.address, next.delayMs], ["standby:1", 5]);
    assert.match(next.why, /went silent/);
  }
  // Past the budget (a leader that is alive, only cut off from this agent) the hint is followed.
  assert.is(p.afterClose("leader:1").address, "leader:1");
  // Registering anywhere forgets the silent master: its hints are followed at once again.
  p.registered();
  assert.is(p.afterClose("standby:1").address, "standby:1");
  const followed = p.afterClose("leader:1");
  assert.equal([followed.address, followed.why], ["leader:1", "leader hint"]);
});

test("a master that never answered `register` counts as silent too; a hint to another master is followed at once", () => {
  const p = picker(["a:1", "b:1", "c:1"]);
  p.wentSilent();
  assert.is(p.afterClose().address, "b:1");
  assert.is(p.afterClose("c:1").address, "c:1", "a new leader: not the silent one");
  assert.is(p.afterClose("a:1").address, "c:1", "the silent one, named by c: ask c again");
});

test.run();
