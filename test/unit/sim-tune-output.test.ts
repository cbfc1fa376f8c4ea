// The tuner's weights file: the master's parser (weights-file.ts) accepts it with its metadata, it
// is written atomically (no temp file left, also on failure), and a reader polling the file while
// it is rewritten never sees a partial file.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import { parseWeightsFile } from "../../src/core/rts/weights-file.js";
import { DEFAULT_WEIGHTS } from "../../src/core/rts/weights.js";
import { tune, tuneMetadata } from "../../src/sim/tune/tune.js";
import { writeFileAtomic, writeWeightsFile } from "../../src/sim/tune/weights-output.js";

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "taskgrid-tune-"));
  dirs.push(d);
  return d;
}
async function rejects(p: Promise<unknown>, pattern?: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (pattern) assert.match(String(e), pattern);
    return;
  }
  assert.unreachable("expected a rejection");
}

test.after(async () => void (await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))));

test("the written file parses with the master's parser, weights and metadata intact, no temp file left", async () => {
  const dir = await tempDir();
  const path = join(dir, "ga_output.json");
  const r = tune({ workload: { tasks: 120, workers: 6 }, trainSeeds: [1], heldoutSeeds: [2], gaSeed: 1, ga: { populationSize: 4, generations: 1 } });
  const createdAt = new Date("2025-03-04T05:06:07.000Z");
  await writeWeightsFile(path, r.best, tuneMetadata(r, createdAt));
  const parsed = parseWeightsFile(await readFile(path, "utf8"));
  assert.ok(parsed.ok, JSON.stringify(parsed));
  if (!parsed.ok) return;
  assert.equal(parsed.weights, r.best);
  const meta = Object.fromEntries(Object.entries(parsed.metadata).map(([k, v]) => [k, JSON.parse(v)]));
  assert.is(meta.generation, 1);
  assert.is(meta.fitness, Number(r.fitness.toFixed(6)));
  assert.is(meta.train_score, Number(r.train.tuned.score.toFixed(6)));
  assert.is(meta.heldout_score, Number(r.heldout.tuned.score.toFixed(6)));
  assert.is(meta.defaults_heldout_score, Number(r.heldout.baseline.score.toFixed(6)));
  assert.equal(meta.seeds, { train: [1], heldout: [2], ga: 1 });
  assert.is(meta.created_at, "2025-03-04T05:06:07.000Z");
  assert.equal(await readdir(dir), ["ga_output.json"]);
});

test("weights the master would reject are never written", async () => {
  const dir = await tempDir();
  const path = join(dir, "w.json");
  await rejects(writeWeightsFile(path, { ...DEFAULT_WEIGHTS, load: -0.1 }, {}), /negative/);
  await rejects(writeWeightsFile(path, { deadline: 0, affinity: 0, load: 0, io: 0, success: 0, penalty: 0 }, {}), /all weights are zero/);
  assert.equal(await readdir(dir), []);
});

test("a failed rename removes the temp file and leaves the target alone", async () => {
  const dir = await tempDir();
  const target = join(dir, "taken");
  await mkdir(target); // renaming a file over a directory fails
  await writeFile(join(target, "keep"), "x");
  await rejects(writeFileAtomic(target, "{}"));
  assert.equal(await readdir(dir), ["taken"]);
  assert.equal(await readdir(target), ["keep"]);
});

test("a reader polling the file while it is rewritten never sees a partial file", async () => {
  const dir = await tempDir();
  const path = join(dir, "ga_output.json");
  // Large files (about 256 KiB) so that a non-atomic write would be caught half-way.
  const text = (i: number) =>
    JSON.stringify({
      w_deadline: 0.35,
      w_affinity: 0.2,
      w_load: 0.25,
      w_io: 0.1,
      w_success: 0.05,
      w_penalty: 0.05,
      generation: i,
      pad: "x".repeat(256 * 1024),
    });
  await writeFileAtomic(path, text(0));
  let writing = true;
  let reads = 0;
  const seen = new Set<number>();
  const reader = (async () => {
    while (writing) {
      const parsed = parseWeightsFile(readFileSync(path, "utf8"));
      assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
      if (parsed.ok) seen.add(Number(parsed.metadata.generation));
      reads++;
      await nextTurn();
    }
  })();
  for (let i = 1; i <= 20; i++) await writeFileAtomic(path, text(i));
  writing = false;
  await reader;
  assert.ok(reads > 0);
  assert.ok(seen.size >= 1);
  assert.is(JSON.parse(await readFile(path, "utf8")).generation, 20);
  assert.equal(await readdir(dir), ["ga_output.json"]);
});

test.run();
