// The GA tuner's algorithm (src/sim/tune): determinism for a seed, elitism, operators keeping
// weights valid (>= 0, not all zero), and the simulator fitness never losing to the defaults on
// training. Synthetic fitness functions keep most of these fast; one tiny simulator run at the end.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mulberry32 } from "../../src/core/random.js";
import { weightsProblem } from "../../src/core/rts/weights-file.js";
import { DEFAULT_WEIGHTS } from "../../src/core/rts/weights.js";
import { GA_DEFAULTS, runGa, type GaRun } from "../../src/sim/tune/ga.js";
import { genomeFromWeights, genomeKey, normaliseGenome, weightsFromGenome, type Genome } from "../../src/sim/tune/genome.js";
import { blendCrossover, gaussianMutation, tournament, uniformCrossover } from "../../src/sim/tune/operators.js";
import { tune } from "../../src/sim/tune/tune.js";
import { simulate } from "../../src/sim/engine.js";
import { heteroWorkload } from "../../src/sim/workloads/hetero.js";

const TARGET: Genome = [0.1, 0.4, 0.05, 0.25, 0.15, 0.05];
/** Squared distance to a target on the simplex: a smooth landscape with a known optimum. */
const distance = (g: Genome): number => g.reduce((s, x, i) => s + (x - TARGET[i]) ** 2, 0);
const DEFAULTS = genomeFromWeights(DEFAULT_WEIGHTS);

function run(seed: number, overrides: Partial<GaRun> = {}) {
  return runGa({
    rng: mulberry32(seed),
    settings: { ...GA_DEFAULTS, populationSize: 12, generations: 15 },
    seeds: [DEFAULTS],
    fitness: distance,
    ...overrides,
  });
}

test("the same seed gives the same run; another seed a different one", () => {
  const a = run(7);
  const b = run(7);
  assert.equal(a.history, b.history);
  assert.equal(a.best, b.best);
  const c = run(8);
  assert.not.equal(
    c.history.map((h) => h.meanFitness),
    a.history.map((h) => h.meanFitness),
  );
});

test("elitism: the best fitness never gets worse and the best individual survives to the next generation", () => {
  const populations: string[][] = [];
  let evaluated: Genome[] = [];
  const r = run(3, {
    fitness: (g) => (evaluated.push(g), distance(g)),
    onGeneration: () => {
      populations.push(evaluated.map(genomeKey));
      evaluated = [];
    },
  });
  for (let i = 1; i < r.history.length; i++) {
    assert.ok(r.history[i].bestFitness <= r.history[i - 1].bestFitness, `generation ${i} got worse`);
    assert.ok(r.history[i].cacheHits >= GA_DEFAULTS.elitism, "elites are re-used from the cache, not re-simulated");
  }
  assert.ok(r.bestFitness < distance(DEFAULTS), "the GA improves on its seed");
  assert.ok(r.bestFitness < r.history[0].bestFitness);
  assert.is(r.history[r.history.length - 1].best, r.best);
});

test("generation 0 holds the seed exactly; the result is never worse than the seed", () => {
  let first: Genome | null = null;
  const r = run(5, { fitness: (g) => ((first ??= g), genomeKey(g) === genomeKey(DEFAULTS) ? 0 : 1 + distance(g)) });
  assert.equal(first, DEFAULTS);
  assert.equal(r.best, DEFAULTS, "an unbeatable seed stays the best");
  assert.is(r.foundInGeneration, 0);
});

test("every individual the GA evaluates is a valid weights file: >= 0, not all zero, sum 1", () => {
  const seen: Genome[] = [];
  // A landscape that pushes genes towards zero (and below): the worst case for validity.
  run(11, { fitness: (g) => (seen.push(g), -g[0]), settings: { ...GA_DEFAULTS, populationSize: 10, generations: 20, mutationSigma: 0.5 } });
  assert.ok(seen.length > 50);
  for (const g of seen.slice(1)) {
    assert.is(weightsProblem(weightsFromGenome(g)), null, genomeKey(g));
    assert.ok(Math.abs(g.reduce((a, b) => a + b, 0) - 1) < 1e-3, genomeKey(g));
  }
});

