// `taskgrid sim`: runs the deterministic simulator (src/sim) locally — no master needed.
//   taskgrid sim --workload hetero --placement rts|round_robin [--seed N] [--tasks N] [--workers N] [--json]
//   taskgrid sim --workload noisy-neighbour --ordering priority|fifo|multifactor [--tasks N] [--workers N] [--b-tasks N] [--b-delay 60s]
//                [--half-life 7d] [--usage-tick 5s] [--quota-file FILE]   (fair share and quotas, issue 15)
//   taskgrid sim --csv FILE [--placement ...]          (tasks from CSV, workers from the hetero fleet)
//   taskgrid sim --trace FILE.swf                       (the trace on one MaxProcs machine, real core)
//   taskgrid sim --trace FILE.swf --protocol rlscheduler --order fcfs|sjf|wfp3|unicep|f1|saf|lxf
//                --backfill none|rlscheduler|committed-head|easy|conservative|K=<n>|relaxed[=<factor>]
//                [--wait published|true]                (WFP3/UNICEP's w: their code's reading, or the real waiting time)
//                [--starts N,N,...] [--estimate-correction on|off]   (issue 16's policy lab)
import { readFileSync } from "node:fs";
import { BACKFILL_SYNTAX, parseBackfill, type BackfillName } from "../../sim/batch/backfill-spec.js";
import { runProtocol } from "../../sim/batch/rlscheduler.js";
import { ORDER_NAMES, ORDERS_USING_WAIT, WAIT_DESCRIPTIONS, WAIT_READINGS, type OrderName, type WaitReading } from "../../sim/batch/orders.js";
import { simulate, type PlacementName } from "../../sim/engine.js";
import { formatMetrics } from "../../sim/metrics.js";
import type { Workload } from "../../sim/types.js";
import { parseTaskCsv } from "../../sim/workloads/csv.js";
import { HETERO_DEFAULTS, heteroWorkers, heteroWorkload } from "../../sim/workloads/hetero.js";
import { parseSwf, swfWorkload, type SwfProjects } from "../../sim/workloads/swf.js";
import { NOISY_DEFAULTS, noisyNeighbourWorkload } from "../../sim/workloads/noisy.js";
import type { SharingOptions } from "../../sim/fair-share.js";
import { formatProjectMetrics } from "../../sim/project-metrics.js";
import { sharingFromQuotaFile } from "../../sim/quota-file.js";
import type { OrderingName, SharingResult } from "../../sim/sharing.js";
import { mulberry32 } from "../../core/random.js";
import { boolFlag, stringFlag, type ParsedArgs } from "../args.js";
import { JSON_FLAG, printJson, type Command } from "../command.js";
import { parseDurationMs, parseInteger, parseNumber } from "../parse.js";
import { UsageError } from "../usage-error.js";

