// The weights swap is atomic: while the file is replaced again and again, every decision sees
// exactly one written version, never a mix.
import { appendFile, writeFile } from "node:fs/promises";
import { setImmediate as nextTurn } from "node:timers/promises";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { weightsVersion } from "../../master/weights-watcher.js";
import { formatWeightsFile } from "../../src/core/rts/weights-file.js";
import type { Weights } from "../../src/core/rts/weights.js";
import { cleanUpWatchers, replaceAtomically, setup } from "../helpers/weights.js";

cleanUpWatchers(test);

test("1,000 decisions while the file is replaced repeatedly: every observed set is exactly one written version", async () => {
  const weightsFor = (i: number): Weights => ({
    deadline: 0.3 + i / 1000,
    affinity: 0.2 + i / 2000,
    load: 0.25 - i / 4000,
    io: 0.1 + i / 8000,
    success: 0.05 + i / 16000,
    penalty: 0.05 + i / 32000,
  });
  const written = new Map<string, { i: number; weights: Weights }>();
  const fileFor = (i: number) => {
    const text = formatWeightsFile(weightsFor(i), { generation: String(i) });
    written.set(weightsVersion(text), { i, weights: weightsFor(i) });
    return text;
  };
  const { w, path } = await setup({ initial: fileFor(0), pollIntervalMs: 5 });
  await w.start();

  // The writer replaces the file 25 times while the decisions run: each write is started and
  // left running across the next 40 decisions (with fs events and the 5 ms poll racing it).
  let writes = 0;
  const writeNext = async () => {
    const i = writes + 1;
    const text = fileFor(i);
    if (i % 3 === 0) {
      // Non-atomic in-place write in two chunks: the watcher may see the half-written file.
      const cut = Math.floor(text.length / 2);
      await writeFile(path, text.slice(0, cut));
      await nextTurn();
      await appendFile(path, text.slice(cut));
    } else {
      await replaceAtomically(path, text);
    }
    writes = i;
    if (i % 2 === 0) await w.tick(); // every other version is surely loaded before the next write
  };

  const observed = new Map<string, number>();
  let lastI = -1;
  let regressions = 0;
  let writing: Promise<void> = Promise.resolve();
  for (let d = 0; d < 1000; d++) {
    if (d % 40 === 0) {
      await writing;
      writing = writeNext();
    }
    const set = w.current(); // a decision captures the set once
    const deadline = set.weights.deadline;
    await nextTurn(); // other work (and reloads) interleave mid-decision
    const penalty = set.weights.penalty;
    const expected = written.get(set.version);
    assert.ok(expected, `decision ${d} saw unknown version ${set.version}`);
    assert.equal(set.weights, expected!.weights, `decision ${d}: weights match version ${set.version}`);
    assert.is(set.metadata.generation, String(expected!.i));
    assert.is(deadline, expected!.weights.deadline);
    assert.is(penalty, expected!.weights.penalty);
    observed.set(set.version, (observed.get(set.version) ?? 0) + 1);
    if (expected!.i < lastI) regressions++;
    lastI = expected!.i;
  }
  await writing;
  await w.tick();
  const final = written.get(w.current().version);
  assert.ok(final);
  assert.is(final!.i, writes, "ends on the last complete file");
  assert.is(regressions, 0, "versions only move forward");
  assert.ok(observed.size >= 12, `decisions saw ${observed.size} versions over ${writes} writes`);
  assert.is(
    [...observed.values()].reduce((a, b) => a + b, 0),
    1000,
  );
});

test.run();
