// `taskgrid tune` in-process: a tiny run writes a weights file the master's parser accepts, shows
// per-generation progress on stderr and the train/held-out summary (or JSON); bad flags are
// UsageErrors (exit 2) that name the flag, before any simulation runs.
import { type CliRun, runCli } from "../helpers/run-cli.js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSeedList } from "../../src/cli/commands/tune.js";
import { UsageError } from "../../src/cli/usage-error.js";
import { parseWeightsFile } from "../../src/core/rts/weights-file.js";

const dir = mkdtempSync(join(tmpdir(), "taskgrid-cli-tune-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function tuneCli(args: string[]): Promise<CliRun> {
  return runCli(["tune", ...args], {}, () => new Date("2025-06-01T12:00:00Z"));
}

const TINY = ["--tasks", "150", "--workers", "8", "--generations", "2", "--population", "4", "--train-seeds", "1..2", "--heldout-seeds", "9"];

test("a tiny tune writes a valid weights file with metadata, progress on stderr, a summary on stdout", async () => {
  const out = join(dir, "ga_output.json");
  const r = await tuneCli([...TINY, "--seed", "3", "--out", out]);
  assert.is(r.code, 0, r.err);
  assert.is(r.err.match(/^generation \d\/2 {2}best [\d.]+ {2}mean [\d.]+/gm)?.length, 3, r.err);
  assert.match(r.out, /^train \(seeds 1, 2\)$/m);
  assert.match(r.out, /^held-out \(seeds 9\)$/m);
  assert.match(r.out, /deadline-miss rate/);
  assert.match(r.out, new RegExp(`wrote ${out.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
  const text = readFileSync(out, "utf8");
  const parsed = parseWeightsFile(text);
  assert.ok(parsed.ok, text);
  if (!parsed.ok) return;
  for (const key of ["generation", "fitness", "train_score", "heldout_score", "defaults_heldout_score", "seeds", "created_at"])
    assert.ok(key in parsed.metadata, key);
  assert.is(parsed.metadata.created_at, '"2025-06-01T12:00:00.000Z"');
  assert.is(parsed.metadata.generation, "2");
  assert.equal(JSON.parse(parsed.metadata.seeds), { train: [1, 2], heldout: [9], ga: 3 });
  assert.equal(readdirSync(dir), ["ga_output.json"], "no temp file left");
});

test("--json prints the file and the full result; the same seed writes the same weights", async () => {
  const a = join(dir, "a.json");
  const b = join(dir, "b.json");
  const ra = await tuneCli([...TINY, "--out", a, "--json"]);
  assert.is(ra.code, 0, ra.err);
  const doc = JSON.parse(ra.out);
  assert.is(doc.out, a);
  assert.is(doc.file.w_deadline, doc.result.best.deadline);
  assert.ok(doc.result.train.tuned.score <= doc.result.train.baseline.score, "never worse than the defaults on training");
  assert.is(doc.result.generations.length, 3);
  const rb = await tuneCli([...TINY, "--out", b, "--json"]);
  assert.is(rb.code, 0, rb.err);
  assert.equal(JSON.parse(rb.out).result.best, doc.result.best);
});

test("bad flags: a clear usage error naming the flag, exit 2, nothing written", async () => {
  const out = join(dir, "bad.json");
  const cases: Array<[string[], RegExp]> = [
    [[...TINY], /--out FILE is required/],
    [["--out", join(dir, "missing-dir", "w.json")], /--out: directory .*missing-dir does not exist/],
    [["--out", out, "--workload", "swf"], /--workload: "swf" is not one of hetero/],
    [["--out", out, "--generations", "-1"], /--generations: -1 is out of range/],
    [["--out", out, "--population", "1"], /--population: 1 is out of range/],
    [["--out", out, "--population", "4", "--elitism", "4"], /--elitism: 4 must be smaller than --population/],
    [["--out", out, "--train-seeds", "1..4", "--heldout-seeds", "4..6"], /--heldout-seeds: 4 also in --train-seeds/],
    [["--out", out, "--train-seeds", "8..1"], /--train-seeds: range "8\.\.1" runs backwards/],
    [["--out", out, "--heldout-seeds", "a,b"], /--heldout-seeds: "a" is not a seed or a range/],
    [["--out", out, "--tasks", "many"], /--tasks: "many" is not a whole number/],
    [["--out", out, "extra"], /unexpected argument "extra"/],
  ];
  for (const [args, message] of cases) {
    const r = await tuneCli(args);
    assert.is(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, message);
    assert.match(r.err, /see 'taskgrid tune --help'/);
    assert.not.match(r.err, /^generation/m, "failed before simulating");
  }
  assert.not.ok(readdirSync(dir).includes("bad.json"));
});

test("seed lists: ranges, lists and mixes", () => {
  assert.equal(parseSeedList("1..4", "s"), [1, 2, 3, 4]);
  assert.equal(parseSeedList("7", "s"), [7]);
  assert.equal(parseSeedList("1..2, 10,12..13", "s"), [1, 2, 10, 12, 13]);
  assert.throws(
    () => parseSeedList("1,1", "s"),
    (e: unknown) => e instanceof UsageError && /listed twice/.test(e.message),
  );
  assert.throws(
    () => parseSeedList("", "s"),
    (e: unknown) => e instanceof UsageError,
  );
});

test("tune --help documents the flags and the fitness", async () => {
  const r = await tuneCli(["--help"]);
  assert.is(r.code, 0);
  for (const flag of ["--generations", "--population", "--seed", "--out", "--train-seeds", "--heldout-seeds", "--tasks", "--workers", "--json"])
    assert.ok(r.out.includes(flag), flag);
  assert.match(r.out, /deadline-miss rate/);
});

test.run();
