// Small helpers shared by the benchmark modules: quantiles, number formatting, and one table
// rendered both for the terminal and for docs/benchmarks.md.

/** The median of the finite values (the mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 ? finite[mid] : (finite[mid - 1] + finite[mid]) / 2;
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** 12,345 (no decimals) or 12.3 (one decimal under 100). */
export function num(n: number): string {
  if (!Number.isFinite(n)) return "-";
  return Math.abs(n) < 100 && !Number.isInteger(n) ? n.toFixed(1) : Math.round(n).toLocaleString("en-US");
}

export const mib = (bytes: number) => `${num(bytes / 2 ** 20)} MiB`;

export function verdict(met: boolean): string {
  return met ? "met" : "MISSED";
}

export interface Table {
  header: string[];
  rows: string[][];
}

export function tableText(t: Table): string {
  const widths = t.header.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (c ?? "").padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return [line(t.header), ...t.rows.map(line)].join("\n");
}

export function tableMarkdown(t: Table): string {
  return [`| ${t.header.join(" | ")} |`, `| ${t.header.map(() => "---").join(" | ")} |`, ...t.rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it returns true or `timeoutMs` passes; returns whether it did. */
export async function pollUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (performance.now() > end) return false;
    await sleep(everyMs);
  }
}
