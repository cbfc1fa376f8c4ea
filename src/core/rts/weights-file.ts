// Parsing, validation and canonical formatting of the RTS weights file (DESIGN §3,
// `config/ga_output.json`, the format the GA tooling writes):
//   {"w_deadline":0.35,"w_affinity":0.20,"w_load":0.25,"w_io":0.10,"w_success":0.05,"w_penalty":0.05}
// plus optional metadata keys (generation, fitness, created_at, ...), kept as JSON text per key.
// Pure: no I/O, no clock. Reading, hashing and watching the file is master/weights-watcher.ts.
import type { Weights } from "./weights.js";

/** File key -> Weights field, in canonical (file) order. */
export const WEIGHT_FILE_KEYS = [
  ["w_deadline", "deadline"],
  ["w_affinity", "affinity"],
  ["w_load", "load"],
  ["w_io", "io"],
  ["w_success", "success"],
  ["w_penalty", "penalty"],
] as const satisfies ReadonlyArray<readonly [string, keyof Weights]>;

export type ParsedWeightsFile = { ok: true; weights: Weights; metadata: Record<string, string> } | { ok: false; error: string };

const WEIGHT_KEYS: ReadonlySet<string> = new Set(WEIGHT_FILE_KEYS.map(([k]) => k));

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `a string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}

// Own, enumerable, and safe for keys like "__proto__" (plain assignment would set the prototype).
function setOwn(target: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Validates a Weights value: every field a finite number >= 0, not all zero. Returns the problem or null. */
export function weightsProblem(weights: Weights): string | null {
  for (const [fileKey, field] of WEIGHT_FILE_KEYS) {
    const v: unknown = weights[field];
    if (typeof v !== "number" || !Number.isFinite(v)) return `\`${fileKey}\` is not a finite number (got ${describe(v)})`;
    if (v < 0) return `\`${fileKey}\` is negative (${v})`;
  }
  if (WEIGHT_FILE_KEYS.every(([, field]) => weights[field] === 0)) return "all weights are zero";
  return null;
}

/**
 * Parses and validates the text of a weights file. Never throws. Any proper prefix of a file
 * (a file caught mid-write) is rejected as invalid JSON, never accepted with partial numbers.
 */
export function parseWeightsFile(text: string): ParsedWeightsFile {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // tolerate a UTF-8 BOM
  if (body.trim() === "") return { ok: false, error: "invalid JSON: file is empty (truncated or still being written?)" };
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    return { ok: false, error: `invalid JSON (malformed, or truncated mid-write): ${detail}` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { ok: false, error: `not a JSON object (got ${describe(value)})` };
  }
  const obj = value as Record<string, unknown>;
  const weights = {} as Weights;
  for (const [fileKey, field] of WEIGHT_FILE_KEYS) {
    if (!Object.hasOwn(obj, fileKey)) return { ok: false, error: `missing key \`${fileKey}\`` };
    const v = obj[fileKey];
    if (typeof v !== "number" || !Number.isFinite(v)) {
      return { ok: false, error: `\`${fileKey}\` is not a finite number (got ${describe(v)})` };
    }
    if (v < 0) return { ok: false, error: `\`${fileKey}\` is negative (${v})` };
    weights[field] = v === 0 ? 0 : v; // normalise -0
  }
  if (WEIGHT_FILE_KEYS.every(([, field]) => weights[field] === 0)) return { ok: false, error: "all weights are zero" };
  const metadata: Record<string, string> = {};
  for (const key of Object.keys(obj)) {
    if (!WEIGHT_KEYS.has(key)) setOwn(metadata, key, JSON.stringify(obj[key]));
  }
  return { ok: true, weights, metadata };
}

/**
 * The canonical text of a weights file: the six w_* keys first (canonical order), then the
 * metadata keys in the given order, two-space indented, with a trailing newline. Metadata values
 * are JSON text (as parseWeightsFile returns them); a value that is not valid JSON text is written
 * as a JSON string. Metadata keys that collide with a w_* key are ignored. Throws RangeError on
 * weights that parseWeightsFile would reject, so a tuner can never write a bad file.
 */
export function formatWeightsFile(weights: Weights, metadata: Record<string, string> = {}): string {
  const problem = weightsProblem(weights);
  if (problem !== null) throw new RangeError(`invalid weights: ${problem}`);
  const out: Record<string, unknown> = {};
  for (const [fileKey, field] of WEIGHT_FILE_KEYS) out[fileKey] = weights[field] === 0 ? 0 : weights[field];
  for (const key of Object.keys(metadata)) {
    if (WEIGHT_KEYS.has(key)) continue;
    let v: unknown;
    try {
      v = JSON.parse(metadata[key]);
    } catch {
      v = metadata[key];
    }
    Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return `${JSON.stringify(out, null, 2)}\n`;
}
