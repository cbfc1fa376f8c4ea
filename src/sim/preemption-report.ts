// `npm run sim:preemption`: writes docs/results/preemption.md. A GPU cluster kept full by BATCH
// training, with bursts of LIVE inference (workloads/gpu-burst.ts), through the same engine and the
// real core: no preemption, then preemption (the master's planDispatch collector, planPreemptions
// and PreemptionRateLimiter) restarting victims from zero or resuming them from periodic
// checkpoints, at three rate limits. Every figure in the text is computed from the runs.
// Deterministic: only the timing line varies between runs. Run: tsx src/sim/preemption-report.ts [SEEDS]
import { writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { simulate } from "./engine.js";
import { DEFAULT_STOP_DELAY_MS, type SimPreemptionOptions } from "./preemption-options.js";
import { type ReportRow, type SeededRun, summarise } from "./preemption-summary.js";
import { BATCH_GPUS, GPU_BURST_DEFAULTS, gpuBurstWorkload } from "./workloads/gpu-burst.js";

/** The checkpoint interval of most rows, and a shorter one to show what the interval does. */
const CHECKPOINT_MIN = 10;
const SHORT_CHECKPOINT_MIN = 2;

interface Case {
  /** How the observations find the row. */
  key: string;
  label: string;
  preemption: SimPreemptionOptions;
}

const restart = (perMinute: number): Case => ({
  key: `restart/${perMinute}`,
  label: `preemption, restart from zero, ${perMinute}/min`,
  preemption: { enabled: true, perMinute },
});
const resume = (perMinute: number, everyMin = CHECKPOINT_MIN): Case => ({
  key: `checkpoint ${everyMin}/${perMinute}`,
  label: `preemption, checkpoint every ${everyMin} min, ${perMinute}/min`,
  preemption: { enabled: true, perMinute, checkpoint: { everyMs: everyMin * 60_000 } },
});

export const CASES: readonly Case[] = [
  { key: "off", label: "no preemption", preemption: { enabled: false, perMinute: 0 } },
  restart(60),
  restart(6),
  restart(1),
  resume(60),
  resume(6),
  resume(1),
  resume(60, SHORT_CHECKPOINT_MIN),
];

const GPUS = GPU_BURST_DEFAULTS.workers * GPU_BURST_DEFAULTS.gpusPerWorker;
const WINDOW_MS = GPU_BURST_DEFAULTS.hours * 3_600_000;
const QUICK_S = DEFAULT_STOP_DELAY_MS / 1000;

export interface Report {
  rows: ReportRow[];
  seeds: number[];
  /** BATCH GPU-hours submitted per run (mean over seeds). */
  batchGpuH: number;
  liveTasks: number;
  batchTasks: number;
  wallMs: number;
}

export function runReport(seeds: readonly number[]): Report {
  const workloads = seeds.map((seed) => gpuBurstWorkload({ seed }));
  let wallMs = 0;
  const rows = CASES.map((c) => {
    const runs: SeededRun[] = workloads.map((workload, k) => {
      const result = simulate(workload, { placement: "rts", seed: seeds[k], preemption: c.preemption });
      wallMs += result.wallMs;
      return { workload, result };
    });
    return summarise(c.label, runs, { gpus: GPUS, windowMs: WINDOW_MS, quickS: QUICK_S, checkpointEveryMs: c.preemption.checkpoint?.everyMs ?? null });
  });
  const all = workloads.flatMap((w) => w.tasks);
  const batchGpuMs = all.filter((t) => t.queueClass === "BATCH").reduce((s, t) => s + t.gpuCount * t.runtimeMs, 0);
  return {
    rows,
    seeds: [...seeds],
    batchGpuH: batchGpuMs / 3_600_000 / seeds.length,
    liveTasks: all.filter((t) => t.queueClass === "LIVE").length / seeds.length,
    batchTasks: all.filter((t) => t.queueClass === "BATCH").length / seeds.length,
    wallMs,
  };
}

const f = (x: number, d = 0): string => (Number.isFinite(x) ? x.toFixed(d) : "n/a");
const secs = (s: number): string => (s >= 3600 ? `${f(s / 3600, 2)} h` : s >= 120 ? `${f(s / 60, 1)} min` : `${f(s)} s`);
const pct = (x: number, d = 0): string => `${f(100 * x, d)}%`;
/** "+12%" / "-3%": the change from `a` to `b`. */
const change = (a: number, b: number): string => `${b >= a ? "+" : ""}${f((100 * (b - a)) / a)}%`;

function table(rows: readonly ReportRow[]): string[] {
  const lines = [
    `| configuration | LIVE wait p50 / p95 / max | LIVE started within ${QUICK_S} s | BATCH wait mean | BATCH completion mean | preemptions / run | held back by the rate limit / run | BATCH tasks preempted / run (most times one task) | work lost, GPU-h / run | stopping, GPU-h / run | GPU utilisation, allocated / useful |`,
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of rows) {
    const w = r.liveWaitS;
    lines.push(
      `| ${r.label} | ${secs(w.p50)} / ${secs(w.p95)} / ${secs(w.max)} | ${pct(r.liveQuickShare)} | ${secs(r.batchWaitS.mean)} | ${secs(r.batchCompletionS.mean)} | ${f(r.preemptions, 1)} | ${f(r.rateLimited, 1)} | ${f(r.batchTasksPreempted, 1)} (${r.maxPreemptionsOfOneTask}) | ${f(r.lostGpuH, 2)} | ${f(r.stoppingGpuH, 2)} | ${pct(r.utilisation, 1)} / ${pct(r.usefulUtilisation, 1)} |`,
    );
  }
  return lines;
}

function observations(rep: Report): string[] {
  const row = (key: string): ReportRow => rep.rows[CASES.findIndex((c) => c.key === key)];
  const [base, ...pre] = rep.rows;
  const fast = row("restart/60");
  const fastCk = row(`checkpoint ${CHECKPOINT_MIN}/60`);
  const shortCk = row(`checkpoint ${SHORT_CHECKPOINT_MIN}/60`);
  const slowCk = row(`checkpoint ${CHECKPOINT_MIN}/1`);
  const bestLive = pre.reduce((b, r) => (r.liveWaitS.p95 < b.liveWaitS.p95 ? r : b));
  const worstBatch = pre.reduce((b, r) => (r.batchCompletionS.mean > b.batchCompletionS.mean ? r : b));
  const lines = [
    `- LIVE waits: without preemption a LIVE task waits for some training task to end (p95 ${secs(base.liveWaitS.p95)}, max ${secs(base.liveWaitS.max)}; ${pct(base.liveQuickShare)} start within ${QUICK_S} s). With preemption and a rate limit that bursts never reach, the p95 is ${secs(fast.liveWaitS.p95)} (restart) and ${secs(fastCk.liveWaitS.p95)} (checkpoint): the stop delay is ${QUICK_S} s, and ${pct(fast.liveQuickShare)} / ${pct(fastCk.liveQuickShare)} of LIVE tasks start within it. The lowest p95 of all preemption rows is ${secs(bestLive.liveWaitS.p95)} (${bestLive.label}).`,
    `- Cost: ${f(fast.preemptions, 1)} preemptions per run throw away ${f(fast.lostGpuH, 2)} GPU-h when victims restart from zero, ${pct(fast.lostGpuH / rep.batchGpuH, 2)} of the ${f(rep.batchGpuH)} BATCH GPU-h submitted per run; with a checkpoint every ${CHECKPOINT_MIN} min, ${f(fastCk.lostGpuH, 2)} GPU-h (${change(fast.lostGpuH, fastCk.lostGpuH)}). Time spent stopping (${QUICK_S} s per victim) is small beside it: ${f(fastCk.stoppingGpuH, 2)} GPU-h.`,
    `- Why checkpoints save ${fastCk.lostGpuH < fast.lostGpuH ? "only part of" : "nothing of"} the loss: the victim choice (victims.ts) prefers the most recently started attempts, and ${pct(fastCk.beforeFirstCheckpointShare)} of the victims with checkpointing were stopped before their first checkpoint, losing all their progress anyway. A checkpoint every ${SHORT_CHECKPOINT_MIN} min cuts the loss to ${f(shortCk.lostGpuH, 2)} GPU-h (${change(fast.lostGpuH, shortCk.lostGpuH)} against restarting), with ${pct(shortCk.beforeFirstCheckpointShare)} of its victims stopped before their first checkpoint (what writing the checkpoints costs the task is not modelled).`,
    `- BATCH: mean completion time (submit to finish) ${secs(base.batchCompletionS.mean)} without preemption, ${secs(fast.batchCompletionS.mean)} (${change(base.batchCompletionS.mean, fast.batchCompletionS.mean)}) with it restarting from zero and ${secs(fastCk.batchCompletionS.mean)} (${change(base.batchCompletionS.mean, fastCk.batchCompletionS.mean)}) with checkpoints; the largest is ${secs(worstBatch.batchCompletionS.mean)} (${worstBatch.label}). ${f(fast.batchTasksPreempted, 1)} of ${f(rep.batchTasks)} BATCH tasks per run were preempted at least once (at most ${fast.maxPreemptionsOfOneTask} times one task).`,
    `- Utilisation over the ${GPU_BURST_DEFAULTS.hours} h of arrivals: allocated ${pct(base.utilisation, 1)} without preemption, ${pct(fast.utilisation, 1)} with it; the useful share (work that counted toward a result) is ${pct(base.usefulUtilisation, 1)} and ${pct(fast.usefulUtilisation, 1)}: the gap is the lost work and the stopping time.`,
    `- Rate limit: at 1/min (checkpointing) ${f(slowCk.preemptions, 1)} preemptions per run go ahead and ${f(slowCk.rateLimited, 1)} tasks per run are held back at some point; LIVE p95 rises to ${secs(slowCk.liveWaitS.p95)} (from ${secs(fastCk.liveWaitS.p95)} at 60/min) and the work lost falls to ${f(slowCk.lostGpuH, 2)} GPU-h. A burst of ${GPU_BURST_DEFAULTS.burstMin}-${GPU_BURST_DEFAULTS.burstMax} LIVE tasks exceeds a bucket of 1, so the rest wait for tokens or for training to end.`,
  ];
  return lines;
}

export function markdown(rep: Report): string {
  const d = GPU_BURST_DEFAULTS;
  const lines = [
    "# Preemption: LIVE bursts on a GPU cluster full of BATCH training (simulated)",
    "",
    "Produced by `npm run sim:preemption` (src/sim/preemption-report.ts); do not edit by hand.",
    "",
    "The simulator (src/sim/engine.ts) drives the real `src/core` dispatch pass, and after each pass the same preemption calls as the master (master/preemptions.ts): `planDispatch`'s `preemptors` collector, `planPreemptions` (victims.ts: borrowed quota first, lowest class, then the most recently started; fewest victims on one worker), the token-bucket `PreemptionRateLimiter` (bucket = the per-minute limit), and `afterAttempt` requeueing a preempted task without using a retry. Ordering `priority` (LIVE before BATCH), placement `rts`, priority margin 1.",
    "",
    "## Scenario",
    "",
    `- ${d.workers} workers x ${d.gpusPerWorker} GPUs (${GPUS} GPUs); CPU and memory never bind.`,
    `- BATCH training (preemptible, the class default): a backlog of ${d.backlog}x the cluster at t = 0, then a Poisson stream offering ${d.batchLoad}x the GPUs for ${d.hours} h; ${BATCH_GPUS.map(([g, w]) => `${g} GPU${g > 1 ? "s" : ""} ${pct(w)}`).join(", ")}, runtimes log-uniform ${d.batchMinS / 60}-${d.batchMaxS / 60} min. ${f(rep.batchTasks)} tasks, ${f(rep.batchGpuH)} GPU-h per run.`,
    `- LIVE inference (not preemptible): bursts every ~${d.burstEveryS / 60} min (exponential), ${d.burstMin}-${d.burstMax} tasks spread over ${d.burstSpreadS} s; 1 or 2 GPUs, runtimes log-uniform ${d.liveMinS} s-${d.liveMaxS / 60} min. ${f(rep.liveTasks)} tasks per run.`,
    `- A victim stops ${QUICK_S} s after it is signalled (its time to checkpoint and exit, below the master's 30 s grace), or when its work is done if that comes first; then its GPUs are free and its task is queued again. Restart from zero: all its progress is lost. Checkpoint every ${CHECKPOINT_MIN} min: it resumes from its last checkpoint and loses the progress since.`,
    `- Seeds ${rep.seeds.join(", ")} (a workload and a run per seed). Waits are pooled over the seeds' tasks; counts and GPU-hours are per run. Wait = submit to first start. Utilisation is over the ${d.hours} h of arrivals (the drain after is left out): allocated GPU time, and the useful part (what counted toward a finished result).`,
    "",
    "## Results",
    "",
    ...table(rep.rows),
    "",
    "## Observations",
    "",
    ...observations(rep),
    `- Simulator speed in this run: ${f(rep.wallMs / 1000, 1)} s for all ${rep.rows.length * rep.seeds.length} runs.`,
    "",
  ];
  return lines.join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const n = Number(process.argv[2] ?? 5);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`seeds must be a whole number >= 1, got ${process.argv[2]}`);
  const rep = runReport(Array.from({ length: n }, (_, i) => i + 1));
  const out = new URL("../../docs/results/preemption.md", import.meta.url).pathname;
  writeFileSync(out, markdown(rep));
  process.stdout.write(`wrote ${out}\n`);
}
