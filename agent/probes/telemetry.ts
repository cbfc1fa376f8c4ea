// Combines the probes into one Telemetry sample. Probes run asynchronously and the heartbeat
// sends the last *completed* sample, so a slow probe (a hung nvidia-smi) never delays liveness.
// A failing probe lands in probe_errors; sampling never throws.
import type { Gpu, Telemetry } from "../../src/gen/taskgrid/v1/types.js";
import { readCpuLoad } from "./cpu.js";
import { GpuProbe, type GpuSample } from "./gpu.js";
import { IoPressureProbe } from "./io.js";
import { readMemory, type MemorySample } from "./memory.js";

export interface TelemetrySources {
  cpuLoad(): number | Promise<number>;
  memory(): Promise<MemorySample>;
  ioPressure(): Promise<number>;
  gpus(): Promise<GpuSample>;
}

export function defaultSources(gpuProbe: GpuProbe = new GpuProbe()): TelemetrySources {
  const io = new IoPressureProbe();
  return { cpuLoad: readCpuLoad, memory: () => readMemory(), ioPressure: () => io.sample(), gpus: () => gpuProbe.sample() };
}

export class TelemetrySampler {
  private last: Telemetry | null = null;
  private lastGpuInventory: Gpu[] = [];
  private inFlight: Promise<Telemetry> | null = null;

  constructor(
    private readonly sources: TelemetrySources,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts a sample unless one is already running; resolves with that sample once complete. */
  tick(): Promise<Telemetry> {
    this.inFlight ??= this.sample().finally(() => (this.inFlight = null));
    return this.inFlight;
  }

  /** The last completed sample, or null before the first one completed. */
  latest(): Telemetry | null {
    return this.last;
  }

  /** GPUs found by the last sample whose GPU probe succeeded. */
  gpus(): Gpu[] {
    return this.lastGpuInventory;
  }

  private async sample(): Promise<Telemetry> {
    const [cpu, memory, io, gpu] = await Promise.allSettled([
      Promise.resolve().then(() => this.sources.cpuLoad()),
      this.sources.memory(),
      this.sources.ioPressure(),
      this.sources.gpus(),
    ]);
    const errors: string[] = [];
    const value = <T>(name: string, r: PromiseSettledResult<T>, fallback: T): T => {
      if (r.status === "fulfilled") return r.value;
      errors.push(`${name}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`);
      return fallback;
    };
    const mem = value("memory", memory, { totalMib: 0, usedMib: 0 });
    const gpus = value("gpu", gpu, { gpus: [], telemetry: [], error: null });
    if (gpus.error) errors.push(gpus.error);
    else if (gpu.status === "fulfilled") this.lastGpuInventory = gpus.gpus;
    const telemetry: Telemetry = {
      sampledAt: new Date(this.now()),
      cpuLoad: value("cpu", cpu, 0),
      memoryUsedMib: mem.usedMib,
      memoryTotalMib: mem.totalMib,
      ioPressure: value("io", io, 0),
      runningAttempts: 0, // Filled in by the agent when it sends the sample.
      gpus: gpus.telemetry,
      probeErrors: errors,
    };
    this.last = telemetry;
    return telemetry;
  }
}
