// The policy lab's grid: every order x backfill x estimate-correction combination Taskgrid ships
// for the batch protocol, run on one trace, plus training windows for choosing a policy without
// looking at the reported sequences (a choice made on the reported sequences is optimistic).
import type { BackfillName } from "./backfill-spec.js";
import { parseBackfill } from "./backfill-spec.js";
import type { OrderName } from "./orders.js";
import { runProtocol } from "./rlscheduler.js";
import { SEQUENCE_LENGTH } from "./starts.js";
import type { SwfTrace } from "../workloads/swf.js";

export const GRID_ORDERS: readonly OrderName[] = ["fcfs", "sjf", "wfp3", "unicep", "f1", "saf", "lxf", "saf-aged"];
export const GRID_BACKFILLS: readonly BackfillName[] = ["none", "rlscheduler", "committed-head", "easy", "K=4", "conservative", "relaxed", "relaxed=0.5"];

export interface Policy {
  order: OrderName;
  backfill: BackfillName;
  estimateCorrection: boolean;
}

export interface Cell extends Policy {
  bsld: number;
}

/** Estimate correction applies only to the re-planning backfills (see rlscheduler.ts). */
export function gridPolicies(): Policy[] {
  const out: Policy[] = [];
  for (const backfill of GRID_BACKFILLS)
    for (const estimateCorrection of [false, true]) {
      if (estimateCorrection && parseBackfill(backfill).kind !== "reservations") continue;
      for (const order of GRID_ORDERS) out.push({ order, backfill, estimateCorrection });
    }
  return out;
}

/**
 * Runs every policy on the given sequences. WFP3/UNICEP use the true waiting time (the policies as
 * defined); the published reading is only for reproducing their cells (validate.ts).
 */
export function runGrid(trace: SwfTrace, starts?: readonly number[]): Cell[] {
  return gridPolicies().map((p) => ({
    ...p,
    bsld: runProtocol(trace, p.order, p.backfill, { starts, wait: "true", estimateCorrection: p.estimateCorrection }).avgBoundedSlowdown,
  }));
}

/** Up to `count` windows of SEQUENCE_LENGTH jobs in [1024, n) that share no job with `avoid`'s windows. */
export function disjointWindows(n: number, avoid: readonly number[], count = 10): number[] {
  const out: number[] = [];
  const clash = (s: number): number | undefined => avoid.find((a) => s < a + SEQUENCE_LENGTH && a < s + SEQUENCE_LENGTH);
  for (let s = SEQUENCE_LENGTH; s + SEQUENCE_LENGTH <= n && out.length < count; ) {
    const a = clash(s);
    if (a === undefined) {
      out.push(s);
      s += SEQUENCE_LENGTH;
    } else s = a + SEQUENCE_LENGTH;
  }
  return out;
}

export const policyName = (p: Policy): string => `${p.order} + ${p.backfill}${p.estimateCorrection ? " + estimate correction" : ""}`;

export const best = (cells: readonly Cell[]): Cell => cells.reduce((a, b) => (b.bsld < a.bsld ? b : a));

export const sameAs =
  (p: Policy) =>
  (c: Policy): boolean =>
    c.order === p.order && c.backfill === p.backfill && c.estimateCorrection === p.estimateCorrection;
