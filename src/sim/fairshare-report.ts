// `npm run sim:fairshare`: writes docs/results/fairshare.md and fairshare.svg. Priority-FIFO vs
// multifactor (fair share) through the same engine and the real core: the noisy-neighbour burst of
// issue 15 at full size (plus two quota variants), and the KTH-SP2 trace with its users as projects.
// Deterministic: only the timing line varies between runs.
import { TRACES_DIR } from "./data-dirs.js";
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { simulate, type SimOptions, type SimResult } from "./engine.js";
import type { SharingOptions } from "./fair-share.js";
import { cumulativeStartsSvg, startsOf } from "./fairshare-chart.js";
import type { TaskOutcome } from "./metrics.js";
import type { ProjectMetrics } from "./project-metrics.js";
import type { OrderingName } from "./sharing.js";
import type { Workload } from "./types.js";
import { NOISY_DEFAULTS, NOISY_PROJECTS, noisyNeighbourWorkload } from "./workloads/noisy.js";
import { parseSwf, swfWorkload } from "./workloads/swf.js";

const TRACE = "KTH-SP2-1996-2.1-cln.swf";

interface NoisyRun {
  label: string;
  ordering: OrderingName;
  result: SimResult;
}

interface NoisyCase {
  label: string;
  ordering: OrderingName;
  sharing?: SharingOptions;
}

const EIGHT_EACH = { gpu: 8 };
const CASES: NoisyCase[] = [
  { label: "priority-FIFO", ordering: "priority" },
  { label: "multifactor (fair share)", ordering: "multifactor" },
  {
    label: "priority-FIFO + quotas 8+8 GPUs, borrowing",
    ordering: "priority",
    sharing: {
      quotas: [
        { project: "A", nominal: EIGHT_EACH, borrowingLimit: {}, lendingLimit: {} },
        { project: "B", nominal: EIGHT_EACH, borrowingLimit: {}, lendingLimit: {} },
      ],
    },
  },
  {
    label: "priority-FIFO + quotas 8+8 GPUs, B lends 0",
    ordering: "priority",
    sharing: {
      quotas: [
        { project: "A", nominal: EIGHT_EACH, borrowingLimit: {}, lendingLimit: {} },
        { project: "B", nominal: EIGHT_EACH, borrowingLimit: {}, lendingLimit: { gpu: 0 } },
      ],
    },
  },
];

/** The first release (finish) of a task that was running at `atMs`: when a GPU next frees up. */
export function firstReleaseAfter(outcomes: readonly TaskOutcome[], atMs: number): number {
  let first = Number.POSITIVE_INFINITY;
  for (const o of outcomes) if (o.startMs >= 0 && o.startMs < atMs && o.finishMs >= atMs) first = Math.min(first, o.finishMs);
  return first;
}

const rowOf = (r: SimResult, project: string): ProjectMetrics => {
  const row = r.sharing?.projects.find((p) => p.project === project);
  if (row === undefined) throw new Error(`no metrics for project ${project}`);
  return row;
};

/** "60 s (16), 180 s (16)": start times and how many started then. */
function waves(startsMs: readonly number[]): string {
  const counts = new Map<number, number>();
  for (const t of startsMs) counts.set(t, (counts.get(t) ?? 0) + 1);
  return [...counts].map(([t, n]) => `${f(t / 1000)} s (${n})`).join(", ");
}

const f = (x: number, d = 0): string => (Number.isFinite(x) ? x.toFixed(d) : "n/a");
const hms = (s: number): string => (s >= 3600 ? `${(s / 3600).toFixed(2)} h` : s >= 120 ? `${(s / 60).toFixed(1)} min` : `${f(s)} s`);

export function runNoisy(): { runs: NoisyRun[]; wallMs: number } {
  const workload = noisyNeighbourWorkload();
  let wallMs = 0;
  const runs = CASES.map((c) => {
    const options: SimOptions = { placement: "rts", seed: 1, ordering: c.ordering, sharing: c.sharing };
    const result = simulate(workload, options);
    wallMs += result.wallMs;
    return { label: c.label, ordering: c.ordering, result };
  });
  return { runs, wallMs };
}

