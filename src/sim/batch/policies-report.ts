// `npm run sim:policies`: writes docs/results/policies.md, the policy lab's table. Mean bounded
// slowdown under the RLScheduler protocol (rlscheduler.ts) for every shipped order x backfill x
// estimate-correction combination on Lublin-1, Lublin-2 and KTH-SP2, beside the published cells,
// against issue 16's targets. The best cell of a grid is chosen on the very sequences it reports,
// so it is optimistic; two honest figures choose on data disjoint from them: the grid's pick on
// training data (KTH-SP2: other windows of the same log; Lublin: the sibling trace, another draw
// of the model), and TUNED, one policy for all three traces (saf-aged + K=16 + estimate
// correction) chosen by tune-policy.ts's genetic search on training windows sharing no job with
// any reported sequence. SEED2, the other GA seed's near-tie, is shown as not held-out.
import { TRACES_DIR } from "../data-dirs.js";
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseSwf, type SwfTrace } from "../workloads/swf.js";
import { best, type Cell, disjointWindows, GRID_BACKFILLS, GRID_ORDERS, type Policy, policyName, runGrid, sameAs } from "./policy-grid.js";
import { loadJobs, runProtocol } from "./rlscheduler.js";
import { protocolStarts } from "./starts.js";
import { trainingStarts } from "./tune-policy.js";
import { familyName, SAF_AGED_SEED2 } from "./orders.js";

export const TRACES = { "Lublin-1": "lublin_256.swf", "Lublin-2": "lublin_256_new2.swf", "KTH-SP2": "KTH-SP2-1996-2.1-cln.swf" } as const;
type TraceName = keyof typeof TRACES;
/** Issue 16: the best published or classic result on each trace, beaten by at least 15%. */
export const TARGETS: Record<TraceName, number> = { "Lublin-1": 30.0, "Lublin-2": 70.2, "KTH-SP2": 41.0 };
/** ../shared/traces/README.md (SC'20 Tables V/VI): FCFS, WFP3, UNICEP, SJF, F1, RL. */
const PUBLISHED_COLUMNS = ["FCFS", "WFP3", "UNICEP", "SJF", "F1", "RL"];
const PUBLISHED: Partial<Record<TraceName, Record<string, number[]>>> = {
  "Lublin-1": { "no backfilling": [7273.77, 19753.53, 22274.74, 277.35, 258.37, 254.67], "their backfilling": [235.82, 133.87, 307.23, 73.31, 75.07, 58.64] },
  "Lublin-2": { "no backfilling": [7842.47, 9523.18, 11265.31, 787.89, 698.34, 724.51], "their backfilling": [247.61, 318.35, 379.59, 91.99, 148.25, 118.79] },
};
/** The one policy chosen on training windows only (tune-policy.ts; orders.ts SAF_AGED). */
export const TUNED: Policy = { order: "saf-aged", backfill: "K=16", estimateCorrection: true };
/** The GA's other seed's best (orders.ts SAF_AGED_SEED2): seen on the reported sequences, so not held-out. */
export const SEED2: Policy = { order: familyName(SAF_AGED_SEED2), backfill: "conservative", estimateCorrection: true };
const SIBLING: Partial<Record<TraceName, TraceName>> = { "Lublin-1": "Lublin-2", "Lublin-2": "Lublin-1" };

interface TraceReport {
  name: TraceName;
  cells: Cell[];
  picked: Cell;
  pickedOn: string;
  /** TUNED and SEED2 on the reported sequences and on the training windows. */
  tuned: Cell;
  tunedTraining: number;
  seed2: Cell;
  seed2Training: number;
  trainingStarts: number[];
}

export function policyLab(dir: string): TraceReport[] {
  const traces = new Map<TraceName, SwfTrace>();
  for (const [name, file] of Object.entries(TRACES)) traces.set(name as TraceName, parseSwf(readFileSync(`${dir}/${file}`, "utf8")));
  const grids = new Map<TraceName, Cell[]>();
  for (const [name, trace] of traces) grids.set(name, runGrid(trace));
  return [...traces].map(([name, trace]) => {
    const cells = grids.get(name)!;
    const sibling = SIBLING[name];
    let training: Cell[];
    let pickedOn: string;
    if (sibling !== undefined) {
      training = grids.get(sibling)!;
      pickedOn = `${sibling}'s protocol sequences`;
    } else {
      const n = loadJobs(trace).jobs.length;
      const windows = disjointWindows(n, protocolStarts(n));
      training = runGrid(trace, windows);
      pickedOn = `${windows.length} windows of ${name} sharing no job with the reported ones (starts ${windows.join(", ")})`;
    }
    const starts = trainingStarts(name, loadJobs(trace).jobs.length);
    const run = (p: Policy, at?: number[]): number =>
      runProtocol(trace, p.order, p.backfill, { starts: at, wait: "true", estimateCorrection: p.estimateCorrection }).avgBoundedSlowdown;
    const tuned = { ...TUNED, bsld: run(TUNED) };
    const tunedTraining = run(TUNED, starts);
    const seed2 = { ...SEED2, bsld: run(SEED2) };
    const seed2Training = run(SEED2, starts);
    return { name, cells, picked: cells.find(sameAs(best(training)))!, pickedOn, tuned, tunedTraining, seed2, seed2Training, trainingStarts: starts };
  });
}