test("gaussian mutation keeps weights >= 0 and never all zero; normalise repairs anything", () => {
  const rng = mulberry32(99);
  for (let i = 0; i < 2000; i++) {
    const parent = normaliseGenome(
      Array.from({ length: 6 }, () => (rng() < 0.5 ? 0 : rng())),
      DEFAULTS,
    );
    const child = gaussianMutation(rng, parent, 0.5, 1);
    assert.ok(
      child.every((x) => x >= 0),
      `negative gene in ${child}`,
    );
    assert.ok(
      child.some((x) => x > 0),
      "all zero",
    );
    assert.is(child.length, 6);
  }
  assert.equal(normaliseGenome([0, 0, -1, Number.NaN, 0, 0], DEFAULTS), normaliseGenome(DEFAULTS));
  assert.is(weightsProblem(weightsFromGenome(normaliseGenome([-1, -2, 0, 0, 0, 0]))), null);
  assert.equal(normaliseGenome([2, 0, 0, 0, 0, 2]), [0.5, 0, 0, 0, 0, 0.5]);
});

test("crossover children lie within (blend: around) their parents; tournament prefers the fitter", () => {
  const rng = mulberry32(4);
  const a = [0.1, 0.2, 0.3, 0.1, 0.2, 0.1];
  const b = [0.3, 0.1, 0.1, 0.3, 0.1, 0.1];
  for (let i = 0; i < 200; i++) {
    const u = uniformCrossover(rng, a, b);
    u.forEach((x, j) => assert.ok(x === a[j] || x === b[j]));
    const bl = blendCrossover(rng, a, b, 0.3);
    bl.forEach((x, j) => {
      const d = Math.abs(a[j] - b[j]);
      assert.ok(x >= Math.min(a[j], b[j]) - 0.3 * d - 1e-12 && x <= Math.max(a[j], b[j]) + 0.3 * d + 1e-12);
    });
  }
  const pop = [
    { genome: a, fitness: 2 },
    { genome: b, fitness: 1 },
  ];
  assert.is(tournament(mulberry32(1), pop, 50).genome, b);
});

test("bad GA settings are rejected", () => {
  assert.throws(() => run(1, { settings: { ...GA_DEFAULTS, populationSize: 1 } }), /population/);
  assert.throws(() => run(1, { settings: { ...GA_DEFAULTS, elitism: 16 } }), /elitism/);
  assert.throws(() => run(1, { settings: { ...GA_DEFAULTS, mutationSigma: 0 } }), /mutationSigma/);
});

test("tune over the simulator: deterministic, never worse than the defaults on training, held-out evaluated", () => {
  const options = { workload: { tasks: 150, workers: 8 }, trainSeeds: [1, 2], heldoutSeeds: [3], gaSeed: 2, ga: { populationSize: 4, generations: 2 } };
  const a = tune(options);
  assert.ok(a.train.tuned.score <= a.train.baseline.score);
  assert.is(a.fitness, a.train.tuned.score);
  assert.equal(a.baseline, DEFAULT_WEIGHTS);
  assert.is(a.heldout.tuned.seeds.join(), "3");
  assert.is(a.generations.length, 3);
  assert.is(weightsProblem(a.best), null);
  const b = tune(options);
  assert.equal(b.best, a.best);
  assert.equal(b.heldout, a.heldout);
  assert.throws(() => tune({ ...options, heldoutSeeds: [2, 5] }), /held-out seeds must not be training seeds/);
});

test("a workload can be reused across runs (the objective generates each seed's workload once)", () => {
  const w = heteroWorkload({ seed: 4, tasks: 300, workers: 10 });
  const once = simulate(w, { placement: "rts", seed: 4 }).metrics;
  assert.equal(simulate(w, { placement: "rts", seed: 4 }).metrics, once);
  assert.equal(simulate(heteroWorkload({ seed: 4, tasks: 300, workers: 10 }), { placement: "rts", seed: 4 }).metrics, once);
});

test.run();
