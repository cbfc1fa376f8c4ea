// GPU discovery and utilisation through nvidia-smi. Asynchronous with a hard timeout, so a hung
// driver never blocks the agent. No nvidia-smi on PATH means a machine without GPUs (no error),
// and it is looked for again only every ABSENT_RECHECK_MS: each look is a process start, which
// Node makes by forking the whole agent (its event loop waits for the fork), once per heartbeat
// on every GPU-less machine. A failing or garbled nvidia-smi is a probe error (reported in
// telemetry), never an exception.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Gpu, GpuTelemetry } from "../../src/gen/taskgrid/v1/types.js";
import { parseNvidiaSmiCsv, sysfsPciName } from "./nvidia-smi-csv.js";

export const NVIDIA_SMI_ARGS = ["--query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu,pci.bus_id", "--format=csv,noheader,nounits"];

export interface GpuSample {
  gpus: Gpu[];
  telemetry: GpuTelemetry[];
  /** Why the probe failed (for example "nvidia-smi: exit 9: NVIDIA-SMI has failed ..."), else null. */
  error: string | null;
}

export interface GpuProbeOptions {
  /** Program to run; looked up on env.PATH. Default "nvidia-smi". */
  command?: string;
  timeoutMs?: number;
  /** Environment for the probe (its PATH decides which nvidia-smi runs). Default process.env. */
  env?: NodeJS.ProcessEnv;
  sysfsPciDevices?: string;
  /** How long a missing nvidia-smi is taken as missing before it is looked for again. Default ABSENT_RECHECK_MS. */
  absentRecheckMs?: number;
  /** Milliseconds; default Date.now. */
  now?: () => number;
}

/** A GPU driver installed while the agent runs is seen within a minute. */
export const ABSENT_RECHECK_MS = 60_000;

export class GpuProbe {
  private readonly numaByBusId = new Map<string, number>();
  /** When nvidia-smi was last found missing; null: it was found (or never looked for). */
  private absentSinceMs: number | null = null;

  constructor(private readonly options: GpuProbeOptions = {}) {}

  async sample(): Promise<GpuSample> {
    const now = this.options.now ?? Date.now;
    const absent = { gpus: [], telemetry: [], error: null };
    if (this.absentSinceMs !== null && now() - this.absentSinceMs < (this.options.absentRecheckMs ?? ABSENT_RECHECK_MS)) return absent;
    const run = await this.runNvidiaSmi();
    this.absentSinceMs = run.kind === "absent" ? now() : null;
    if (run.kind === "absent") return absent;
    if (run.kind === "failed") return { gpus: [], telemetry: [], error: run.error };
    const parsed = parseNvidiaSmiCsv(run.stdout);
    if (!parsed.ok) return { gpus: [], telemetry: [], error: parsed.error };
    const gpus = await Promise.all(parsed.gpus.map(async (p) => ({ ...p.gpu, numaNode: await this.numaNode(p.pciBusId) })));
    return { gpus, telemetry: parsed.gpus.map((p) => p.telemetry), error: null };
  }

  private runNvidiaSmi(): Promise<{ kind: "ok"; stdout: string } | { kind: "absent" } | { kind: "failed"; error: string }> {
    const command = this.options.command ?? "nvidia-smi";
    const timeoutMs = this.options.timeoutMs ?? 2_000;
    return new Promise((resolve) => {
      execFile(
        command,
        NVIDIA_SMI_ARGS,
        { timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 1 << 20, env: this.options.env ?? process.env, encoding: "utf8" },
        (err, stdout, stderr) => {
          if (!err) return resolve({ kind: "ok", stdout });
          const e = err as NodeJS.ErrnoException & { code?: string | number; killed?: boolean; signal?: string };
          if (e.code === "ENOENT") return resolve({ kind: "absent" });
          if (e.killed || e.signal) return resolve({ kind: "failed", error: `nvidia-smi: timed out after ${timeoutMs} ms` });
          const said = firstLine(stdout) || firstLine(stderr);
          const why = typeof e.code === "number" ? `exit ${e.code}` : e.message;
          resolve({ kind: "failed", error: `nvidia-smi: ${why}${said ? `: ${said}` : ""}` });
        },
      );
    });
  }

  /** NUMA node of the GPU's PCI device; -1 when unknown. Cached: it cannot change while running. */
  private async numaNode(busId: string): Promise<number> {
    const name = sysfsPciName(busId);
    if (!name) return -1;
    const cached = this.numaByBusId.get(name);
    if (cached !== undefined) return cached;
    const root = this.options.sysfsPciDevices ?? "/sys/bus/pci/devices";
    const text = await readFile(join(root, name, "numa_node"), "utf8").catch(() => "");
    const node = /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : -1;
    this.numaByBusId.set(name, node);
    return node;
  }
}

function firstLine(text: string): string {
  return (
    (text ?? "")
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l !== "")
      ?.slice(0, 200) ?? ""
  );
}
