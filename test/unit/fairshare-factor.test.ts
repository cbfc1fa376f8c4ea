import { test } from "uvu";
import * as assert from "uvu/assert";
import { fairShareFactors } from "../../src/core/fairshare/factor.js";

const none = new Map<string, number>();

test("equal usage and equal shares: 0.5 each", () => {
  const f = fairShareFactors(
    ["a", "b"],
    new Map([
      ["a", 100],
      ["b", 100],
    ]),
    none,
  );
  assert.is(f.get("a"), 0.5);
  assert.is(f.get("b"), 0.5);
});

test("a project with no usage gets 1; nobody used anything: all 1", () => {
  const f = fairShareFactors(["a", "b"], new Map([["a", 100]]), none);
  assert.is(f.get("b"), 1);
  assert.is(f.get("a"), 0.25); // all the usage on half the shares: 2^-2
  const idle = fairShareFactors(["a", "b", "a"], none, none);
  assert.equal(
    [...idle],
    [
      ["a", 1],
      ["b", 1],
    ],
  );
});

test("doubling a project's shares raises its factor", () => {
  const usage = new Map([
    ["a", 100],
    ["b", 100],
  ]);
  const before = fairShareFactors(["a", "b"], usage, none).get("a")!;
  const after = fairShareFactors(["a", "b"], usage, new Map([["a", 2]])).get("a")!;
  assert.ok(after > before, `${after} > ${before}`);
});

test("a heavy user's factor falls, stays in (0, 1]", () => {
  const light = fairShareFactors(
    ["a", "b"],
    new Map([
      ["a", 10],
      ["b", 10],
    ]),
    none,
  ).get("a")!;
  const heavy = fairShareFactors(
    ["a", "b"],
    new Map([
      ["a", 1e6],
      ["b", 10],
    ]),
    none,
  );
  assert.ok(heavy.get("a")! < light);
  assert.ok(heavy.get("a")! > 0);
  assert.ok(heavy.get("b")! > heavy.get("a")! && heavy.get("b")! <= 1);
  const extreme = fairShareFactors(
    ["a", "b"],
    new Map([["a", 1]]),
    new Map([
      ["a", 1e-300],
      ["b", 1e300],
    ]),
  );
  assert.ok(extreme.get("a")! > 0);
});

test("shares must be > 0 and usage >= 0", () => {
  assert.throws(() => fairShareFactors(["a"], none, new Map([["a", 0]])), RangeError);
  assert.throws(() => fairShareFactors(["a"], none, new Map([["a", -1]])), RangeError);
  assert.throws(() => fairShareFactors(["a"], new Map([["a", Number.NaN]]), none), RangeError);
  assert.throws(() => fairShareFactors(["a"], new Map([["a", -3]]), none), RangeError);
});

test.run();
