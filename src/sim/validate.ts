// `npm run sim:validate`: the RLScheduler protocol on Lublin-1/2 for FCFS, WFP3, UNICEP, SJF, F1,
// without and with their backfilling, beside the published average bounded slowdown (SC'20
// Tables V/VI); then the committed-head variant (an EASY test while the head is committed; formerly
// "easy") as our own. A second table runs
// WFP3/UNICEP with the true waiting time (w = now - submit) beside the published reading
// (w = -1 - submit), which is the one their cells come from (see batch/orders.ts).
import { TRACES_DIR } from "./data-dirs.js";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { runProtocol, type BackfillName } from "./batch/rlscheduler.js";
import { ORDERS_USING_WAIT, WAIT_DESCRIPTIONS, type OrderName } from "./batch/orders.js";
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
    for (const backfill of ["none", "rlscheduler", "committed-head"] as const) {
      PUBLISHED_ORDERS.forEach((order, i) => {
        const ours = runProtocol(trace, order, backfill).avgBoundedSlowdown;
        const published = backfill === "committed-head" ? null : PUBLISHED[name][backfill][i];
        rows.push({ trace: name, backfill, order, published, ours, relErr: published === null ? null : Math.abs(ours - published) / published });
      });
    }
  }
  return rows;
}

export function formatValidation(rows: readonly ValidationRow[]): string {
  const lines = ["trace     backfill        order    published        ours   rel.err  within 1%"];
  for (const r of rows) {
    const pub = r.published === null ? "-" : r.published.toFixed(2);
    const err = r.relErr === null ? "-" : `${(100 * r.relErr).toFixed(3)}%`;
    const ok = r.relErr === null ? "(ours)" : r.relErr <= 0.01 ? "yes" : "NO";
    lines.push(
      `${r.trace.padEnd(10)}${r.backfill.padEnd(16)}${r.order.padEnd(9)}${pub.padStart(9)}${r.ours.toFixed(2).padStart(12)}${err.padStart(10)}  ${ok}`,
    );
  }
  const checked = rows.filter((r) => r.relErr !== null);
  const good = checked.filter((r) => r.relErr! <= 0.01).length;
  lines.push(`${good}/${checked.length} published cells reproduced within 1%`);
  return `${lines.join("\n")}\n`;
}

/** WFP3/UNICEP under both readings of `w`; the published-reading figures are taken from `rows`. */
export interface TrueWaitRow {
  trace: string;
  backfill: BackfillName;
  order: OrderName;
  published: number | null;
  oursPublishedW: number;
  oursTrueW: number;
}

export function validateTrueWait(tracesDir: string, rows: readonly ValidationRow[]): TrueWaitRow[] {
  const out: TrueWaitRow[] = [];
  for (const [name, file] of Object.entries(TRACE_FILES)) {
    const trace = parseSwf(readFileSync(`${tracesDir}/${file}`, "utf8"));
    for (const backfill of ["none", "rlscheduler", "committed-head"] as const) {
      for (const order of ORDERS_USING_WAIT) {
        const base = rows.find((r) => r.trace === name && r.backfill === backfill && r.order === order);
        if (base === undefined) throw new Error(`no published-reading row for ${name} ${backfill} ${order}`);
        const oursTrueW = runProtocol(trace, order, backfill, { wait: "true" }).avgBoundedSlowdown;
        out.push({ trace: name, backfill, order, published: base.published, oursPublishedW: base.ours, oursTrueW });
      }
    }
  }
  return out;
}

export function formatTrueWait(rows: readonly TrueWaitRow[]): string {
  const lines = [
    `WFP3/UNICEP by reading of w. published w: ${WAIT_DESCRIPTIONS.published}; true w: ${WAIT_DESCRIPTIONS.true}`,
    "trace     backfill        order    published  ours (published w)  ours (true w)  true/published w",
  ];
  for (const r of rows) {
    const pub = r.published === null ? "-" : r.published.toFixed(2);
    const ratio = `${(r.oursTrueW / r.oursPublishedW).toFixed(3)}x`;
    lines.push(
      `${r.trace.padEnd(10)}${r.backfill.padEnd(16)}${r.order.padEnd(9)}${pub.padStart(9)}${r.oursPublishedW.toFixed(2).padStart(20)}${r.oursTrueW.toFixed(2).padStart(15)}${ratio.padStart(18)}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = process.argv[2] ?? TRACES_DIR;
  const rows = validate(dir);
  process.stdout.write(formatValidation(rows));
  process.stdout.write(`\n${formatTrueWait(validateTrueWait(dir, rows))}`);
  process.exit(rows.every((r) => r.relErr === null || r.relErr <= 0.01) ? 0 : 1);
}
