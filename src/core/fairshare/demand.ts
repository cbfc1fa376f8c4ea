// The resource vocabulary of quotas (issue 15): what one running attempt counts against its
// project's quota (taskDemand), and which quotas an operator may write (validateQuota). Both sides
// share the keys of Amounts (fairshare/types.ts): "cpu" (cores), "memory" (GiB), "gpu", "tasks",
// and "gpu:<model>".
//
// GPU models. Agents report model names as the driver prints them ("NVIDIA H100 80GB HBM3"), while
// an operator writes a quota as "gpu:h100". A demand therefore carries each GPU's model as a key
// (gpuModelKey: lower-cased, every run of characters outside [a-z0-9._-] turned into one "-", so
// "gpu:nvidia-h100-80gb-hbm3"), and a quota's "gpu:<model>" counts every GPU whose model key
// contains <model>, the same substring rule a task's `gpuModel` request uses (feasibility.ts). So
// "gpu:h100" covers every H100 variant and "gpu:a100-sxm4-80gb" only that one (see amountOn).
import { InvalidArgumentError } from "../errors.js";
import { noNul } from "../text-rules.js";
import type { Gpu, ResourceRequest } from "../types.js";
import type { Amounts, DefaultQuota, ProjectQuota } from "./types.js";

/** The resource keys a quota may name besides "gpu:<model>". */
export const RESOURCE_KEYS = ["cpu", "memory", "gpu", "tasks"] as const;

/** Prefix of the per-model GPU keys. */
export const GPU_MODEL_PREFIX = "gpu:";

/**
 * Largest amount a quota or limit may name. A billion cores, GiB, GPUs or tasks is beyond any
 * fleet; a bigger number is a typo (or an attempt at "unlimited", which is said by leaving the
 * resource out), and refusing it keeps sums far from the range where floating point loses units.
 */
export const MAX_QUOTA_AMOUNT = 1e9;

/** Longest project name a quota row may carry. */
export const MAX_QUOTA_PROJECT_LENGTH = 128;

/** A quota's GPU model: what follows "gpu:", after lower-casing. */
const QUOTA_MODEL = /^[a-z0-9._-]{1,64}$/;

/**
 * Model keys by model name. A fleet has a handful of GPU models, and a quota check runs for every
 * candidate worker of every GPU task a pass looks at: the two regex passes per GPU were most of a
 * GPU placement's quota cost. Bounded: names come from agents, so a misbehaving one cannot grow it.
 */
const modelKeys = new Map<string, string>();
const MAX_MODEL_KEYS = 1024;

/** The model part of a "gpu:<model>" key for a GPU model name as the agent reports it. */
export function gpuModelKey(model: string): string {
  let key = modelKeys.get(model);
  if (key === undefined) {
    key = model
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, "-")
      .replace(/^-+|-+$/g, "");
    if (modelKeys.size >= MAX_MODEL_KEYS) modelKeys.clear();
    modelKeys.set(model, key);
  }
  return key;
}

/**
 * What one attempt holds while it runs, in quota units: cpu in cores, memory in GiB, gpu in GPUs,
 * tasks = 1, and one "gpu:<model key>" per allocated GPU. Zero amounts are left out. `gpuModels`
 * are the models of the GPUs actually allocated (gpuModelsOf); before a worker is chosen, pass []
 * for a demand that checks everything but the per-model quotas.
 */
export function taskDemand(resources: ResourceRequest, gpuModels: readonly string[]): Record<string, number> {
  const demand: Record<string, number> = { tasks: 1 };
  if (resources.cpuMillis > 0) demand.cpu = resources.cpuMillis / 1000;
  if (resources.memoryMib > 0) demand.memory = resources.memoryMib / 1024;
  if (resources.gpuCount > 0) demand.gpu = resources.gpuCount;
  for (const model of gpuModels) {
    const key = gpuModelKey(model);
    // A GPU without a model name still counts under "gpu"; no per-model quota can name it.
    if (key === "") continue;
    const k = GPU_MODEL_PREFIX + key;
    demand[k] = (demand[k] ?? 0) + 1;
  }
  return demand;
}

/**
 * The model names of the GPUs at `gpuIndexes` on a worker with these GPUs. An index the worker
 * does not list is skipped rather than thrown on: a worker may re-register with fewer GPUs while
 * attempts placed earlier still run, and their accounting must not fail (the GPU still counts
 * under "gpu" through the task's gpuCount).
 */
export function gpuModelsOf(gpus: readonly Gpu[], gpuIndexes: readonly number[]): string[] {
  const models: string[] = [];
  for (const index of gpuIndexes) {
    const gpu = gpus.find((g) => g.index === index);
    if (gpu !== undefined) models.push(gpu.model);
  }
  return models;
}

/**
 * The amount of quota resource `resource` in `amounts` (a demand or a usage): for "gpu:<model>",
 * the sum over its "gpu:<key>" entries whose key contains <model>; otherwise the entry itself.
 */
