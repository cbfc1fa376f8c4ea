// IO pressure in [0,1]. Preferred: Linux PSI "some avg10" / 100 (/proc/pressure/io), the share of
// the last 10 s in which at least one task stalled on IO. Kernels without PSI fall back to the
// iowait share of CPU time between two samples of /proc/stat. Hosts with neither report 0.
import { readFile } from "node:fs/promises";

export function parseIoPressure(text: string): number | null {
  const m = /^some\b.*?\bavg10=([0-9.]+)/m.exec(text);
  if (!m) return null;
  const value = Number(m[1]) / 100;
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : null;
}

/** CPU time counters of the aggregate "cpu" line of /proc/stat: total and iowait (jiffies). */
export function parseCpuTimes(text: string): { total: number; iowait: number } | null {
  const m = /^cpu\s+(.+)$/m.exec(text);
  if (!m) return null;
  const fields = m[1].trim().split(/\s+/).map(Number);
  if (fields.length < 5 || fields.some((f) => !Number.isFinite(f))) return null;
  // user nice system idle iowait irq softirq steal (guest fields are already inside user/nice)
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return { total, iowait: fields[4] };
}

/** The iowait share between two samples, in [0,1]; null when no time passed. */
export function iowaitShare(before: { total: number; iowait: number }, after: { total: number; iowait: number }): number | null {
  const total = after.total - before.total;
  if (!(total > 0)) return null;
  return Math.min(1, Math.max(0, (after.iowait - before.iowait) / total));
}

export class IoPressureProbe {
  private lastCpuTimes: { total: number; iowait: number } | null = null;

  constructor(private readonly paths = { psi: "/proc/pressure/io", stat: "/proc/stat" }) {}

  async sample(): Promise<number> {
    const psi = parseIoPressure(await readFile(this.paths.psi, "utf8").catch(() => ""));
    if (psi !== null) return psi;
    const now = parseCpuTimes(await readFile(this.paths.stat, "utf8").catch(() => ""));
    if (!now) return 0;
    const before = this.lastCpuTimes;
    this.lastCpuTimes = now;
    return (before && iowaitShare(before, now)) ?? 0;
  }
}