function noisySection(runs: readonly NoisyRun[]): string[] {
  const d = NOISY_DEFAULTS;
  const bSubmitMs = d.bDelayS * 1000;
  const lines: string[] = [
    "## Noisy neighbour (issue 15's target, full size)",
    "",
    `Project A submits ${d.aTasks.toLocaleString("en")} one-GPU tasks of ${d.taskS} s at t = 0 on ${d.gpus} one-GPU workers; project B submits ${d.bTasks} such tasks ${d.bDelayS} s later. Equal shares (1 each), no failures, exact runtimes. Waits are start - submit.`,
    "",
    "| ordering | B's first start after its submit | next GPU release after B's submit | B wait median | B wait mean / p95 | B bounded slowdown mean | A wait median | makespan | GPU utilisation | Jain (demand) | Jain (backlogged) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const run of runs) {
    const r = run.result;
    const a = rowOf(r, NOISY_PROJECTS.a);
    const b = rowOf(r, NOISY_PROJECTS.b);
    const release = firstReleaseAfter(r.outcomes, bSubmitMs);
    const gpuS = (a.consumedUnitS + b.consumedUnitS) / d.gpus;
    const j = r.sharing!.fairness;
    lines.push(
      `| ${run.label} | ${hms((b.firstStartMs - bSubmitMs) / 1000)} (t = ${f(b.firstStartMs / 1000)} s) | t = ${f(release / 1000)} s | **${hms(b.waitS.p50)}** | ${hms(b.waitS.mean)} / ${hms(b.waitS.p95)} | ${f(b.boundedSlowdown.mean, 2)} | ${hms(a.waitS.p50)} | ${(r.metrics.makespanS / 3600).toFixed(2)} h | ${f((100 * gpuS) / r.metrics.makespanS, 1)}% | ${f(j.jain.mean, 3)} | ${f(j.backloggedJain.mean, 3)} |`,
    );
  }
  const prio = runs.find((r) => r.label === "priority-FIFO")!.result;
  const multi = runs.find((r) => r.ordering === "multifactor")!.result;
  const bm = rowOf(multi, NOISY_PROJECTS.b);
  const bp = rowOf(prio, NOISY_PROJECTS.b);
  const firstOk = bm.firstStartMs === firstReleaseAfter(multi.outcomes, bSubmitMs);
  const verdict = (ok: boolean): string => (ok ? "**met**" : "**not met**");
  lines.push(
    "",
    "Targets:",
    "",
    `- Multifactor: B's first task starts at the next GPU that frees up (t = ${f(bm.firstStartMs / 1000)} s; the first release after B's submit is at t = ${f(firstReleaseAfter(multi.outcomes, bSubmitMs) / 1000)} s): ${verdict(firstOk)}.`,
    `- Multifactor: B's median wait under 3 minutes (${hms(bm.waitS.p50)}): ${verdict(bm.waitS.p50 < 180)}.`,
    `- Priority-FIFO: B's median wait over 5 hours (${hms(bp.waitS.p50)}): ${verdict(bp.waitS.p50 > 5 * 3600)}.`,
    "",
    "![cumulative starts of A and B under both orderings](fairshare.svg)",
    "",
    `Why B's tasks come in waves under multifactor: at t = 60 s every GPU frees up at once (A's first 16 tasks end as B arrives) and B, with no usage (F = 1) against A's F = 0.5, takes all 16. By t = 120 s B has used as many GPU-seconds as A (960 each), but A's are older and have decayed a little more, so A's F is higher by about 2e-5 and A's tasks (older too) go first; at t = 180 s A is ahead in usage again and B goes first. The projects alternate until B is done: B's tasks start at ${waves(startsOf(multi.outcomes, NOISY_PROJECTS.b))}, a median wait of ${hms(bm.waitS.p50)}. A's median wait grows by ${hms(rowOf(multi, NOISY_PROJECTS.a).waitS.p50 - rowOf(prio, NOISY_PROJECTS.a).waitS.p50)} (the rounds it yielded).`,
    "",
    "The quota rows show what quotas alone do without preemption (a later issue). With 8 GPUs each and borrowing allowed, A borrows B's idle 8 GPUs from the start; when they free up at t = 60 s, A's tasks are still ahead of B's in the queue and B's nominal is still idle, so A borrows it again, and B waits exactly as under plain priority-FIFO. With B lending nothing, B starts at once, but B's 8 GPUs sit idle for the whole run except B's few minutes: A's sweep takes twice as long. Fair share gets B a fast start without idling anything; a quota that lends nothing guarantees B a floor whatever the history, at the price of idle GPUs until preemption can reclaim borrowed ones.",
    "",
  );
  return lines;
}