export function amountOn(amounts: Amounts, resource: string): number {
  if (!resource.startsWith(GPU_MODEL_PREFIX)) return amounts[resource] ?? 0;
  const model = resource.slice(GPU_MODEL_PREFIX.length);
  let sum = 0;
  for (const key in amounts) if (key.startsWith(GPU_MODEL_PREFIX) && key.slice(GPU_MODEL_PREFIX.length).includes(model)) sum += amounts[key];
  return sum;
}

function fail(field: string, rule: string): never {
  throw new InvalidArgumentError(field, rule);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `quota.nominal.cpu`, or `quota.nominal["gpu:h100"]` for keys that are not plain words. */
function keyPath(field: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${field}.${key}` : `${field}[${JSON.stringify(key)}]`;
}

/** A resource key as a quota may write it, lower-cased; throws naming `path` otherwise. */
function resourceKey(raw: string, path: string): string {
  const key = raw.toLowerCase();
  if ((RESOURCE_KEYS as readonly string[]).includes(key)) return key;
  if (key.startsWith(GPU_MODEL_PREFIX)) {
    const model = key.slice(GPU_MODEL_PREFIX.length);
    if (!QUOTA_MODEL.test(model)) fail(path, `GPU model must be 1..64 characters of a-z, 0-9, '.', '_', '-' (got ${JSON.stringify(model)})`);
    return key;
  }
  return fail(path, `unknown resource ${JSON.stringify(raw)}: use cpu, memory, gpu, tasks or gpu:<model>`);
}

/** Amounts per resource, keys lower-cased, each amount finite, >= 0 and <= MAX_QUOTA_AMOUNT. */
function amounts(input: unknown, field: string, required: boolean): Record<string, number> {
  if (input === undefined && !required) return {};
  if (!isPlainObject(input)) fail(field, "must be an object of amounts per resource");
  const out: Record<string, number> = {};
  for (const [raw, value] of Object.entries(input)) {
    const path = keyPath(field, raw);
    const key = resourceKey(raw, path);
    if (Object.hasOwn(out, key)) fail(path, `${JSON.stringify(key)} is listed twice (resource names are case-insensitive)`);
    if (typeof value !== "number") fail(path, `must be a number (got ${typeof value})`);
    if (!Number.isFinite(value)) fail(path, `must be a finite number (got ${value}); leave the resource out for no limit`);
    if (value < 0) fail(path, `must be >= 0 (got ${value})`);
    if (value > MAX_QUOTA_AMOUNT) fail(path, `must be <= ${MAX_QUOTA_AMOUNT} (got ${value}); leave the resource out for no limit`);
    out[key] = value;
  }
  return out;
}

/** The limits of a quota (everything but the project), normalised. */
function limits(input: Record<string, unknown>, field: string): Omit<ProjectQuota, "project"> {
  const nominal = amounts(input.nominal, `${field}.nominal`, true);
  const borrowingLimit = amounts(input.borrowingLimit, `${field}.borrowingLimit`, false);
  const lendingLimit = amounts(input.lendingLimit, `${field}.lendingLimit`, false);
  // Kueue's rules: limits exist only for resources with a nominal quota, and a project cannot
  // lend more than it has.
  for (const key of Object.keys(borrowingLimit)) {
    if (!Object.hasOwn(nominal, key)) fail(keyPath(`${field}.borrowingLimit`, key), `${key} has no nominal quota; a borrowing limit needs one`);
  }
  for (const [key, value] of Object.entries(lendingLimit)) {
    if (!Object.hasOwn(nominal, key)) fail(keyPath(`${field}.lendingLimit`, key), `${key} has no nominal quota; a lending limit needs one`);
    if (value > nominal[key]) fail(keyPath(`${field}.lendingLimit`, key), `must be <= the nominal quota ${nominal[key]} (got ${value})`);
  }
  return { nominal, borrowingLimit, lendingLimit };
}

/**
 * Checks a quota as an operator wrote it (CLI, API, quota file) and returns it normalised (keys
 * lower-cased, absent limits as {}). Throws InvalidArgumentError naming the field under `field`
 * (e.g. "quota" gives "quota.nominal.cpu") and the rule.
 */
export function validateQuota(input: unknown, field: string): ProjectQuota {
  if (!isPlainObject(input)) fail(field, "must be an object with project, nominal, borrowingLimit, lendingLimit");
  const project = input.project;
  if (typeof project !== "string") fail(`${field}.project`, "must be a string");
  if (project.length === 0) fail(`${field}.project`, "must not be empty");
  if (project.length > MAX_QUOTA_PROJECT_LENGTH) fail(`${field}.project`, `at most ${MAX_QUOTA_PROJECT_LENGTH} characters (got ${project.length})`);
  noNul(`${field}.project`, project);
  return { project, ...limits(input, field) };
}

/** validateQuota for the default quota: no project; null or undefined mean unlimited. */
export function validateDefaultQuota(input: unknown, field: string): DefaultQuota {
  if (input === null || input === undefined) return null;
  if (!isPlainObject(input)) fail(field, "must be null (unlimited) or an object with nominal, borrowingLimit, lendingLimit");
  return limits(input, field);
}
