// Placement decision latency (DESIGN §8: p99 <= 50 us at 1,000 workers, <= 500 us at 10,000).
//
// What is timed: the real dispatch pass, planDispatch(queue, slots, RtsPlacement), over a queue of
// 10,000 mixed tasks on a cluster already ~half busy, with tasks finishing between passes (churn)
// until the queue is drained. planDispatch pulls tasks one at a time from the queue iterator, so
// the time between two pulls (process.hrtime.bigint() at each) is the whole work of one task:
// feasibility filtering, RTS scoring (or the fallback), allocation and bookkeeping. Samples are
// split into tasks that were placed ("decisions") and tasks looked at but left waiting. The per-pass
// setup (planDispatch's filter of open workers, before the first pull) is reported separately.
// The simulation is in placement-run.ts; this module runs its configurations and reports them.
import { BACKFILL_POLICIES } from "../../src/core/backfill/reservations.js";
import { DEFAULT_DEADLINE_CANDIDATES, DEFAULT_MAX_CANDIDATES } from "../../src/core/dispatch-plan.js";
import type { BenchEnv, BenchModule, BenchResult } from "./bench-module.js";
import { QUEUE, runPlacement, summarize, us, type RunStats } from "./placement-run.js";

const TARGETS: Record<number, number> = { 1000: 50, 10000: 500 };
const REPEATS = 3;

