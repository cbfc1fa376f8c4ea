// WeightsWatcher: initial load, hot reload through fs events and the mtime poll, every bad-file
// case keeping the last good weights (logged once per version), deletion and stop.
import { appendFile, unlink, writeFile } from "node:fs/promises";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { describeWeightsInfo, weightsVersion, WeightsWatcher } from "../../master/weights-watcher.js";
import { DEFAULT_WEIGHTS } from "../../src/core/rts/weights.js";
import { cleanUpWatchers, FILE1, FILE2, fakeClock, recordingLogger, replaceAtomically, setup, W1, W2 } from "../helpers/weights.js";

cleanUpWatchers(test);

// ---- start -------------------------------------------------------------------------------------

test("missing file at start: built-in defaults, and info says so", async () => {
  const { w, path, log } = await setup();
  await w.start();
  const s = w.current();
  assert.equal(s.weights, DEFAULT_WEIGHTS);
  assert.is(s.version, "defaults");
  assert.is(s.loadedAtMs, 1_000_000);
  const info = w.info();
  assert.equal(info, {
    path,
    version: "defaults",
    loadedAtMs: 1_000_000,
    source: "defaults",
    lastError: "",
    lastErrorAtMs: null,
    reloads: { success: 0, failure: 0 },
    metadata: {},
  });
  assert.is(describeWeightsInfo(info), `defaults (no file at ${path})`);
  assert.is(log.errors().length, 0);
  assert.ok(log.lines.some((l) => l.level === "info" && String(l.fields.detail).includes("no file at")));
});

test("a good file at start is loaded with its content-hash version and metadata", async () => {
  const { w, path, changes } = await setup({ initial: FILE1 });
  await w.start();
  const s = w.current();
  assert.equal(s.weights, W1);
  assert.is(s.version, weightsVersion(FILE1));
  assert.match(s.version, /^[0-9a-f]{12}$/);
  assert.equal(s.metadata, { generation: "1", fitness: "0.8", created_at: '"2025-01-01T00:00:00Z"' });
  const info = w.info();
  assert.is(info.source, "file");
  assert.is(info.version, s.version);
  assert.equal(info.reloads, { success: 1, failure: 0 });
  assert.is(describeWeightsInfo(info), `file ${path} version ${s.version}`);
  assert.is(changes.length, 0, "onChange is not called for the initial load");
  assert.ok(Object.isFrozen(s) && Object.isFrozen(s.weights) && Object.isFrozen(s.metadata));
});

