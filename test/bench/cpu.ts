// CPU accounting for "what limited it": the master's CPU (from /proc/PID/stat), the load
// generator's own (process.cpuUsage), and the whole machine's busy share (from /proc/stat), each
// as a delta over a measured window. Linux only; elsewhere the figures read as NaN.
import { readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";

const TICK_MS = 10; // USER_HZ is 100 on every Linux we run on.

/** CPU time (user + system) a process has used so far, in ms. */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS; // utime, stime
  } catch {
    return NaN;
  }
}

const PG_SHARED = /^postgres: .*(walwriter|checkpointer|background writer)\s*$/;

/**
 * CPU so far of each Postgres process that works for `database` (its backends, whose title names
 * the database) or for every database (WAL writer, checkpointer, background writer), by pid. On a
 * shared server other databases' backends are left out, so the figure is this benchmark's.
 */
function postgresCpuByPid(database: string | undefined): Map<number, number> {
  const out = new Map<number, number>();
  if (!database) return out;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const title = readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0+$/, "");
      if (!title.startsWith("postgres:") || !(title.includes(` ${database} `) || PG_SHARED.test(title))) continue;
      out.set(Number(entry), processCpuMs(Number(entry)));
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

function machineTicks(): { busy: number; total: number } {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = v[3] + (v[4] ?? 0);
    const total = v.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

export interface CpuWindow {
  /** Master CPU in cores (1.0 = one core fully busy). */
  master: number;
  /** Postgres processes of the benchmark's database, in cores (backends that ended during the window are missed). */
  postgres: number;
  /** This process (load generator) in cores. */
  loadGen: number;
  /** Whole machine busy, in cores. */
  machine: number;
  cores: number;
}

/** Starts a window; call the returned function at its end. `database`: the Postgres database to count. */
export function cpuWindow(masterPid: number, database?: string): () => CpuWindow {
  const t0 = performance.now();
  const m0 = processCpuMs(masterPid);
  const p0 = postgresCpuByPid(database);
  const l0 = process.cpuUsage();
  const s0 = machineTicks();
  return () => {
    const ms = performance.now() - t0;
    const l = process.cpuUsage(l0);
    const s = machineTicks();
    const cores = cpus().length;
    return {
      master: (processCpuMs(masterPid) - m0) / ms,
      postgres: database ? [...postgresCpuByPid(database)].reduce((sum, [pid, cpu]) => sum + cpu - (p0.get(pid) ?? 0), 0) / ms : NaN,
      loadGen: (l.user + l.system) / 1000 / ms,
      machine: ((s.busy - s0.busy) / (s.total - s0.total)) * cores,
      cores,
    };
  };
}

export function cpuText(c: CpuWindow): string {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "-");
  return `master ${f(c.master)}, Postgres ${f(c.postgres)}, load generator ${f(c.loadGen)}, machine ${f(c.machine)} of ${c.cores} cores`;
}

/** CPU per task in microseconds (cores / tasks per second): "master / Postgres / load generator". */
export function cpuPerTaskText(c: CpuWindow, tasksPerSecond: number): string {
  const us = (cores: number) => (Number.isFinite(cores) ? Math.round((cores / tasksPerSecond) * 1e6).toLocaleString("en-US") : "-");
  return `${us(c.master)} / ${us(c.postgres)} / ${us(c.loadGen)}`;
}