function backfillFlag(value: string): BackfillName {
  try {
    parseBackfill(value);
  } catch (err) {
    throw new UsageError(`--backfill: ${(err as Error).message}`);
  }
  return value as BackfillName;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${flag}: "${value}" is not one of ${allowed.join(", ")}`);
  return value as T;
}

export const simCommand: Command = {
  name: "sim",
  summary: "Simulate scheduling offline (deterministic, seeded) with the real scheduling core",
  usage: "sim [flags]",
  flags: {
    workload: { type: "string", value: "hetero|noisy-neighbour", description: "generated workload (default hetero)" },
    placement: { type: "string", value: "rts|round_robin", description: "placement strategy (default rts)" },
    ordering: { type: "string", value: "priority|fifo|multifactor", description: "ordering policy (default priority)" },
    seed: { type: "string", value: "N", description: "random seed (default 1)" },
    tasks: {
      type: "string",
      value: "N",
      description: `hetero: number of tasks (default ${HETERO_DEFAULTS.tasks}); noisy-neighbour: project A's (default ${NOISY_DEFAULTS.aTasks})`,
    },
    workers: {
      type: "string",
      value: "N",
      description: `hetero/csv: number of workers (default ${HETERO_DEFAULTS.workers}); noisy-neighbour: one-GPU workers (default ${NOISY_DEFAULTS.gpus})`,
    },
    "b-tasks": { type: "string", value: "N", description: `noisy-neighbour: project B's tasks (default ${NOISY_DEFAULTS.bTasks})` },
    "b-delay": { type: "string", value: "DURATION", description: `noisy-neighbour: when B submits (default ${NOISY_DEFAULTS.bDelayS}s)` },
    "task-time": { type: "string", value: "DURATION", description: `noisy-neighbour: every task's runtime (default ${NOISY_DEFAULTS.taskS}s)` },
    "half-life": { type: "string", value: "DURATION", description: "fair share: half-life of decayed usage (default 7d, the master's fairShareHalfLifeMs)" },
    "usage-tick": {
      type: "string",
      value: "DURATION",
      description: "fair share: usage accrual period in simulated time (default 5s, the master's usageTickMs)",
    },
    "quota-file": { type: "string", value: "FILE", description: "per-project quotas and shares, in the master's quota file format (YAML or JSON)" },
    projects: { type: "string", value: "user|group|none", description: "with --trace: the SWF field that names a job's project (default user)" },
    load: { type: "string", value: "X", description: `hetero: offered load (default ${HETERO_DEFAULTS.load})` },
    sla: { type: "string", value: "X", description: "sla_multiplier for derived deadlines (default 2.0)" },
    "max-candidates": { type: "string", value: "N", description: "feasible workers scored per task (default 8, as the master)" },
    "deadline-candidates": { type: "string", value: "N", description: "the same for a task with a deadline (default 32, as the master)" },
    csv: { type: "string", value: "FILE", description: "tasks from a CSV (submit,duration,cpus,gpus,gpu_model,kind,deadline)" },
    trace: { type: "string", value: "FILE", description: "an SWF trace" },
    protocol: { type: "string", value: "rlscheduler", description: "with --trace: the RLScheduler batch protocol" },
    order: { type: "string", value: ORDER_NAMES.join("|"), description: "with --protocol: job order (default fcfs)" },
    backfill: {
      type: "string",
      value: BACKFILL_SYNTAX,
      description:
        "with --protocol: backfilling (default none). rlscheduler = their simplified rule; committed-head = EASY's test while the head is committed (what `easy` meant before); easy = classic EASY, re-planned at every event; conservative = every waiting job reserved; K=<n> = the first n blocked jobs reserved; relaxed[=f] = one reservation that may slip by f x its job's wait (default 0.1)",
    },
    starts: { type: "string", value: "N,N,...", description: "with --protocol: 0-based sequence start indexes (default: the protocol's for the trace)" },
    "estimate-correction": {
      type: "string",
      value: "on|off",
      description: "with --protocol: scale requests by each user's actual/requested of finished jobs (default off; easy, conservative, K, relaxed only)",
    },
    wait: {
      type: "string",
      value: WAIT_READINGS.join("|"),
      description: "with --protocol: w in WFP3/UNICEP, published = -1 - submit as their code (validates), true = now - submit (default published)",
    },
    ...JSON_FLAG,
  },
  notes:
    "Examples:\n  taskgrid sim --workload hetero --placement round_robin --seed 3\n  taskgrid sim --trace src/sim/traces/lublin_256.swf --protocol rlscheduler --order sjf --backfill rlscheduler --json\n  taskgrid sim --trace src/sim/traces/lublin_256.swf --protocol rlscheduler --order wfp3 --wait true\n  taskgrid sim --trace src/sim/traces/KTH-SP2-1996-2.1-cln.swf --protocol rlscheduler --order saf --backfill conservative --estimate-correction on\n",
  async run(args, io) {
    const json = boolFlag(args, "json");
    const seedText = stringFlag(args, "seed");
    const seed = seedText === undefined ? 1 : parseInteger(seedText, "seed", 0);
    const trace = stringFlag(args, "trace");
    const protocol = stringFlag(args, "protocol");
    const waitText = stringFlag(args, "wait");
    if (waitText !== undefined && protocol === undefined) throw new UsageError("--wait needs --protocol rlscheduler");
    if (protocol !== undefined) {
      oneOf(protocol, ["rlscheduler"] as const, "protocol");
      if (trace === undefined) throw new UsageError("--protocol needs --trace FILE");
      const order = oneOf<OrderName>(stringFlag(args, "order") ?? "fcfs", ORDER_NAMES, "order");
      const backfill = backfillFlag(stringFlag(args, "backfill") ?? "none");
      // Published by default so `--protocol rlscheduler` reproduces their cells unless asked otherwise.
      const wait = oneOf<WaitReading>(waitText ?? "published", WAIT_READINGS, "wait");
      const estimateCorrection = oneOf(stringFlag(args, "estimate-correction") ?? "off", ["on", "off"] as const, "estimate-correction") === "on";
      if (estimateCorrection && parseBackfill(backfill).kind !== "reservations")
        throw new UsageError(`--estimate-correction on needs --backfill easy, conservative, K=<n> or relaxed (not ${backfill})`);
      const startsText = stringFlag(args, "starts");
      const starts = startsText === undefined ? undefined : startsText.split(",").map((t) => parseInteger(t.trim(), "starts", 0));
      const result = runProtocol(parseSwf(readFileSync(trace, "utf8")), order, backfill, { wait, starts, estimateCorrection });
      if (json) printJson(io, { trace, protocol, ...result, waitDescription: WAIT_DESCRIPTIONS[wait], waitUsedByOrder: ORDERS_USING_WAIT.includes(order) });
      else {
        const unused = ORDERS_USING_WAIT.includes(order) ? "" : ` (${order} does not use w)`;
        io.out(
          `${trace}: order ${order}, backfill ${backfill}, estimate correction ${estimateCorrection ? "on" : "off"}, wait ${wait}: ${WAIT_DESCRIPTIONS[wait]}${unused}\n`,
        );
        io.out(`  average bounded slowdown  ${result.avgBoundedSlowdown.toFixed(2)}\n  utilisation               ${result.utilisation.toFixed(3)}\n`);
        for (const s of result.sequences) io.out(`  sequence @${s.startIndex}: bsld ${s.avgBoundedSlowdown.toFixed(2)}, util ${s.utilisation.toFixed(3)}\n`);
      }
      return 0;
    }
    const placement = oneOf<PlacementName>(stringFlag(args, "placement") ?? "rts", ["rts", "round_robin"], "placement");
    const ordering = oneOf<OrderingName>(stringFlag(args, "ordering") ?? "priority", ["priority", "fifo", "multifactor"], "ordering");
    const int = (name: string, fallback: number): number => {
      const t = stringFlag(args, name);
      return t === undefined ? fallback : parseInteger(t, name, 1);
    };
    const loadText = stringFlag(args, "load");
    const slaText = stringFlag(args, "sla");
    const csv = stringFlag(args, "csv");
    let workload: Workload;
    const seconds = (flag: string, fallback: number): number => {
      const t = stringFlag(args, flag);
      return t === undefined ? fallback : parseDurationMs(t, flag) / 1000;
    };
    if (trace !== undefined) {
      const projects = oneOf<SwfProjects>(stringFlag(args, "projects") ?? "user", ["user", "group", "none"], "projects");
      workload = swfWorkload(parseSwf(readFileSync(trace, "utf8")), trace, projects);
    } else if (csv !== undefined) {
      const workers = heteroWorkers(mulberry32(seed), int("workers", HETERO_DEFAULTS.workers), HETERO_DEFAULTS);
      workload = { name: "csv", description: `${csv} on ${workers.length} hetero workers`, workers, tasks: parseTaskCsv(readFileSync(csv, "utf8")) };
    } else if (oneOf(stringFlag(args, "workload") ?? "hetero", ["hetero", "noisy-neighbour"] as const, "workload") === "noisy-neighbour") {
      const taskS = seconds("task-time", NOISY_DEFAULTS.taskS);
      if (!(taskS > 0)) throw new UsageError("--task-time: must be longer than 0");
      workload = noisyNeighbourWorkload({
        aTasks: stringFlag(args, "tasks") === undefined ? NOISY_DEFAULTS.aTasks : parseInteger(stringFlag(args, "tasks")!, "tasks", 0),
        gpus: int("workers", NOISY_DEFAULTS.gpus),
        bTasks: stringFlag(args, "b-tasks") === undefined ? NOISY_DEFAULTS.bTasks : parseInteger(stringFlag(args, "b-tasks")!, "b-tasks", 0),
        bDelayS: seconds("b-delay", NOISY_DEFAULTS.bDelayS),
        taskS,
      });
    } else {
      workload = heteroWorkload({
        seed,
        tasks: int("tasks", HETERO_DEFAULTS.tasks),
        workers: int("workers", HETERO_DEFAULTS.workers),
        load: loadText === undefined ? HETERO_DEFAULTS.load : parseNumber(loadText, "load", 0.01, 10),
      });
    }
    const result = simulate(workload, {
      placement,
      ordering,
      sharing: sharingOptions(args),
      seed,
      slaMultiplier: slaText === undefined ? 2.0 : parseNumber(slaText, "sla", 0.1, 100),
      maxCandidates: stringFlag(args, "max-candidates") === undefined ? undefined : int("max-candidates", 8),
      deadlineCandidates: stringFlag(args, "deadline-candidates") === undefined ? undefined : int("deadline-candidates", 32),
    });
    const tasksPerS = workload.tasks.length / (result.wallMs / 1000);
    const sharing =
      result.sharing === null ? {} : { projects: result.sharing.projects, fairness: result.sharing.fairness, borrowedStarts: result.sharing.borrowedStarts };
    if (json) printJson(io, { workload: workload.description, placement, ordering, seed, metrics: result.metrics, ...sharing });
    else {
      io.out(formatMetrics(result.metrics, `${workload.description} — placement ${placement}, ordering ${ordering}`));
      if (result.sharing !== null) io.out(formatSharing(result.sharing));
    }
    io.err(`simulated ${workload.tasks.length} tasks in ${(result.wallMs / 1000).toFixed(2)} s (${Math.round(tasksPerS)} tasks/s)\n`);
    return 0;
  },
};

