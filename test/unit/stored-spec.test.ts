// The spec a row stores (src/store/stored-spec.ts): default-valued fields left out, filled back in
// when read, so what is read equals what was written, whatever the spec; optional fields keep
// every value they have (false and 0 included); a full spec stored before reads the same.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mulberry32, pick } from "../../src/core/random.js";
import type { TaskSpec } from "../../src/core/types.js";
import { specFromStored, storedSpec } from "../../src/store/stored-spec.js";
import { spec } from "../helpers/domain.js";

const roundTrip = (s: TaskSpec) => specFromStored(JSON.parse(JSON.stringify(storedSpec(s))));

test("a spec of defaults stores only what has no default, and reads back whole", () => {
  const s = spec({ name: "", command: ["true"] });
  assert.equal(storedSpec(s), { command: ["true"], resources: s.resources });
  assert.equal(roundTrip(s), s);
});

test("optional fields keep their values, false and 0 included; set fields are kept", () => {
  const s = spec({
    name: "n",
    project: "p",
    labels: { a: "b" },
    queueClass: "BATCH",
    priority: "HIGH",
    env: { X: "1" },
    workingDir: "/w",
    requiredTags: ["gpu"],
    preferredTags: ["ssd"],
    kind: "k",
    ioIntensity: 0.5,
    estimateMs: 10,
    deadlineMs: 99,
    timeoutMs: 5,
    maxRetries: 2,
    idempotencyKey: "key",
    preemptible: false,
    maxRequeues: 0,
    retryBackoffMs: 0,
    hold: true,
    after: ["t1"],
  });
  const stored = storedSpec(s);
  assert.equal(stored, s, "nothing is a default");
  assert.is(stored.preemptible, false);
  assert.is(stored.maxRequeues, 0);
  assert.equal(roundTrip(s), s);
});

test("every mix of default and set fields reads back equal (seeded)", () => {
  const rng = mulberry32(18);
  for (let i = 0; i < 500; i++) {
    const s = spec({
      name: pick(rng, ["", "job"]),
      project: pick(rng, ["", "team"]),
      labels: pick<Record<string, string>>(rng, [{}, { k: "v" }]),
      queueClass: pick(rng, ["DEFAULT", "LIVE", "BATCH"] as const),
      priority: pick(rng, ["NORMAL", "HIGH", "LOW"] as const),
      command: pick(rng, [[], ["a", "b"]]),
      env: pick<Record<string, string>>(rng, [{}, { A: "" }]),
      workingDir: pick(rng, ["", "/tmp"]),
      requiredTags: pick(rng, [[], ["x"]]),
      preferredTags: pick(rng, [[], ["y"]]),
      kind: pick(rng, ["", "render"]),
      ioIntensity: pick(rng, [0, 1]),
      estimateMs: pick(rng, [0, 1000]),
      deadlineMs: pick(rng, [null, 0, 5]),
      timeoutMs: pick(rng, [0, 7]),
      maxRetries: pick(rng, [0, 3]),
      idempotencyKey: pick(rng, ["", "idem"]),
      ...pick(rng, [{}, { preemptible: false }, { preemptGraceMs: 0, preemptSignal: "SIGINT" }]),
    });
    assert.equal(roundTrip(s), s);
  }
});

test("a row stored whole (before stored-spec.ts) reads the same; each read gets its own lists and maps", () => {
  const s = spec({ name: "old", kind: "" });
  assert.equal(specFromStored(JSON.parse(JSON.stringify(s))), s);
  const a = specFromStored({});
  const b = specFromStored({});
  a.labels.x = "1";
  a.command.push("x");
  assert.equal([b.labels, b.command], [{}, []]);
});

test.run();
