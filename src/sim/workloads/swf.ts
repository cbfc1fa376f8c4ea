// Standard Workload Format (Parallel Workloads Archive): one job per line, 18 whitespace-separated
// fields, -1 = unknown; lines starting with ';' are header comments ("; MaxProcs: 100").
import type { SimTaskSpec, SimWorkerSpec, Workload } from "../types.js";

export interface SwfJob {
  id: number;
  submit: number;
  wait: number;
  run: number;
  allocProcs: number;
  avgCpu: number;
  usedMem: number;
  reqProcs: number;
  reqTime: number;
  reqMem: number;
  status: number;
  user: number;
  group: number;
  exe: number;
  queue: number;
  partition: number;
  preceding: number;
  think: number;
}

export interface SwfTrace {
  header: Record<string, string>;
  maxProcs: number | null;
  maxNodes: number | null;
  jobs: SwfJob[];
}

const FIELDS = [
  "id",
  "submit",
  "wait",
  "run",
  "allocProcs",
  "avgCpu",
  "usedMem",
  "reqProcs",
  "reqTime",
  "reqMem",
  "status",
  "user",
  "group",
  "exe",
  "queue",
  "partition",
  "preceding",
  "think",
] as const;

export function parseSwf(text: string): SwfTrace {
  const header: Record<string, string> = {};
  const jobs: SwfJob[] = [];
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (line === "") continue;
    if (line.startsWith(";")) {
      const m = /^;\s*([A-Za-z][\w ]*?)\s*:\s*(.*)$/.exec(line);
      if (m && !(m[1] in header)) header[m[1]] = m[2].trim();
      continue;
    }
    const parts = line.split(/\s+/);
    if (parts.length < 18) throw new Error(`SWF line ${n + 1}: ${parts.length} fields, expected 18`);
    const job = {} as Record<string, number>;
    for (let i = 0; i < 18; i++) {
      const v = Number(parts[i]);
      if (!Number.isFinite(v)) throw new Error(`SWF line ${n + 1}: field ${i + 1} is not a number: ${parts[i]}`);
      job[FIELDS[i]] = v;
    }
    jobs.push(job as unknown as SwfJob);
  }
  const num = (k: string): number | null => {
    const v = header[k] === undefined ? NaN : parseInt(header[k], 10);
    return Number.isFinite(v) && v > 0 ? v : null;
  };
  return { header, maxProcs: num("MaxProcs"), maxNodes: num("MaxNodes"), jobs };
}

/**
 * Which SWF field becomes a task's project: the user id (field 12, "user-<id>"; the default), the
 * group id (field 13, "group-<id>"), or none (every job in project "sim"). An id of -1 (unknown)
 * becomes "user-unknown" / "group-unknown". On KTH-SP2 the group ids are no coarser than the users
 * (252 groups, 214 users), so users are the natural tenants.
 */
export type SwfProjects = "user" | "group" | "none";

export function swfProject(job: SwfJob, by: SwfProjects): string | undefined {
  if (by === "none") return undefined;
  const id = by === "user" ? job.user : job.group;
  return `${by}-${id >= 0 ? id : "unknown"}`;
}

/**
 * An SWF trace as a general simulator workload: one worker with MaxProcs cores (a rigid job needs
 * all its processors at once; the core places a task on one worker), each job a task of
 * procs x 1000 cpu millis; estimate = requested time (else the run time); jobs with run time <= 0
 * are dropped. Deadlines from sla_multiplier x estimate. Projects per `projects` (swfProject).
 */
export function swfWorkload(trace: SwfTrace, name = "swf", projects: SwfProjects = "user"): Workload {
  const procs = trace.maxProcs ?? trace.maxNodes ?? Math.max(1, ...trace.jobs.map((j) => Math.max(j.allocProcs, j.reqProcs)));
  const worker: SimWorkerSpec = {
    id: "machine",
    tags: [],
    cpuMillis: procs * 1000,
    memoryMib: 1 << 30,
    maxTasks: procs,
    gpus: [],
    speed: { cpu: 1, gpu: 1, io: 1 },
    failureRate: 0,
  };
  const t0 = trace.jobs.length > 0 ? Math.min(...trace.jobs.map((j) => j.submit)) : 0;
  const tasks: SimTaskSpec[] = [];
  for (const j of trace.jobs) {
    if (j.run <= 0) continue;
    const p = Math.min(procs, Math.max(1, j.allocProcs, j.reqProcs));
    tasks.push({
      id: `job-${j.id}`,
      project: swfProject(j, projects),
      submitMs: (j.submit - t0) * 1000,
      runtimeMs: j.run * 1000,
      estimateMs: (j.reqTime > 0 ? j.reqTime : j.run) * 1000,
      deadlineMs: null,
      kind: "swf",
      family: "cpu",
      cpuMillis: p * 1000,
      memoryMib: 0,
      gpuCount: 0,
      gpuModel: "",
      ioIntensity: 0,
      requiredTags: [],
      preferredTags: [],
      maxRetries: 0,
    });
  }
  return { name, description: `SWF ${name}: ${tasks.length} jobs on ${procs} processors`, workers: [worker], tasks };
}