interface SwfRuns {
  priority: SimResult;
  multifactor: SimResult;
}

export function runSwf(tracesDir: string): { runs: SwfRuns; workload: Workload; users: number; procs: number; wallMs: number } {
  const trace = parseSwf(readFileSync(`${tracesDir}/${TRACE}`, "utf8"));
  const workload = swfWorkload(trace, "KTH-SP2", "user");
  const priority = simulate(workload, { placement: "rts", seed: 1, ordering: "priority" });
  const multifactor = simulate(workload, { placement: "rts", seed: 1, ordering: "multifactor" });
  return {
    runs: { priority, multifactor },
    workload,
    users: new Set(workload.tasks.map((t) => t.project)).size,
    procs: workload.workers[0].cpuMillis / 1000,
    wallMs: priority.wallMs + multifactor.wallMs,
  };
}

const meanOf = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
const medianOf = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.ceil(0.5 * s.length) - 1];
};

function swfSection(s: ReturnType<typeof runSwf>): string[] {
  const { priority: p, multifactor: m } = s.runs;
  const pp = p.sharing!.projects;
  const mp = m.sharing!.projects;
  const byName = new Map(mp.map((r) => [r.project, r] as const));
  const both = pp.map((r) => [r, byName.get(r.project)!] as const);
  const better = both.filter(([a, b]) => b.boundedSlowdown.mean < 0.9 * a.boundedSlowdown.mean).length;
  const worse = both.filter(([a, b]) => b.boundedSlowdown.mean > 1.1 * a.boundedSlowdown.mean).length;
  const heavy = [...both].sort((x, y) => y[0].consumedUnitS - x[0].consumedUnitS);
  const light = heavy.slice(Math.floor(heavy.length / 2));
  const lines: string[] = [
    `## SWF trace: KTH-SP2 (${s.workload.tasks.length.toLocaleString("en")} jobs, ${s.users} users as projects, ${s.procs} processors)`,
    "",
    `../shared/traces/${TRACE}, the real 11-month log of the KTH IBM SP2. Each job is a task of procs x 1 core on one ${s.procs}-core machine, started when its cores are free (the core's planDispatch: a job that does not fit is skipped, not waited on, so there is no reservation for wide jobs under either ordering); the user id (SWF field 12) is the project, \`user-<id>\` (group ids are no coarser on this trace: 252 groups for 214 users). Equal shares. Usage is billed per core-second (1/32 unit each).`,
    "",
    "| metric | priority-FIFO | multifactor |",
    "| --- | --- | --- |",
  ];
  const row = (label: string, get: (r: SimResult) => number, d = 1): void => {
    lines.push(`| ${label} | ${f(get(p), d)} | ${f(get(m), d)} |`);
  };
  row("wait s, mean", (r) => r.metrics.waitS.mean);
  row("wait s, median", (r) => r.metrics.waitS.p50);
  row("wait s, p99", (r) => r.metrics.waitS.p99);
  row("bounded slowdown, mean", (r) => r.metrics.boundedSlowdown.mean, 2);
  row("bounded slowdown, p99", (r) => r.metrics.boundedSlowdown.p99, 1);
  row("utilisation (%)", (r) => 100 * r.metrics.utilisation, 1);
  row("per project: mean of the projects' mean wait (s)", (r) => meanOf(r.sharing!.projects.map((x) => x.waitS.mean)));
  row("per project: median of the projects' p95 wait (s)", (r) => medianOf(r.sharing!.projects.map((x) => x.waitS.p95)));
  row("per project: mean of the projects' mean bounded slowdown", (r) => meanOf(r.sharing!.projects.map((x) => x.boundedSlowdown.mean)), 2);
  row("per project: worst project's mean bounded slowdown", (r) => Math.max(...r.sharing!.projects.map((x) => x.boundedSlowdown.mean)), 1);
  row("lighter half of users (by usage): mean of their mean wait (s)", (r) => {
    const names = new Set(light.map(([a]) => a.project));
    return meanOf(r.sharing!.projects.filter((x) => names.has(x.project)).map((x) => x.waitS.mean));
  });
  row("Jain's index, demand = queued or running", (r) => r.sharing!.fairness.jain.mean, 3);
  row("Jain's index, demand = queued (backlogged)", (r) => r.sharing!.fairness.backloggedJain.mean, 3);
  row("hours with >= 2 backlogged projects", (r) => r.sharing!.fairness.backloggedJain.contendedS / 3600, 0);
  const worst = (rows: readonly ProjectMetrics[]): ProjectMetrics => rows.reduce((w, r) => (r.boundedSlowdown.mean > w.boundedSlowdown.mean ? r : w));
  const wp = worst(pp);
  const wm = worst(mp);
  const wmBefore = pp.find((r) => r.project === wm.project)!;
  const widths = s.workload.tasks.filter((t) => t.project === wm.project).map((t) => t.cpuMillis / 1000);
  const allWidths = s.workload.tasks.map((t) => t.cpuMillis / 1000);
  lines.push(
    "",
    `Multifactor lowers the mean bounded slowdown of ${better} of the ${both.length} users by more than 10% and raises it for ${worse}.`,
    "",
    `The worst-served user is ${wp.project} under priority-FIFO (mean bounded slowdown ${f(wp.boundedSlowdown.mean)}) and ${wm.project} under multifactor (${f(wm.boundedSlowdown.mean)}, was ${f(wmBefore.boundedSlowdown.mean)}; ${wm.tasks} jobs, ${f((wm.consumedUnitS * 32) / 3600)} core-hours, mean wait ${hms(wmBefore.waitS.mean)} -> ${hms(wm.waitS.mean)}): a user with few, wide jobs (${f(meanOf(widths))} of the ${s.procs} processors on average; ${f(meanOf(allWidths), 1)} over all jobs). A job that does not fit is skipped, not reserved for, so a wide job waits until enough cores happen to be free at once; multifactor lets lighter users' narrow jobs take those cores first more often. Reservations for wide jobs (backfill, a later issue) are the remedy, under either ordering.`,
    "",
    "The ten heaviest users (by core-seconds consumed), per-project wait and bounded slowdown:",
    "",
    "| user | jobs | core-hours | wait median / mean / p95 (s), priority-FIFO | same, multifactor | bounded slowdown mean / median / p95, priority-FIFO | same, multifactor |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const [a, b] of heavy.slice(0, 10)) {
    const w = (r: ProjectMetrics): string => `${f(r.waitS.p50)} / ${f(r.waitS.mean)} / ${f(r.waitS.p95)}`;
    const bs = (r: ProjectMetrics): string => `${f(r.boundedSlowdown.mean, 1)} / ${f(r.boundedSlowdown.p50, 2)} / ${f(r.boundedSlowdown.p95, 1)}`;
    lines.push(`| ${a.project} | ${a.tasks} | ${f((a.consumedUnitS * 32) / 3600)} | ${w(a)} | ${w(b)} | ${bs(a)} | ${bs(b)} |`);
  }
  lines.push("");
  return lines;
}

