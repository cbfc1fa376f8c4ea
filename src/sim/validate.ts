// `npm run sim:validate`: the RLScheduler protocol on Lublin-1/2 for FCFS, WFP3, UNICEP, SJF, F1,
// without and with their backfilling, beside the published average bounded slowdown (SC'20
// Tables V/VI); then classic EASY (extra-nodes rule) as our own improvement.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { runProtocol, type BackfillName } from "./batch/rlscheduler.js";
import type { OrderName } from "./batch/orders.js";
import { parseSwf } from "./workloads/swf.js";

export const PUBLISHED_ORDERS: readonly OrderName[] = ["fcfs", "wfp3", "unicep", "sjf", "f1"];
export const PUBLISHED: Record<string, Record<"none" | "rlscheduler", number[]>> = {
  "Lublin-1": { none: [7273.77, 19753.53, 22274.74, 277.35, 258.37], rlscheduler: [235.82, 133.87, 307.23, 73.31, 75.07] },
  "Lublin-2": { none: [7842.47, 9523.18, 11265.31, 787.89, 698.34], rlscheduler: [247.61, 318.35, 379.59, 91.99, 148.25] },
};
export const TRACE_FILES: Record<string, string> = { "Lublin-1": "lublin_256.swf", "Lublin-2": "lublin_256_new2.swf" };

export interface ValidationRow {
  trace: string;
  backfill: BackfillName;
  order: OrderName;
  published: number | null;
  ours: number;
  relErr: number | null;
}

export function validate(tracesDir: string): ValidationRow[] {
  const rows: ValidationRow[] = [];
  for (const [name, file] of Object.entries(TRACE_FILES)) {
    const trace = parseSwf(readFileSync(`${tracesDir}/${file}`, "utf8"));
    for (const backfill of ["none", "rlscheduler", "easy"] as const) {
      PUBLISHED_ORDERS.forEach((order, i) => {
        const ours = runProtocol(trace, order, backfill).avgBoundedSlowdown;
        const published = backfill === "easy" ? null : PUBLISHED[name][backfill][i];
        rows.push({ trace: name, backfill, order, published, ours, relErr: published === null ? null : Math.abs(ours - published) / published });
      });
    }
  }
  return rows;
}

export function formatValidation(rows: readonly ValidationRow[]): string {
  const lines = ["trace     backfill      order    published        ours   rel.err  within 1%"];
  for (const r of rows) {
    const pub = r.published === null ? "-" : r.published.toFixed(2);
    const err = r.relErr === null ? "-" : `${(100 * r.relErr).toFixed(3)}%`;
    const ok = r.relErr === null ? "(ours)" : r.relErr <= 0.01 ? "yes" : "NO";
    lines.push(`${r.trace.padEnd(10)}${r.backfill.padEnd(14)}${r.order.padEnd(9)}${pub.padStart(9)}${r.ours.toFixed(2).padStart(12)}${err.padStart(10)}  ${ok}`);
  }
  const checked = rows.filter((r) => r.relErr !== null);
  const good = checked.filter((r) => r.relErr! <= 0.01).length;
  lines.push(`${good}/${checked.length} published cells reproduced within 1%`);
  return lines.join("\n") + "\n";
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = process.argv[2] ?? new URL("../../../shared/traces", import.meta.url).pathname;
  const rows = validate(dir);
  process.stdout.write(formatValidation(rows));
  process.exit(rows.every((r) => r.relErr === null || r.relErr <= 0.01) ? 0 : 1);
}