export const placementBench: BenchModule = {
  name: "placement",
  section: "Placement decision latency",
  run(env: BenchEnv): BenchResult {
    // Warm-up: the same code paths on a throwaway cluster, so the JIT has settled before measuring.
    runPlacement(1000, 4000, DEFAULT_MAX_CANDIDATES, 7);
    runPlacement(10000, 2000, DEFAULT_MAX_CANDIDATES, 8);
    runPlacement(200, 1000, Infinity, 9, 20);

    // Each size is run REPEATS times (same workload, same seed); the row is the run with the median
    // p99, and the p99 of every run is listed, so run-to-run noise on a small machine is visible.
    const runs: RunStats[] = [];
    const p99s = new Map<RunStats, number[]>();
    for (const n of [100, 1000, 10000]) {
      const repeats = Array.from({ length: REPEATS }, () => runPlacement(n, QUEUE, DEFAULT_MAX_CANDIDATES, 1000 + n));
      const ranked = repeats.map((r) => ({ r, p99: summarize(r).p99 })).sort((a, b) => a.p99 - b.p99);
      const median = ranked[Math.floor(ranked.length / 2)].r;
      runs.push(median);
      p99s.set(
        median,
        repeats.map((r) => summarize(r).p99),
      );
    }
    // Projects (issue 15): 10,000 tasks across 100 projects under multifactor, then with quotas too.
    const projectRuns: Array<{ label: string; run: RunStats }> = [];
    for (const mode of [
      { projects: 100, quotas: false },
      { projects: 100, quotas: true },
    ]) {
      const repeats = Array.from({ length: REPEATS }, () => runPlacement(1000, QUEUE, DEFAULT_MAX_CANDIDATES, 2000, 10_000, mode));
      const ranked = repeats.map((r) => ({ r, p99: summarize(r).p99 })).sort((a, b) => a.p99 - b.p99);
      const median = ranked[Math.floor(ranked.length / 2)].r;
      p99s.set(
        median,
        repeats.map((r) => summarize(r).p99),
      );
      projectRuns.push({ label: mode.quotas ? "1,000 (100 projects, multifactor + quotas)" : "1,000 (100 projects, multifactor)", run: median });
    }
    // Backfill (issue 16): EASY, one reservation per pass, that every later task must not delay.
    {
      const repeats = Array.from({ length: REPEATS }, () =>
        runPlacement(1000, QUEUE, DEFAULT_MAX_CANDIDATES, 1000 + 1000, 10_000, null, BACKFILL_POLICIES.easy),
      );
      const ranked = repeats.map((r) => ({ r, p99: summarize(r).p99 })).sort((a, b) => a.p99 - b.p99);
      const median = ranked[Math.floor(ranked.length / 2)].r;
      p99s.set(
        median,
        repeats.map((r) => summarize(r).p99),
      );
      projectRuns.push({ label: "1,000 (backfill easy)", run: median });
    }
    // Reference: no candidate cap (every feasible worker filtered and scored), fewer tasks.
    const reference: RunStats[] = [];
    for (const n of [1000, 10000]) reference.push(runPlacement(n, 2000, Infinity, 1000 + n, 3));

    const header = [
      "workers",
      "candidate cap",
      "placed",
      "p50 us",
      "p99 us",
      "max us",
      "target p99",
      "p99 of each run us",
      "waiting p50/p99 us",
      "pass setup p50/max us",
      "amortized us/task",
      "fallbacks",
      "passes",
    ];
    const labels = new Map(projectRuns.map((p) => [p.run, p.label]));
    const rows = [...runs, ...projectRuns.map((p) => p.run), ...reference].map((s) => {
      const m = summarize(s);
      const target = TARGETS[s.workers];
      const verdict = target === undefined ? "-" : `<= ${target} us: ${m.p99 <= target * 1000 ? "met" : "MISSED"}`;
      return [
        labels.get(s) ?? s.workers.toLocaleString("en-US"),
        Number.isFinite(s.maxCandidates) ? `${s.maxCandidates} (${Math.max(s.maxCandidates, DEFAULT_DEADLINE_CANDIDATES)} with deadline)` : "none",
        `${s.decided.length.toLocaleString("en-US")}${s.unplaced ? ` (+${s.unplaced} left)` : ""}`,
        us(m.p50),
        us(m.p99),
        us(m.max),
        Number.isFinite(s.maxCandidates) ? verdict : "(reference)",
        (p99s.get(s) ?? [summarize(s).p99]).map(us).join(", "),
        `${us(m.waitP50)} / ${us(m.waitP99)}`,
        `${us(m.setupP50)} / ${us(m.setupMax)}`,
        us(m.amortized),
        String(s.fallbacks),
        String(s.passes),
      ];
    });
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ");
    const text = [line(header), ...rows.map(line)].join("\n");
    const md = [
      `Measured ${env.date} on ${env.machine}.`,
      "",
      `Method: \`planDispatch\` with \`RtsPlacement\` (default weights, learned rows for ~20% of (kind, worker) pairs) over a queue of ${QUEUE.toLocaleString("en-US")} mixed tasks ` +
        "(75% CPU 0.5-8 cores, 25% 1-4 GPUs, half naming a model; required zone/ssd/arch tags; preferred tags; 24 kinds; deadlines) " +
        "on clusters of 8-128-core workers in three zones, 40% ssd, 30% with 4 or 8 GPUs of three models, pre-loaded to ~50% and churning " +
        "(20% of running work finishes between passes, one pass per simulated second, until the queue is empty). " +
        `Each capped configuration ran ${REPEATS} times; the row is the run with the median p99. ` +
        "A decision's latency is the time between two pulls of the queue iterator by `planDispatch` (`process.hrtime.bigint()`), i.e. one task's " +
        'feasibility scan, scoring and allocation; p50/p99 are over placed tasks. "waiting" = tasks looked at but not placed (no free fit). ' +
        '"pass setup" = per-pass work before the first task (collecting open workers and, from 256 of them, the per-tag and per-GPU-model rings). ' +
        '"amortized" = whole pass time (setup and waiting tasks included) / tasks looked at. "left" = tasks no worker can ever run (they stay QUEUED as unschedulable). ' +
        "The reference rows score every feasible worker (no cap) on 2,000 tasks and at most 3 passes. " +
        'The "100 projects" rows spread the same queue over 100 projects under the multifactor ordering (fair-share factors spread over (0, 1]; ' +
        "a k-way merge of the projects' queues), the second one also with a quota per project (twice its even split of the fleet's cores, borrowing " +
        "unlimited) checked for every task; the ledger of what runs is built once per pass, before the first task (in the pass setup, not in the per-task samples). " +
        'The "backfill easy" row is the 1,000-worker run with EASY backfilling: each pass the first task that fits nowhere gets a reservation on the ' +
        "availability profile (built then, lazily, for every worker that could run it: a waiting sample), and every later task checks that it delays no " +
        "reservation on the worker it is placed on (its learned runtime there against the reservation's start and resources).",
      "",
      "Reading: the decision targets are met by the pruning described in docs/scheduling.md (rings by tag/GPU model, a cap of " +
        `${DEFAULT_MAX_CANDIDATES} candidates with a moving cursor, ${DEFAULT_DEADLINE_CANDIDATES} for a task with a deadline (~90% of this queue) from a bounded scan, a dominance memo for misses); ` +
        "the reference rows show scoring every feasible worker misses them by 10x. " +
        "The max column is garbage-collection pauses. Costs outside a single decision grow with the fleet: at 10,000 workers the per-pass setup is milliseconds, " +
        "and a task that fits nowhere scans its whole ring (waiting column) unless an earlier miss dominates it.",
      "",
      `| ${header.join(" | ")} |`,
      `| ${header.map(() => "---").join(" | ")} |`,
      ...rows.map((r) => `| ${r.join(" | ")} |`),
      "",
      "Targets (DESIGN §8): p99 <= 50 us at 1,000 workers and <= 500 us at 10,000 workers.",
    ].join("\n");
    return { text, markdown: md };
  },
};
