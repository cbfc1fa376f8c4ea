// CPU load as the proto defines it: the 1-minute load average divided by the number of CPUs
// (1.0 = every core busy). Cheap, never fails, and smooth enough for placement.
import { availableParallelism, loadavg } from "node:os";

export function readCpuLoad(): number {
  const cpus = Math.max(1, availableParallelism());
  const load = loadavg()[0];
  return Number.isFinite(load) ? Math.max(0, load / cpus) : 0;
}
