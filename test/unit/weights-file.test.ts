import { test } from "uvu";
import * as assert from "uvu/assert";
import { formatWeightsFile, parseWeightsFile, WEIGHT_FILE_KEYS } from "../../src/core/rts/weights-file.js";
import { DEFAULT_WEIGHTS, type Weights } from "../../src/core/rts/weights.js";

const SEED = `{"w_deadline":0.35,"w_affinity":0.20,"w_load":0.25,"w_io":0.10,"w_success":0.05,"w_penalty":0.05}`;
const seedObj = (): Record<string, unknown> => JSON.parse(SEED);
const without = (key: string) => {
  const o = seedObj();
  delete o[key];
  return JSON.stringify(o);
};
const withValue = (key: string, value: unknown) => JSON.stringify({ ...seedObj(), [key]: value });

// ---- valid files -------------------------------------------------------------------------------

const validCases: Array<{ name: string; text: string; weights: Weights; metadata: Record<string, string> }> = [
  { name: "the seed file", text: SEED, weights: DEFAULT_WEIGHTS, metadata: {} },
  {
    name: "with GA metadata (kept as JSON text)",
    text: `{"w_deadline":0.4,"w_affinity":0.1,"w_load":0.2,"w_io":0.1,"w_success":0.1,"w_penalty":0.1,
            "generation":42,"fitness":0.913,"created_at":"2025-01-02T03:04:05Z"}`,
    weights: { deadline: 0.4, affinity: 0.1, load: 0.2, io: 0.1, success: 0.1, penalty: 0.1 },
    metadata: { generation: "42", fitness: "0.913", created_at: '"2025-01-02T03:04:05Z"' },
  },
  {
    name: "extra metadata of any JSON type is kept",
    text: JSON.stringify({ ...seedObj(), notes: { by: "ga", pop: [1, 2] }, flag: true, none: null }),
    weights: DEFAULT_WEIGHTS,
    metadata: { notes: '{"by":"ga","pop":[1,2]}', flag: "true", none: "null" },
  },
  {
    name: "zero weights are fine while one is positive; integers and exponents parse",
    text: `{"w_deadline":0,"w_affinity":0,"w_load":1,"w_io":0,"w_success":2e-1,"w_penalty":-0}`,
    weights: { deadline: 0, affinity: 0, load: 1, io: 0, success: 0.2, penalty: 0 },
    metadata: {},
  },
  { name: "surrounding whitespace and a UTF-8 BOM", text: `\ufeff\n  ${SEED}\n\n`, weights: DEFAULT_WEIGHTS, metadata: {} },
];

for (const c of validCases) {
  test(`valid: ${c.name}`, () => {
    const r = parseWeightsFile(c.text);
    if (!r.ok) throw new assert.Assertion({ message: `rejected: ${r.error}`, operator: "ok", actual: r, expects: true, generated: false });
    assert.equal(r.weights, c.weights);
    assert.equal(r.metadata, c.metadata);
    assert.ok(!Object.is(r.weights.penalty, -0), "-0 normalised to 0");
  });
}

// ---- invalid files -----------------------------------------------------------------------------

const invalidCases: Array<{ name: string; text: string; error: RegExp }> = [
  { name: "empty file", text: "", error: /invalid JSON: file is empty/ },
  { name: "whitespace only", text: "  \n", error: /invalid JSON: file is empty/ },
  { name: "garbage", text: "w_deadline=0.3", error: /^invalid JSON \(malformed, or truncated mid-write\): / },
  { name: "trailing comma", text: SEED.replace("}", ",}"), error: /^invalid JSON/ },
  { name: "NaN literal (not JSON)", text: SEED.replace("0.25", "NaN"), error: /^invalid JSON/ },
  { name: "Infinity literal (not JSON)", text: SEED.replace("0.25", "Infinity"), error: /^invalid JSON/ },
  { name: "two objects", text: SEED + SEED, error: /^invalid JSON/ },
  { name: "array", text: "[]", error: /^not a JSON object \(got an array\)$/ },
  { name: "number", text: "3", error: /^not a JSON object \(got number 3\)$/ },
  { name: "string", text: '"w"', error: /^not a JSON object \(got a string "w"\)$/ },
  { name: "null", text: "null", error: /^not a JSON object \(got null\)$/ },
  { name: "empty object", text: "{}", error: /^missing key `w_deadline`$/ },
  ...WEIGHT_FILE_KEYS.map(([key]) => ({ name: `missing ${key}`, text: without(key), error: new RegExp(`^missing key \`${key}\`$`) })),
  ...WEIGHT_FILE_KEYS.map(([key]) => ({ name: `negative ${key}`, text: withValue(key, -0.1), error: new RegExp(`^\`${key}\` is negative \\(-0\\.1\\)$`) })),
  { name: "w_success is a string", text: withValue("w_success", "0.05"), error: /^`w_success` is not a finite number \(got a string "0\.05"\)$/ },
  { name: "w_success is the string NaN", text: withValue("w_success", "NaN"), error: /^`w_success` is not a finite number \(got a string "NaN"\)$/ },
  { name: "w_load is null", text: withValue("w_load", null), error: /^`w_load` is not a finite number \(got null\)$/ },
  { name: "w_io is a boolean", text: withValue("w_io", true), error: /^`w_io` is not a finite number \(got boolean true\)$/ },
  { name: "w_io is an array", text: withValue("w_io", [0.1]), error: /^`w_io` is not a finite number \(got an array\)$/ },
  { name: "w_affinity is an object", text: withValue("w_affinity", { v: 1 }), error: /^`w_affinity` is not a finite number \(got an object\)$/ },
  { name: "w_deadline overflows to Infinity", text: SEED.replace("0.35", "1e999"), error: /^`w_deadline` is not a finite number \(got number Infinity\)$/ },
  { name: "w_penalty overflows to -Infinity", text: SEED.replace('"w_penalty":0.05', '"w_penalty":-1e999'), error: /^`w_penalty` is not a finite number/ },
  {
    name: "all weights zero",
    text: `{"w_deadline":0,"w_affinity":0.0,"w_load":0,"w_io":0,"w_success":0,"w_penalty":-0,"generation":1}`,
    error: /^all weights are zero$/,
  },
];

