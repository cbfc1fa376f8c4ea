// `npm run sim:policies`: writes docs/results/policies.md, the policy lab's table. Mean bounded
// slowdown under the RLScheduler protocol (rlscheduler.ts) for every shipped order x backfill x
// estimate-correction combination on Lublin-1, Lublin-2 and KTH-SP2, beside the published cells,
// against issue 16's targets. The best cell of a grid is chosen on the very sequences it reports,
// so it is optimistic; the "picked on training data" line chooses on data disjoint from them
// (KTH-SP2: other windows of the same log; Lublin: the sibling trace, another draw of the model).
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseSwf, type SwfTrace } from "../workloads/swf.js";
import { best, type Cell, disjointWindows, GRID_BACKFILLS, GRID_ORDERS, policyName, runGrid, sameAs } from "./policy-grid.js";
import { loadJobs } from "./rlscheduler.js";
import { protocolStarts } from "./starts.js";

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
const SIBLING: Partial<Record<TraceName, TraceName>> = { "Lublin-1": "Lublin-2", "Lublin-2": "Lublin-1" };

interface TraceReport {
  name: TraceName;
  cells: Cell[];
  picked: Cell;
  pickedOn: string;
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
    return { name, cells, picked: cells.find(sameAs(best(training)))!, pickedOn };
  });
}

const mark = (x: number, target: number): string => `${x.toFixed(2)}${x <= target ? " ✓" : ""}`;

export function formatPolicies(reports: readonly TraceReport[]): string {
  const out: string[] = [
    "# Policy lab: classic EASY, conservative, K reservations, relaxed backfill, SAF/LXF, estimate correction",
    "",
    "Produced by `npm run sim:policies` (src/sim/batch/policies-report.ts); do not edit by hand. Mean over the protocol's 10 sequences of 1,024 jobs of each sequence's mean bounded slowdown, under the RLScheduler protocol of ../shared/traces/README.md (loader, sequences, metric; the scheduling loop is the policy under test). Sequence starts: Lublin 1981, 2756, 4299, 8850, 3316, 2714, 5228, 7762, 4022, 7085; KTH-SP2 10173, 25552, 19140, 8850, 11508, 2714, 13420, 12214, 7085, 10446.",
    "",
    "Policies see only what the protocol allows: users' requested times (on Lublin the protocol's loader sets the request to the run time, so estimates are exact there and estimate correction learns a ratio of 1) and, with estimate correction, per-user actual/requested ratios of jobs that have already finished (mean of the user's last two, never above the request). Backfills: `none`, `rlscheduler` (their simplified rule) and `committed-head` (EASY's test while the head is committed; called `easy` before this table) use their committed-head loop; `easy` (classic, 1 reservation), `K=4`, `conservative` (every waiting job reserved), `relaxed` (1 reservation that may slip by 0.1 x its job's wait so far) and `relaxed=0.5` re-plan at every event (src/sim/batch/replan.ts). WFP3/UNICEP use the true waiting time w = now - submit (the policies as defined; their published cells use w = -1 - submit, see validation.md); LXF always does. `+ec`: with estimate correction. ✓: at or below the trace's target.",
    "",
    "Targets (issue 16: the best published or classic result beaten by at least 15%): " +
      Object.entries(TARGETS)
        .map(([t, v]) => `${t} <= ${v.toFixed(1)}`)
        .join(", ") +
      ".",
    "",
    "## Summary",
    "",
    "| trace | target | best cell of the grid (chosen on the reported sequences: optimistic) | met | picked on training data, reported sequences | met | picked on |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
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
  '- Targets are met per cell where marked; the summary\'s "best cell" is the minimum over about a hundred policies measured on the same ten sequences it reports, so it carries selection bias. The honest figure is the "picked on training data" column: the policy that was best on data sharing no job with the reported sequences, then measured on them. Where the two columns disagree, the grid\'s minimum is not a reliable claim.',
  "- With ten sequences the per-sequence spread is wide (in the best KTH-SP2 cell one sequence of ten carries more than a quarter of the mean), so differences of a few units between neighbouring cells are within noise; rankings between trainings and reported sequences are not stable.",
  "- Estimate correction changes nothing on Lublin: the protocol's loader makes every request equal to the run time there. On KTH-SP2 it helps SAF consistently and hurts some others (a job predicted too short is backfilled and then delays the reservation it was meant to fit before).",
  "- relaxed trades the head's guarantee for throughput; on Lublin-2 and with larger factors it loses. The relaxed slack is recomputed at each event from the reservation of that event, so over many events the head can slip by more than one factor's worth (the rule bounds each re-plan, not the total).",
  "- No genetic search was run. The grid's knob values are not clean of the reported sequences: K in {2, 4, 8, 16} and relaxed factors from 0.1 to 5 were tried on these very sequences while the lab was built, and K=4 and relaxed=0.5 were kept; treat their cells like the grid's minimum (optimistic).",
];

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = process.argv[2] ?? new URL("../../../../shared/traces", import.meta.url).pathname;
  const outFile = process.argv[3] ?? new URL("../../../docs/results/policies.md", import.meta.url).pathname;
  const text = formatPolicies(policyLab(dir));
  writeFileSync(outFile, text);
  process.stdout.write(text);
}