export function markdown(noisy: readonly NoisyRun[], swf: ReturnType<typeof runSwf>, wallMs: number): string {
  const lines: string[] = [
    "# Fair share vs priority-FIFO (simulated)",
    "",
    "Generated by `npm run sim:fairshare` (src/sim/fairshare-report.ts): the simulator in src/sim driving the real `src/core` dispatch pass, `MultifactorQueue` (`createTaskQueue`), fair-share factor and quota ledger, with decayed usage kept as the master keeps it (the core's UsageBook, src/core/fairshare/usage-book.ts, which the master uses too). Settings are the master's defaults: `fairShareHalfLifeMs` 7 days, `usageTickMs` 5 s (of simulated time), billing 1 per GPU-second, 1/32 per core-second, 1/256 per GiB-second; weights class 10,000, priority 1,000, fair share 100, age 10 (saturating at `priorityMaxAgeMs` 7 days), size 0. Placement `rts`. `fifo` orders these workloads exactly as `priority` (every task is DEFAULT / NORMAL), so it is not listed separately.",
    "",
    "Jain's fairness index J = (sum x)^2 / (n sum x^2) over x_p = decayed usage_p / shares_p (the quantity fair share equalises, same half-life and billing; kept exactly between events, not at 5 s ticks), over the projects with demand at each moment, averaged over the time when at least two projects had demand. Two readings of demand: a queued or running task; a queued task only (backlogged: projects that want more than they hold). 1 = every such project has used the same per share; 0.5 = one of two has used everything.",
    "",
    ...noisySection(noisy),
    ...swfSection(swf),
    "## Reading the numbers",
    "",
    `- Fair share only reorders *which queued task starts next*; it never preempts. On the noisy neighbour B therefore waits for the first GPU that frees up, and then gets GPUs until its decayed usage catches up with A's; the index averages ${f(noisy.find((r) => r.ordering === "multifactor")!.result.sharing!.fairness.jain.mean, 2)} while both have demand (B starts from zero usage against A's 960 GPU-seconds, which is what keeps it below 1) against 0.50 under priority-FIFO.`,
    "- On KTH-SP2 the machine is mostly uncontended (median wait 0 under both orderings), so most jobs start at once either way. Where users do queue, multifactor serves the users with less recent usage first: the backlogged index rises, the lighter half of the users wait less, and the mean bounded slowdown falls; heavy users with wide jobs pay (above). The overall mean wait rises a little, as those wide, long jobs wait longer.",
    "- A decayed-usage index below 1 on a real trace is expected: users differ in how much they *want*, not only in how much they get; the backlogged reading leaves out users whose demand is fully met.",
    `- Simulator speed in this run: ${(wallMs / 1000).toFixed(1)} s for all ${CASES.length + 2} runs.`,
    "",
  ];
  return lines.join("\n");
}