const mark = (x: number, target: number): string => `${x.toFixed(2)}${x <= target ? " ✓" : ""}`;

export function formatPolicies(reports: readonly TraceReport[]): string {
  const out: string[] = [
    "# Policy lab: classic EASY, conservative, K reservations, relaxed backfill, SAF/LXF, estimate correction",
    "",
    "Produced by `npm run sim:policies` (src/sim/batch/policies-report.ts); do not edit by hand. Mean over the protocol's 10 sequences of 1,024 jobs of each sequence's mean bounded slowdown, under the RLScheduler protocol of ../shared/traces/README.md (loader, sequences, metric; the scheduling loop is the policy under test). Sequence starts: Lublin 1981, 2756, 4299, 8850, 3316, 2714, 5228, 7762, 4022, 7085; KTH-SP2 10173, 25552, 19140, 8850, 11508, 2714, 13420, 12214, 7085, 10446.",
    "",
    "Policies see only what the protocol allows: users' requested times (on Lublin the protocol's loader sets the request to the run time, so estimates are exact there and estimate correction learns a ratio of 1) and, with estimate correction, per-user actual/requested ratios of jobs that have already finished (mean of the user's last two, never above the request). Backfills: `none`, `rlscheduler` (their simplified rule) and `committed-head` (EASY's test while the head is committed; called `easy` before this table) use their committed-head loop; `easy` (classic, 1 reservation), `K=4`, `conservative` (every waiting job reserved), `relaxed` (1 reservation that may slip by 0.1 x its job's wait so far) and `relaxed=0.5` re-plan at every event (src/sim/batch/replan.ts). WFP3/UNICEP use the true waiting time w = now - submit (the policies as defined; their published cells use w = -1 - submit, see validation.md); LXF always does. `saf-aged` is SAF with an aging term, est^a x procs^b / (w + c)^d lowest first with a = 1.11, b = 1.05, c = 22,400 s, d = 0.415 (src/sim/batch/orders.ts SAF_AGED), found by a genetic search on training windows only (src/sim/batch/tune-policy.ts). `+ec`: with estimate correction. ✓: at or below the trace's target.",
    "",
    "Targets (issue 16: the best published or classic result beaten by at least 15%): " +
      Object.entries(TARGETS)
        .map(([t, v]) => `${t} <= ${v.toFixed(1)}`)
        .join(", ") +
      ".",
    "",
    "## Summary",
    "",
    `One policy for all three traces, chosen on training data only: **${policyName(TUNED)}**. src/sim/batch/tune-policy.ts ran a genetic search (seeds 1 and 2, 30 genomes x 15 generations) over the multifactor order's exponents est^a x procs^b / (w + c)^d, the number of reservations K, the relaxed factor and estimate correction, scoring each genome on training windows that share no job with any reported sequence (starts below); the genome with the best training fitness over both seeds, rounded, is SAF_AGED with K=16. Its reported column is the honest figure.`,
    "",
    "| trace | target | tuned policy, training windows (starts) | tuned policy, reported sequences (honest) | met | seed 2's near-tie, training | seed 2's near-tie, reported (NOT held-out) | met |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of reports) {
    const t = TARGETS[r.name];
    const yes = (x: number): string => (x <= t ? "yes" : "NO");
    out.push(
      `| ${r.name} | ${t.toFixed(1)} | ${r.tunedTraining.toFixed(2)} (${r.trainingStarts.join(", ")}) | ${r.tuned.bsld.toFixed(2)} | ${yes(r.tuned.bsld)} | ${r.seed2Training.toFixed(2)} | ${r.seed2.bsld.toFixed(2)} | ${yes(r.seed2.bsld)} |`,
    );
  }
  out.push(
    "",
    `Seed 2's best genome (${policyName(SEED2)}) scored within 0.4% of seed 1's on the training fitness (rounded, slightly better), a tie; by mistake it was run on the reported sequences before seed 1's, as if it were the pick. Its column is therefore a second look at the reported sequences, not a held-out figure: that two genomes the training data cannot tell apart differ this much on the reported Lublin-1 sequences is the measure of how little the honest figure can be trusted to a few units.`,
  );
  out.push(
    "",
    "The grid's own minimum and the grid's pick on training data (the pick reads whole grids, so it may differ from the tuned policy):",
    "",
    "| trace | target | best cell of the grid (chosen on the reported sequences: optimistic) | met | grid's pick on training data, reported sequences | met | picked on |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const r of reports) {
    const t = TARGETS[r.name];
    const b = best(r.cells);
    out.push(
      `| ${r.name} | ${t.toFixed(1)} | ${b.bsld.toFixed(2)} (${policyName(b)}) | ${b.bsld <= t ? "yes" : "NO"} | ${r.picked.bsld.toFixed(2)} (${policyName(r.picked)}) | ${r.picked.bsld <= t ? "yes" : "NO"} | ${r.pickedOn} |`,
    );
  }
  for (const r of reports) {
    const t = TARGETS[r.name];
    out.push("", `## ${r.name} (target <= ${t.toFixed(1)})`, "");
    const pub = PUBLISHED[r.name];
    if (pub === undefined) out.push("No published RLScheduler cells for this trace in ../shared/traces/README.md.", "");
    else {
      out.push(`| published (SC'20) | ${PUBLISHED_COLUMNS.join(" | ")} |`, `| --- |${" --- |".repeat(PUBLISHED_COLUMNS.length)}`);
      for (const [row, xs] of Object.entries(pub)) out.push(`| ${row} | ${xs.map((x) => mark(x, t)).join(" | ")} |`);
      out.push("");
    }
    out.push(`| backfill | ${GRID_ORDERS.join(" | ")} |`, `| --- |${" --- |".repeat(GRID_ORDERS.length)}`);
    for (const backfill of GRID_BACKFILLS)
      for (const ec of [false, true]) {
        const row = r.cells.filter((c) => c.backfill === backfill && c.estimateCorrection === ec);
        if (row.length === 0) continue;
        const cells = GRID_ORDERS.map((o) => mark(row.find((c) => c.order === o)!.bsld, t));
        out.push(`| ${backfill}${ec ? " +ec" : ""} | ${cells.join(" | ")} |`);
      }
  }
  out.push("", ...NOTES);
  return `${out.join("\n")}\n`;
}

