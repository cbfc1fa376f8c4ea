// The values of sbatch's options in Slurm's own formats (times, memory with its MB default, gres,
// dependencies, --export), turned into Taskgrid's. Pure; each error names the option and the form.
import { QueueClass } from "../gen/taskgrid/v1/types.js";
import { UsageError } from "./usage-error.js";

const TIME_FORMS = "MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS";

/**
 * -t/--time: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS -> ms. 0, INFINITE and UNLIMITED mean
 * no limit (0, Taskgrid's "none").
 */
export function parseSlurmTimeMs(text: string, flag = "time"): number {
  const s = text.trim();
  if (/^(infinite|unlimited)$/i.test(s)) return 0;
  const bad = () => new UsageError(`--${flag}: "${text}" is not a Slurm time (${TIME_FORMS})`);
  const m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(s);
  if (!m) throw bad();
  const [, days, a, b, c] = m;
  const n = (x: string | undefined) => (x === undefined ? 0 : Number(x));
  let seconds: number;
  if (days !== undefined) {
    seconds = n(days) * 86_400 + n(a) * 3600 + n(b) * 60 + n(c); // D-HH[:MM[:SS]]
  } else if (c !== undefined) {
    seconds = n(a) * 3600 + n(b) * 60 + n(c); // HH:MM:SS
  } else {
    seconds = n(a) * 60 + n(b); // MM or MM:SS
  }
  if (!Number.isSafeInteger(seconds * 1000)) throw bad();
  return seconds * 1000;
}

const MEMORY_UNITS_MIB: Record<string, number> = { K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024 };

/** --mem: a whole number of megabytes (Slurm's default unit), or with K, M, G or T -> MiB (rounded up). */
export function parseSlurmMemoryMib(text: string, flag = "mem"): number {
  const m = /^(\d+)([KMGT]?)B?$/i.exec(text.trim());
  if (!m) throw new UsageError(`--${flag}: "${text}" is not a Slurm memory size (megabytes like 4000, or 500K, 4G, 1T)`);
  const mib = Math.ceil(Number(m[1]) * MEMORY_UNITS_MIB[(m[2] || "M").toUpperCase()]);
  if (mib === 0) throw new UsageError(`--${flag}: ${text} asks for all of a node's memory, which Taskgrid does not do: give an amount`);
  return mib;
}

export interface GpuRequest {
  count: number;
  /** Slurm's GPU type, matched as a substring of the worker's GPU model (a100 -> "NVIDIA A100-SXM4-80GB"). */
  model: string;
}

/** --gres=gpu[:TYPE][:N][,...]: only GPUs (a worker has no other generic resources). */
export function parseGres(text: string, flag = "gres"): GpuRequest {
  const items = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "" && s.toLowerCase() !== "none");
  if (items.length === 0) return { count: 0, model: "" };
  if (items.length > 1) throw new UsageError(`--${flag}: "${text}": only one gres, gpu, is supported`);
  const parts = items[0].replace(/^gres\//, "").split(":");
  if (parts[0] !== "gpu") throw new UsageError(`--${flag}: "${text}": only gpu is supported (gpu, gpu:N or gpu:TYPE:N)`);
  if (parts.length > 3) throw new UsageError(`--${flag}: "${text}" is not gpu, gpu:N or gpu:TYPE:N`);
  const last = parts.length > 1 ? parts[parts.length - 1] : "1";
  const hasCount = /^\d+$/.test(last);
  if (parts.length === 3 && !hasCount) throw new UsageError(`--${flag}: "${text}": the GPU count must be a whole number`);
  const count = hasCount ? Number(last) : 1;
  const model = parts.length === 3 || (parts.length === 2 && !hasCount) ? parts[1] : "";
  return { count: checkGpuCount(count, text, flag), model };
}

/** --gpus/-G, --gpus-per-node, --gpus-per-task: [TYPE:]N. */
export function parseGpus(text: string, flag = "gpus"): GpuRequest {
  const m = /^(?:([^:,\s]+):)?(\d+)$/.exec(text.trim());
  if (!m) throw new UsageError(`--${flag}: "${text}" is not a GPU count ([TYPE:]N, e.g. 2 or a100:2)`);
  return { count: checkGpuCount(Number(m[2]), text, flag), model: m[1] ?? "" };
}

function checkGpuCount(count: number, text: string, flag: string): number {
  if (count > 1024) throw new UsageError(`--${flag}: "${text}": ${count} GPUs is more than any machine has`);
  return count;
}

export interface Dependencies {
  after: string[];
  afterAny: string[];
  afterFail: string[];
}

/**
 * -d/--dependency: afterok:ID[:ID...], afterany:..., afternotok:..., several joined by "," (all
 * must hold). An array element is ID_N in Slurm and ID[N] in Taskgrid; both are taken. Slurm's "?"
 * (any of), after (started), aftercorr and singleton have no Taskgrid counterpart: refused.
 */