/** The fair-share and quota flags as the engine's options; undefined: the master's defaults. */
function sharingOptions(args: ParsedArgs): SharingOptions | undefined {
  const halfLife = stringFlag(args, "half-life");
  const tick = stringFlag(args, "usage-tick");
  const file = stringFlag(args, "quota-file");
  if (halfLife === undefined && tick === undefined && file === undefined) return undefined;
  const options: SharingOptions = {};
  if (halfLife !== undefined) options.halfLifeMs = positiveMs(halfLife, "half-life");
  if (tick !== undefined) options.usageTickMs = positiveMs(tick, "usage-tick");
  if (file !== undefined) {
    try {
      Object.assign(options, sharingFromQuotaFile(readFileSync(file, "utf8")));
    } catch (err) {
      throw new UsageError(`--quota-file: ${file}: ${(err as Error).message}`);
    }
  }
  return options;
}

function positiveMs(text: string, flag: string): number {
  const ms = parseDurationMs(text, flag);
  if (!(ms > 0)) throw new UsageError(`--${flag}: must be longer than 0 (got ${text})`);
  return ms;
}

const fixed = (x: number, d: number): string => (Number.isFinite(x) ? x.toFixed(d) : "n/a");

function formatSharing(s: SharingResult): string {
  const j = s.fairness;
  return (
    `per project\n${formatProjectMetrics(s.projects)}` +
    `  Jain's index over decayed usage / shares: ${fixed(j.jain.mean, 3)} over ${fixed(j.jain.contendedS, 0)} s with >= 2 projects with demand` +
    `; backlogged only: ${fixed(j.backloggedJain.mean, 3)} over ${fixed(j.backloggedJain.contendedS, 0)} s\n` +
    (s.borrowedStarts > 0 ? `  attempts started on borrowed quota: ${s.borrowedStarts}\n` : "")
  );
}
