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

test.run();
