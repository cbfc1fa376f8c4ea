// `taskgrid tune`: the offline GA tuner (src/sim/tune). Evolves the six RTS weights on training
// seeds of the simulated hetero workload, evaluates them on held-out seeds, and writes the weights
// file atomically in the format the master hot-reloads (point --out at the master's --weights file
// to deploy without a restart).
//   taskgrid tune --workload hetero --generations N --population P --seed S --out FILE
//                 [--train-seeds 1..8] [--heldout-seeds 101..110] [--tasks N] [--workers N] [--json]
import { statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { HETERO_DEFAULTS } from "../../sim/workloads/hetero.js";
import { GA_DEFAULTS } from "../../sim/tune/ga.js";
import { formatTuneSummary, progressLine } from "../../sim/tune/summary.js";
import { overlappingSeeds, tune, tuneMetadata } from "../../sim/tune/tune.js";
import { writeWeightsFile } from "../../sim/tune/weights-output.js";
import { boolFlag, stringFlag } from "../args.js";
import { JSON_FLAG, printJson, type Command } from "../command.js";
import { parseInteger, parseNumber } from "../parse.js";
import { UsageError } from "../usage-error.js";

export const TUNE_DEFAULTS = { trainSeeds: "1..8", heldoutSeeds: "101..110", tasks: 3000, workers: HETERO_DEFAULTS.workers };
const MAX_SEEDS = 1000;

/** "1..8", "1,3,5" or a mix ("1..4,10") -> distinct seeds in the given order. */
export function parseSeedList(text: string, flag: string): number[] {
  const seeds: number[] = [];
  for (const part of text.split(",").map((s) => s.trim())) {
    const range = /^(\d+)\s*\.\.\s*(\d+)$/.exec(part);
    if (range) {
      const [lo, hi] = [Number(range[1]), Number(range[2])];
      if (hi < lo) throw new UsageError(`--${flag}: range "${part}" runs backwards (write LO..HI)`);
      if (hi - lo + 1 + seeds.length > MAX_SEEDS) throw new UsageError(`--${flag}: more than ${MAX_SEEDS} seeds`);
      for (let s = lo; s <= hi; s++) seeds.push(s);
    } else if (/^\d+$/.test(part)) seeds.push(Number(part));
    else throw new UsageError(`--${flag}: "${part}" is not a seed or a range (use e.g. 1..8 or 1,2,5)`);
  }
  if (seeds.some((s) => !Number.isSafeInteger(s) || s > 0xffffffff)) throw new UsageError(`--${flag}: seeds must be whole numbers 0..4294967295`);
  if (new Set(seeds).size !== seeds.length) throw new UsageError(`--${flag}: a seed is listed twice`);
  return seeds;
}

export const tuneCommand: Command = {
  name: "tune",
  summary: "Tune the RTS weights offline with a genetic algorithm over simulator runs",
  usage: "tune --out FILE [flags]",
  flags: {
    workload: { type: "string", value: "hetero", description: "simulated workload (default hetero)" },
    generations: { type: "string", value: "N", description: `GA generations after the initial population (default ${GA_DEFAULTS.generations})` },
    population: { type: "string", value: "P", description: `individuals per generation (default ${GA_DEFAULTS.populationSize})` },
    seed: { type: "string", value: "S", description: "seed of the GA's random choices (default 1)" },
    out: { type: "string", value: "FILE", description: "weights file to write atomically (e.g. the master's config/ga_output.json)" },
    "train-seeds": { type: "string", value: "LIST", description: `workload seeds the GA trains on (default ${TUNE_DEFAULTS.trainSeeds})` },
    "heldout-seeds": { type: "string", value: "LIST", description: `seeds for the final check, never trained on (default ${TUNE_DEFAULTS.heldoutSeeds})` },
    tasks: { type: "string", value: "N", description: `tasks per simulated run (default ${TUNE_DEFAULTS.tasks})` },
    workers: { type: "string", value: "N", description: `workers per simulated run (default ${TUNE_DEFAULTS.workers})` },
    load: { type: "string", value: "X", description: `offered load of the workload (default ${HETERO_DEFAULTS.load})` },
    elitism: { type: "string", value: "N", description: `best individuals kept unchanged per generation (default ${GA_DEFAULTS.elitism})` },
    ...JSON_FLAG,
  },
  notes:
    "Fitness (lower is better): mean over training seeds of the deadline-miss rate + 0.01 x p99 turnaround\n" +
    "relative to the default weights. The defaults are always in the initial population, so the result is\n" +
    "never worse than them on the training seeds; the held-out seeds show whether it generalises.\n" +
    "Progress goes to stderr, one line per generation.\n\nExamples:\n" +
    "  taskgrid tune --generations 10 --population 16 --seed 1 --out config/ga_output.json\n" +
    "  taskgrid tune --tasks 500 --workers 20 --generations 2 --population 6 --out /tmp/w.json --json\n",
  async run(args, io) {
    const json = boolFlag(args, "json");
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const workload = stringFlag(args, "workload") ?? "hetero";
    if (workload !== "hetero") throw new UsageError(`--workload: "${workload}" is not one of hetero`);
    const out = stringFlag(args, "out");
    if (out === undefined || out === "") throw new UsageError("--out FILE is required (the weights file to write, e.g. config/ga_output.json)");
    const dir = dirname(resolve(out));
    let isDir = false;
    try {
      isDir = statSync(dir).isDirectory();
    } catch {
      /* missing */
    }
    if (!isDir) throw new UsageError(`--out: directory ${dir} does not exist`);
    const int = (name: string, fallback: number, min: number, max?: number): number => {
      const t = stringFlag(args, name);
      return t === undefined ? fallback : parseInteger(t, name, min, max);
    };
    const population = int("population", GA_DEFAULTS.populationSize, 2, 10_000);
    const generations = int("generations", GA_DEFAULTS.generations, 0, 10_000);
    const elitism = int("elitism", GA_DEFAULTS.elitism, 0);
    if (elitism >= population) throw new UsageError(`--elitism: ${elitism} must be smaller than --population (${population})`);
    const gaSeed = int("seed", 1, 0, 0xffffffff);
    const tasks = int("tasks", TUNE_DEFAULTS.tasks, 1, 10_000_000);
    const workers = int("workers", TUNE_DEFAULTS.workers, 1, 1_000_000);
    const loadText = stringFlag(args, "load");
    const load = loadText === undefined ? undefined : parseNumber(loadText, "load", 0.01, 10);
    const trainSeeds = parseSeedList(stringFlag(args, "train-seeds") ?? TUNE_DEFAULTS.trainSeeds, "train-seeds");
    const heldoutSeeds = parseSeedList(stringFlag(args, "heldout-seeds") ?? TUNE_DEFAULTS.heldoutSeeds, "heldout-seeds");
    const overlap = overlappingSeeds(trainSeeds, heldoutSeeds);
    if (overlap.length > 0) throw new UsageError(`--heldout-seeds: ${overlap.join(", ")} also in --train-seeds (held-out seeds must never be trained on)`);

    const started = performance.now();
    const result = tune({
      workload: { tasks, workers, ...(load !== undefined ? { load } : {}) },
      trainSeeds,
      heldoutSeeds,
      gaSeed,
      ga: { populationSize: population, generations, elitism },
      onGeneration: (stats, sims) => io.err(progressLine(stats, generations, sims, (performance.now() - started) / 1000)),
    });
    const text = await writeWeightsFile(out, result.best, tuneMetadata(result, io.now()));
    if (json) printJson(io, { out, file: JSON.parse(text), result });
    else io.out(`${formatTuneSummary(result)}wrote ${out}\n`);
    return 0;
  },
};
