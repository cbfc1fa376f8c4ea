// A CSV of tasks: header row with the columns submit, duration, cpus, gpus, gpu_model, kind,
// deadline (any order; extra columns ignored). Times in seconds; deadline is absolute (seconds) or
// empty/-1 for none (then derived from sla_multiplier). Workers come from elsewhere (e.g. hetero).
import type { Family, SimTaskSpec } from "../types.js";

const REQUIRED = ["submit", "duration", "cpus", "gpus", "gpu_model", "kind", "deadline"] as const;

function family(kind: string, gpus: number): Family {
  if (gpus > 0 || kind.startsWith("gpu")) return "gpu";
  if (kind.startsWith("io")) return "io";
  return "cpu";
}

export function parseTaskCsv(text: string): SimTaskSpec[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "" && !l.startsWith("#"));
  if (lines.length === 0) throw new Error("CSV is empty");
  const head = lines[0].split(",").map((h) => h.trim().toLowerCase());
  const col: Record<string, number> = {};
  for (const name of REQUIRED) {
    const i = head.indexOf(name);
    if (i < 0) throw new Error(`CSV lacks column "${name}" (has ${head.join(",")})`);
    col[name] = i;
  }
  const tasks: SimTaskSpec[] = [];
  for (let n = 1; n < lines.length; n++) {
    const cells = lines[n].split(",").map((c) => c.trim());
    const num = (name: string, min: number): number => {
      const v = Number(cells[col[name]]);
      if (!Number.isFinite(v) || v < min) throw new Error(`CSV line ${n + 1}: ${name} "${cells[col[name]] ?? ""}" is not a number >= ${min}`);
      return v;
    };
    const submit = num("submit", 0);
    const duration = num("duration", 0);
    const cpus = num("cpus", 0);
    const gpus = num("gpus", 0);
    const deadlineText = cells[col.deadline] ?? "";
    const deadline = deadlineText === "" || Number(deadlineText) < 0 ? null : num("deadline", 0);
    const kind = cells[col.kind] || "default";
    tasks.push({
      id: `csv-${n}`,
      submitMs: Math.round(submit * 1000),
      runtimeMs: Math.round(duration * 1000),
      estimateMs: Math.round(duration * 1000),
      deadlineMs: deadline === null ? null : Math.round(deadline * 1000),
      kind,
      family: family(kind, gpus),
      cpuMillis: Math.round(cpus * 1000),
      memoryMib: 0,
      gpuCount: gpus,
      gpuModel: cells[col.gpu_model] ?? "",
      ioIntensity: kind.startsWith("io") ? 0.8 : 0,
      requiredTags: [],
      preferredTags: [],
      maxRetries: 0,
    });
  }
  return tasks;
}
