// Every figure of every round, by measure and side, so the report can give each run and the median.
// Figures on a shared machine swing by up to 2x between runs: medians over alternating rounds.

import { median } from "../report.js";

export const SIDES = ["Taskgrid", "pg-boss", "graphile-worker"] as const;
export type Side = (typeof SIDES)[number];

export class RunLog {
  /** measure -> side -> one value per round (in round order). */
  private readonly runs = new Map<string, Map<Side, number[]>>();

  add(measure: string, side: Side, value: number): void {
    let bySide = this.runs.get(measure);
    if (!bySide) this.runs.set(measure, (bySide = new Map()));
    let values = bySide.get(side);
    if (!values) bySide.set(side, (values = []));
    values.push(value);
  }

  values(measure: string, side: Side): number[] {
    return this.runs.get(measure)?.get(side) ?? [];
  }

  median(measure: string, side: Side): number {
    return median(this.values(measure, side));
  }

  /** [measure, side, values] for every figure recorded, in the order first recorded. */
  *entries(): Iterable<[string, Side, number[]]> {
    for (const [measure, bySide] of this.runs) for (const side of SIDES) if (bySide.has(side)) yield [measure, side, bySide.get(side)!];
  }
}
