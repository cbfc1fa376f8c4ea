// Malformed task specs shared by the input-validation tests (master-api, nul-text) and their
// auth-on variant (auth.test.ts): each entry is the spec fields to override and the field the
// INVALID_ARGUMENT must name.

export const NUL = "\u0000";

/** Specs that break a rule; the error's details start with the field. */
export const BAD_SPECS: Array<[name: string, extra: Record<string, unknown>, field: string]> = [
  ["empty command", { command: [] }, "spec.command"],
  ["negative cpu", { resources: { cpuMillis: -1 } }, "spec.resources.cpu_millis"],
  ["absurd memory", { resources: { memoryMib: 1e12 } }, "spec.resources.memory_mib"],
  ["unknown queue class", { queueClass: 42 }, "spec.queue_class"],
  ["unknown priority", { priority: 9 }, "spec.priority"],
  ["oversized env", { env: { BIG: "x".repeat(1024 * 1024 + 10) } }, "spec.command"],
  ["io intensity > 1", { ioIntensity: 2 }, "spec.io_intensity"],
];

/** A NUL in each text field of a spec; the error's details are exactly `${field}: ${NUL_RULE}`. */
export const NUL_SPEC_CASES: Array<[extra: Record<string, unknown>, field: string]> = [
  [{ name: `a${NUL}b` }, "spec.name"],
  [{ project: `p${NUL}` }, "spec.project"],
  [{ labels: { team: `m${NUL}l` } }, 'spec.labels["team"]'],
  [{ labels: { [`t${NUL}`]: "ml" } }, 'spec.labels key "t\\u0000"'],
  [{ command: ["echo", `h${NUL}i`] }, "spec.command[1]"],
  [{ env: { A: `1${NUL}` } }, 'spec.env["A"]'],
  [{ workingDir: `/tmp/${NUL}` }, "spec.working_dir"],
  [{ requiredTags: [`gpu${NUL}`] }, "spec.required_tags[0]"],
  [{ preferredTags: ["ssd", `nvme${NUL}`] }, "spec.preferred_tags[1]"],
  [{ kind: `train${NUL}` }, "spec.kind"],
  [{ resources: { gpuModel: `H100${NUL}` } }, "spec.resources.gpu_model"],
  [{ idempotencyKey: `key${NUL}` }, "spec.idempotency_key"],
];

export const NUL_RULE = "must not contain NUL (\\u0000) characters";