export function parseDependency(text: string, flag = "dependency"): Dependencies {
  const deps: Dependencies = { after: [], afterAny: [], afterFail: [] };
  if (text.includes("?")) throw new UsageError(`--${flag}: "${text}": "?" (any one of) is not supported; "," (all of) is`);
  for (const item of text.split(",")) {
    const [kind, ...ids] = item.trim().split(":");
    const list = { afterok: deps.after, afterany: deps.afterAny, afternotok: deps.afterFail }[kind];
    if (list === undefined) {
      throw new UsageError(`--${flag}: "${item.trim()}": only afterok, afterany and afternotok are supported (e.g. afterok:ID[:ID])`);
    }
    if (ids.length === 0 || ids.some((id) => id.trim() === "")) throw new UsageError(`--${flag}: "${item.trim()}" names no job id`);
    for (const id of ids) {
      if (id.includes("+")) throw new UsageError(`--${flag}: "${item.trim()}": a delay (+minutes) is not supported`);
      list.push(id.trim().replace(/^(.+)_(\d+)$/, "$1[$2]"));
    }
  }
  return deps;
}

/** Variables that describe the submitting shell, not the job (sbatch's --export=ALL drops them too), and Taskgrid's own (its token among them). */
const NOT_EXPORTED = new Set(["PWD", "OLDPWD", "SHLVL", "_"]);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function exportable(name: string): boolean {
  return !NOT_EXPORTED.has(name) && !name.startsWith("TASKGRID_") && ENV_NAME.test(name);
}

/**
 * --export: ALL (the default: the submitter's environment, less the variables above and names a
 * task cannot carry, such as bash's BASH_FUNC_f%%), NONE, or a list of VAR (copied from the
 * submitter) and VAR=value, which may start with ALL or NONE.
 */
export function exportedEnv(text: string, submitterEnv: Record<string, string | undefined>, flag = "export"): Record<string, string> {
  const out: Record<string, string> = {};
  const all = () => {
    for (const [k, v] of Object.entries(submitterEnv)) if (v !== undefined && exportable(k)) out[k] = v;
  };
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "" || item.toUpperCase() === "NONE") continue;
    if (item.toUpperCase() === "ALL") {
      all();
      continue;
    }
    const eq = item.indexOf("=");
    const name = eq < 0 ? item : item.slice(0, eq);
    if (!ENV_NAME.test(name)) throw new UsageError(`--${flag}: "${name}" is not a variable name`);
    if (eq >= 0) out[name] = item.slice(eq + 1);
    else if (submitterEnv[name] !== undefined) out[name] = submitterEnv[name]!;
  }
  return out;
}

/**
 * -p/--partition: a name of a queue class (live, default, batch; any case) picks that class; any
 * other name is a group of machines, as a Slurm partition is: a tag the worker must have (start
 * the partition's agents with --tags NAME).
 */
export function partitionTarget(text: string, flag = "partition"): { queueClass: QueueClass } | { tag: string } {
  const name = text.trim();
  if (name === "") throw new UsageError(`--${flag}: the partition name is empty`);
  if (name.includes(",")) throw new UsageError(`--${flag}: "${text}": give one partition (Taskgrid picks no partition out of several)`);
  const queueClass = { live: QueueClass.QUEUE_CLASS_LIVE, default: QueueClass.QUEUE_CLASS_DEFAULT, batch: QueueClass.QUEUE_CLASS_BATCH }[name.toLowerCase()];
  return queueClass === undefined ? { tag: name } : { queueClass };
}

/** -C/--constraint: FEATURE or FEATURE&FEATURE... -> tags the worker must all have. */
export function constraintTags(text: string, flag = "constraint"): string[] {
  if (/[|[\]*]/.test(text)) throw new UsageError(`--${flag}: "${text}": only features joined by & (all of them) are supported`);
  const tags = text
    .split(/[&,]/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (tags.length === 0) throw new UsageError(`--${flag}: the constraint is empty`);
  return tags;
}

/** -N/--nodes, -n/--ntasks, --ntasks-per-node: Taskgrid runs a job as one process on one machine. */
export function checkOne(text: string, flag: string, what: string): void {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  if (!m) throw new UsageError(`--${flag}: "${text}" is not a whole number`);
  if (Number(m[1]) !== 1 || (m[2] !== undefined && Number(m[2]) !== 1)) {
    throw new UsageError(`--${flag}=${text}: Taskgrid runs a job as one ${what}; only 1 is supported`);
  }
}

/** -c/--cpus-per-task: a whole number of CPUs. */
export function parseCpusPerTask(text: string, flag = "cpus-per-task"): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1) throw new UsageError(`--${flag}: "${text}" is not a whole number of CPUs (>= 1)`);
  if (Number(text) > 1024) throw new UsageError(`--${flag}: ${text} CPUs is more than any machine has`);
  return Number(text);
}