for (const c of invalidCases) {
  test(`invalid: ${c.name}`, () => {
    const r = parseWeightsFile(c.text);
    assert.is(r.ok, false, `accepted ${JSON.stringify(c.text)}`);
    if (!r.ok) assert.match(r.error, c.error);
  });
}

test("truncated mid-write: every proper prefix of a valid file is rejected, never half-loaded", () => {
  const files = [
    SEED,
    formatWeightsFile(
      { deadline: 0.3125, affinity: 0.21, load: 0.25, io: 0.1, success: 0.05, penalty: 0.0775 },
      { generation: "17", fitness: "0.5", created_at: '"2025-06-01T00:00:00Z"' },
    ),
  ];
  for (const full of files) {
    const body = full.trimEnd();
    let checked = 0;
    for (let cut = 0; cut < body.length; cut++) {
      const r = parseWeightsFile(body.slice(0, cut));
      assert.is(r.ok, false, `prefix of length ${cut} accepted: ${JSON.stringify(body.slice(0, cut))}`);
      if (!r.ok) assert.match(r.error, /^invalid JSON/);
      checked++;
    }
    assert.is(checked, body.length);
    // A prefix that holds the whole object (only trailing whitespace cut) is the complete file.
    for (let cut = body.length; cut <= full.length; cut++) assert.ok(parseWeightsFile(full.slice(0, cut)).ok);
  }
});

test("error messages name the key precisely", () => {
  const r = parseWeightsFile(withValue("w_io", -2));
  assert.equal(r, { ok: false, error: "`w_io` is negative (-2)" });
  assert.equal(parseWeightsFile(without("w_load")), { ok: false, error: "missing key `w_load`" });
});

test("a key named __proto__ is kept as plain metadata", () => {
  const r = parseWeightsFile(SEED.replace("}", `,"__proto__":{"polluted":1}}`));
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.is(Object.getPrototypeOf(r.metadata), Object.prototype);
  assert.equal(Object.keys(r.metadata), ["__proto__"]);
  assert.is(Object.getOwnPropertyDescriptor(r.metadata, "__proto__")?.value, '{"polluted":1}');
  assert.is(({} as Record<string, unknown>).polluted, undefined);
});

// ---- formatting --------------------------------------------------------------------------------

test("formatWeightsFile: canonical text, w_* keys first, round-trips through parseWeightsFile", () => {
  const w: Weights = { deadline: 0.4, affinity: 0.1, load: 0.2, io: 0.1, success: 0.15, penalty: 0.05 };
  const meta = { generation: "7", fitness: "0.91", created_at: '"2025-01-01T00:00:00Z"' };
  const text = formatWeightsFile(w, meta);
  assert.ok(text.endsWith("}\n"));
  assert.equal(Object.keys(JSON.parse(text)), ["w_deadline", "w_affinity", "w_load", "w_io", "w_success", "w_penalty", "generation", "fitness", "created_at"]);
  const r = parseWeightsFile(text);
  assert.equal(r, { ok: true, weights: w, metadata: meta });
  // Deterministic: same input, same text (so the same content-hash version).
  assert.is(formatWeightsFile({ ...w }, { ...meta }), text);
  // Metadata order does not affect weights placement; w_* metadata keys are ignored.
  const text2 = formatWeightsFile(w, { w_load: "9", note: "not json" });
  assert.equal(JSON.parse(text2), { w_deadline: 0.4, w_affinity: 0.1, w_load: 0.2, w_io: 0.1, w_success: 0.15, w_penalty: 0.05, note: "not json" });
  assert.is(formatWeightsFile(DEFAULT_WEIGHTS), `${JSON.stringify(JSON.parse(SEED), null, 2)}\n`);
});

test("formatWeightsFile refuses weights the parser would reject", () => {
  const base = { ...DEFAULT_WEIGHTS };
  assert.throws(() => formatWeightsFile({ ...base, io: -1 }), /`w_io` is negative/);
  assert.throws(() => formatWeightsFile({ ...base, success: Number.NaN }), /`w_success` is not a finite number/);
  assert.throws(() => formatWeightsFile({ ...base, load: Infinity }), /`w_load` is not a finite number/);
  assert.throws(() => formatWeightsFile({ deadline: 0, affinity: 0, load: 0, io: 0, success: 0, penalty: 0 }), /all weights are zero/);
});

test.run();