test("a bad file at start: defaults with the error recorded; fixing the file loads it", async () => {
  const { w, path, log, waitFor } = await setup({ initial: '{"w_deadline":0.3,' });
  await w.start();
  assert.is(w.current().version, "defaults");
  assert.equal(w.current().weights, DEFAULT_WEIGHTS);
  const info = w.info();
  assert.is(info.source, "defaults");
  assert.match(info.lastError, /invalid JSON/);
  assert.ok(info.lastError.includes(path));
  assert.is(info.lastErrorAtMs, 1_000_000);
  assert.equal(info.reloads, { success: 0, failure: 1 });
  assert.match(describeWeightsInfo(info), /^defaults \(weights file .* rejected: invalid JSON/);
  await w.tick();
  await w.tick();
  assert.is(log.errors().length, 1);
  const loaded = waitFor(weightsVersion(FILE1));
  await replaceAtomically(path, FILE1);
  assert.equal((await loaded).weights, W1);
  assert.is(w.info().lastError, "");
  assert.is(w.info().lastErrorAtMs, null);
});

test("pollIntervalMs must be in (0, 5000]", () => {
  const base = { path: "/nonexistent/ga_output.json", log: recordingLogger(), clock: fakeClock() };
  assert.throws(() => new WeightsWatcher({ ...base, pollIntervalMs: 5001 }), /pollIntervalMs/);
  assert.throws(() => new WeightsWatcher({ ...base, pollIntervalMs: 0 }), /pollIntervalMs/);
  new WeightsWatcher({ ...base, pollIntervalMs: 5000 }).stop();
  // current() is never null, even before start().
  assert.is(new WeightsWatcher(base).current().version, "defaults");
});

// ---- reload ------------------------------------------------------------------------------------

test("replace by write-temp-and-rename: the new version is picked up (events + poll)", async () => {
  const { w, path, clock, waitFor, changes } = await setup({ initial: FILE1 });
  await w.start();
  clock.t += 500;
  const next = waitFor(weightsVersion(FILE2));
  await replaceAtomically(path, FILE2);
  const s = await next;
  assert.equal(s.weights, W2);
  assert.is(w.current(), s);
  assert.is(s.loadedAtMs, 1_000_500);
  assert.equal(s.metadata, { generation: "2" });
  assert.equal(w.info().reloads, { success: 2, failure: 0 });
  assert.equal(
    changes.map((c) => c.version),
    [weightsVersion(FILE2)],
  );
});

test("the directory watch alone picks up a rename (poll at its 5 s maximum)", async () => {
  const { w, path, waitFor } = await setup({ initial: FILE1, pollIntervalMs: 5000 });
  await w.start();
  const next = waitFor(weightsVersion(FILE2), 3000, "fs.watch on the directory");
  await replaceAtomically(path, FILE2);
  assert.equal((await next).weights, W2);
  // And again: the watch survives the rename (a watch on the file itself would not).
  const back = waitFor(weightsVersion(FILE1), 3000, "second rename");
  await replaceAtomically(path, FILE1);
  assert.equal((await back).weights, W1);
});

test("the poll alone (no fs events) picks up an in-place write and a rename", async () => {
  const { w, path, waitFor } = await setup({ initial: FILE1, fsEvents: false, pollIntervalMs: 20 });
  await w.start();
  const next = waitFor(weightsVersion(FILE2), 3000, "poll, in place");
  await writeFile(path, FILE2);
  assert.equal((await next).weights, W2);
  const back = waitFor(weightsVersion(FILE1), 3000, "poll, rename");
  await replaceAtomically(path, FILE1);
  assert.equal((await back).weights, W1);
});

test("same content rewritten: no reload, no onChange", async () => {
  const { w, path, changes } = await setup({ initial: FILE1 });
  await w.start();
  const before = w.current();
  await replaceAtomically(path, FILE1);
  await w.tick();
  assert.is(w.current(), before);
  assert.equal(w.info().reloads, { success: 1, failure: 0 });
  assert.is(changes.length, 0);
});

// ---- bad files ---------------------------------------------------------------------------------

const badFiles: Array<{ name: string; text: string; error: RegExp }> = [
  { name: "invalid JSON", text: "{w_deadline: 0.3}", error: /invalid JSON/ },
  { name: "truncated mid-write", text: FILE2.slice(0, Math.floor(FILE2.length / 2)), error: /invalid JSON/ },
  { name: "empty file", text: "", error: /invalid JSON: file is empty/ },
  { name: "not an object", text: "[0.35,0.2,0.25,0.1,0.05,0.05]", error: /not a JSON object/ },
  { name: "missing key", text: FILE2.replace(/\s*"w_load": [^,]*,/, ""), error: /missing key `w_load`/ },
  { name: "negative weight", text: FILE2.replace('"w_io": 0.1', '"w_io": -0.1'), error: /`w_io` is negative/ },
  { name: "NaN as a string", text: FILE2.replace('"w_success": 0.1', '"w_success": "NaN"'), error: /`w_success` is not a finite number/ },
  { name: "null weight", text: FILE2.replace('"w_penalty": 0.1', '"w_penalty": null'), error: /`w_penalty` is not a finite number \(got null\)/ },
  { name: "overflow to Infinity", text: FILE2.replace('"w_load": 0.3', '"w_load": 1e400'), error: /`w_load` is not a finite number/ },
  { name: "all zero", text: JSON.stringify({ w_deadline: 0, w_affinity: 0, w_load: 0, w_io: 0, w_success: 0, w_penalty: 0 }), error: /all weights are zero/ },
];

for (const bad of badFiles) {
  test(`bad file (${bad.name}) keeps the last good set, records the error, logs it once; restoring clears it`, async () => {
    const { w, path, log, clock, changes } = await setup({ initial: FILE1 });
    await w.start();
    const good = w.current();
    assert.is(bad.text !== FILE2, true, "the case really changes the file");
    clock.t += 1000;
    await replaceAtomically(path, bad.text);
    for (let i = 0; i < 5; i++) await w.tick(); // several checks of the same bad content
    assert.is(w.current(), good, "the bad file never takes effect");
    const info = w.info();
    assert.is(info.version, good.version);
    assert.is(info.source, "file");
    assert.match(info.lastError, bad.error);
    assert.ok(info.lastError.includes(path), "error names the path");
    assert.ok(info.lastError.includes(weightsVersion(bad.text)), "error names the rejected version");
    assert.is(info.lastErrorAtMs, 1_001_000);
    assert.equal(info.reloads, { success: 1, failure: 1 }, "counted once per content version");
    const errors = log.errors();
    assert.is(errors.length, 1, "logged once");
    assert.is(errors[0].fields.version, weightsVersion(bad.text));
    assert.is(errors[0].fields.keeping, good.version);
    assert.ok(describeWeightsInfo(info).includes("last good"));
    // Restore the original good content: the error is cleared, the set is unchanged.
    await replaceAtomically(path, FILE1);
    await w.tick();
    assert.is(w.current(), good);
    assert.is(w.info().lastError, "");
    assert.is(w.info().lastErrorAtMs, null);
    assert.is(changes.length, 0);
  });
}

test("two different bad versions are each logged and counted once", async () => {
  const { w, path, log } = await setup({ initial: FILE1 });
  await w.start();
  await replaceAtomically(path, "{");
  await w.tick();
  await w.tick();
  await replaceAtomically(path, "{}");
  await w.tick();
  await w.tick();
  assert.is(log.errors().length, 2);
  assert.equal(w.info().reloads, { success: 1, failure: 2 });
  assert.match(w.info().lastError, /missing key `w_deadline`/);
  // A good new file after bad ones loads and clears the error.
  await replaceAtomically(path, FILE2);
  await w.tick();
  assert.equal(w.current().weights, W2);
  assert.is(w.info().lastError, "");
  assert.equal(w.info().reloads, { success: 2, failure: 2 });
});

test("a partially written file is rejected, then loaded once complete", async () => {
  const { w, path } = await setup({ initial: FILE1, fsEvents: false, pollIntervalMs: 5000 });
  await w.start();
  const cut = FILE2.indexOf("0.3"); // in the middle of a number
  await writeFile(path, FILE2.slice(0, cut + 2)); // ..."w_affinity": 0.
  await w.tick();
  assert.equal(w.current().weights, W1);
  assert.match(w.info().lastError, /invalid JSON/);
  await appendFile(path, FILE2.slice(cut + 2));
  await w.tick();
  assert.equal(w.current().weights, W2);
  assert.is(w.current().version, weightsVersion(FILE2));
  assert.is(w.info().lastError, "");
});

test("file deleted after a good load: weights kept, error recorded once; a new file loads", async () => {
  const { w, path, log, waitFor } = await setup({ initial: FILE1 });
  await w.start();
  const good = w.current();
  await unlink(path);
  for (let i = 0; i < 4; i++) await w.tick();
  assert.is(w.current(), good);
  const info = w.info();
  assert.is(info.source, "file");
  assert.match(info.lastError, /is missing; keeping version [0-9a-f]{12}/);
  assert.ok(info.lastError.includes(path));
  assert.is(log.errors().length, 1, "recorded and logged once");
  assert.equal(info.reloads, { success: 1, failure: 0 });
  const next = waitFor(weightsVersion(FILE2));
  await replaceAtomically(path, FILE2);
  assert.equal((await next).weights, W2);
  assert.is(w.info().lastError, "");
  // Deleted and restored with the same content as the current set: just clears the error.
  await unlink(path);
  await w.tick();
  assert.match(w.info().lastError, /is missing/);
  await replaceAtomically(path, FILE2);
  await w.tick();
  assert.is(w.info().lastError, "");
  assert.equal(w.info().reloads, { success: 2, failure: 0 });
});

test("stop() closes the watch and the timer; later writes have no effect", async () => {
  const { w, path, changes } = await setup({ initial: FILE1, pollIntervalMs: 10 });
  await w.start();
  w.stop();
  w.stop(); // idempotent
  await replaceAtomically(path, FILE2);
  await w.tick();
  assert.equal(w.current().weights, W1);
  assert.is(changes.length, 0);
});

// ---- atomic swap under load --------------------------------------------------------------------

test.run();