/** What the table does and does not show; kept free of figures so it cannot go stale. */
const NOTES = [
  "## Reading the table",
  "",
  "- Targets are met per cell where marked; the summary's \"best cell\" is the minimum over more than a hundred policies measured on the same ten sequences it reports, so it carries selection bias. The honest figures are the tuned policy's reported column and the grid's \"pick on training data\" column: policies that were best on data sharing no job with the reported sequences, then measured on them. Where the two columns disagree, the grid's minimum is not a reliable claim.",
  "- With ten sequences the per-sequence spread is wide (in the best KTH-SP2 cell one sequence of ten carries more than a quarter of the mean), so differences of a few units between neighbouring cells are within noise; rankings between trainings and reported sequences are not stable.",
  "- Estimate correction changes nothing on Lublin: the protocol's loader makes every request equal to the run time there. On KTH-SP2 it helps SAF consistently and hurts some others (a job predicted too short is backfilled and then delays the reservation it was meant to fit before).",
  "- relaxed trades the head's guarantee for throughput; on Lublin-2 and with larger factors it loses. The relaxed slack is recomputed at each event from the reservation of that event, so over many events the head can slip by more than one factor's worth (the rule bounds each re-plan, not the total).",
  "- The grid's knob values are not clean of the reported sequences: K in {2, 4, 8, 16} and relaxed factors from 0.1 to 5 were tried on these very sequences while the lab was built, and K=4 and relaxed=0.5 were kept; treat their cells like the grid's minimum (optimistic).",
  "- The tuned policy is clean of them: the genetic search (tune-policy.ts) saw only training windows; before it, one exploratory grid of 36 family/K/relaxed settings was run on the Lublin training windows only. Its search space held K in {1, 2, 3, 4, 6, 8, 16, all} and relaxed factors 0 to 2 together with the order's exponents; on training data both seeds converged to SAF-like exponents (a and b near 1), an aging exponent d > 0, 16 or more reservations and no relaxation, so finer relaxed/K rows were not added to the grid. The reported sequences were run with two GA results (the summary says which is held-out). The `saf-aged` column's cells reuse its order with the grid's backfills and are grid cells like any other (optimistic as a minimum).",
  "- The Lublin training windows are few (starts 0, 478 and 957 overlap each other; the reported windows leave no other 1,024 consecutive jobs free) and easier than the reported ones, so the training figures are lower than the reported ones on every trace: the search ranks policies on them, it does not predict their level.",
  "- The aging term bounds starvation: without it (`saf`) a job that arrived behind a stream of smaller ones can wait for hours; (w + c)^d lets it rise. With saf-aged's c = 22,400 s it matters only for waits of hours; seed 2's c = 4.5 s, d = 0.174 acts from the first minutes (a job must wait about 50 times longer than another to outrank one of twice its area).",
];

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = process.argv[2] ?? TRACES_DIR;
  const outFile = process.argv[3] ?? new URL("../../../docs/results/policies.md", import.meta.url).pathname;
  const text = formatPolicies(policyLab(dir));
  writeFileSync(outFile, text);
  process.stdout.write(text);
}
