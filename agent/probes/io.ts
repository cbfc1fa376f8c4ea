// IO pressure in [0,1] from Linux PSI: "some avg10" / 100, the share of the last 10 s in which
// at least one task stalled on IO. Kernels without PSI (or non-Linux hosts) report 0, no error.
import { readFile } from "node:fs/promises";

export function parseIoPressure(text: string): number | null {
  const m = /^some\b.*?\bavg10=([0-9.]+)/m.exec(text);
  if (!m) return null;
  const value = Number(m[1]) / 100;
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : null;
}

export async function readIoPressure(psiPath = "/proc/pressure/io"): Promise<number> {
  const text = await readFile(psiPath, "utf8").catch(() => "");
  return parseIoPressure(text) ?? 0;
}