export function svg(noisy: readonly NoisyRun[]): string {
  const prio = noisy.find((r) => r.label === "priority-FIFO")!.result;
  const multi = noisy.find((r) => r.ordering === "multifactor")!.result;
  return cumulativeStartsSvg(
    "Noisy neighbour: cumulative starts of A (5,000 tasks) and B (50 tasks, submitted at 60 s), 16 GPUs",
    [
      { label: "B, multifactor", color: "#d62728", dashed: false, startsMs: startsOf(multi.outcomes, NOISY_PROJECTS.b) },
      { label: "A, multifactor", color: "#1f77b4", dashed: false, startsMs: startsOf(multi.outcomes, NOISY_PROJECTS.a) },
      { label: "B, priority-FIFO", color: "#d62728", dashed: true, startsMs: startsOf(prio.outcomes, NOISY_PROJECTS.b) },
      { label: "A, priority-FIFO", color: "#1f77b4", dashed: true, startsMs: startsOf(prio.outcomes, NOISY_PROJECTS.a) },
    ],
    10,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const tracesDir = process.argv[2] ?? TRACES_DIR;
  const noisy = runNoisy();
  const swf = runSwf(tracesDir);
  const out = new URL("../../docs/results/", import.meta.url).pathname;
  writeFileSync(`${out}fairshare.md`, markdown(noisy.runs, swf, noisy.wallMs + swf.wallMs));
  writeFileSync(`${out}fairshare.svg`, svg(noisy.runs));
  process.stdout.write(`wrote ${out}fairshare.md and fairshare.svg\n`);
}
