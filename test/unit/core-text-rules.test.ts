// NUL (U+0000), which Postgres text and jsonb cannot hold: rejected in client input (every string of
// a TaskSpec, by field), escaped as `\0` in text the agent reports (output tail, progress messages).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { OutputTail } from "../../agent/output-tail.js";
import { parseProgressLine } from "../../agent/progress-lines.js";
import { InvalidArgumentError } from "../../src/core/errors.js";
import { validateSpec } from "../../src/core/spec-rules.js";
import { escapeNul, hasNul, noNul, NUL_RULE } from "../../src/core/text-rules.js";
import type { TaskSpec } from "../../src/core/types.js";
import { spec } from "../helpers/domain.js";

const NUL = "\u0000";

test("noNul throws InvalidArgumentError naming the field and the rule", () => {
  noNul("spec.name", "plain text, even \\0 written out");
  try {
    noNul("spec.name", `a${NUL}b`);
    assert.unreachable("should have thrown");
  } catch (err) {
    assert.instance(err, InvalidArgumentError);
    assert.is((err as InvalidArgumentError).field, "spec.name");
    assert.is((err as Error).message, "spec.name: must not contain NUL (\\u0000) characters");
    assert.is((err as InvalidArgumentError).rule, NUL_RULE);
  }
});

test("escapeNul turns each NUL into backslash-zero and leaves other text alone", () => {
  assert.is(escapeNul(`${NUL}a${NUL}${NUL}b${NUL}`), "\\0a\\0\\0b\\0");
  assert.is(escapeNul("héllo \u{1F600}"), "héllo \u{1F600}");
  assert.is(escapeNul(""), "");
  assert.not.ok(hasNul(escapeNul(NUL.repeat(1000))));
});

const res = (o: Partial<TaskSpec["resources"]>) => ({ resources: { cpuMillis: 1000, memoryMib: 256, gpuCount: 0, gpuModel: "", gpuMemoryMib: 0, ...o } });
const nulSpecs: Array<[Partial<TaskSpec>, string]> = [
  [{ name: `a${NUL}` }, "spec.name"],
  [{ project: `p${NUL}` }, "spec.project"],
  [{ labels: { [`k${NUL}`]: "v" } }, 'spec.labels key "k\\u0000"'],
  [{ labels: { team: `v${NUL}` } }, 'spec.labels["team"]'],
  [{ command: ["echo", `x${NUL}y`] }, "spec.command[1]"],
  [{ command: [`ec${NUL}ho`] }, "spec.command[0]"],
  [{ env: { [`A${NUL}`]: "1" } }, 'spec.env key "A\\u0000"'],
  [{ env: { A: `1${NUL}` } }, 'spec.env["A"]'],
  [{ workingDir: `/tmp${NUL}` }, "spec.working_dir"],
  [res({ gpuModel: `H100${NUL}` }), "spec.resources.gpu_model"],
  [{ requiredTags: ["ok", `gpu${NUL}`] }, "spec.required_tags[1]"],
  [{ preferredTags: [`ssd${NUL}`] }, "spec.preferred_tags[0]"],
  [{ kind: `train${NUL}` }, "spec.kind"],
  [{ idempotencyKey: `k${NUL}` }, "spec.idempotency_key"],
];
for (const [overrides, field] of nulSpecs) {
  test(`validateSpec rejects NUL in ${field}`, () => {
    try {
      validateSpec(spec(overrides));
      assert.unreachable("should have thrown");
    } catch (err) {
      assert.instance(err, InvalidArgumentError);
      assert.is((err as InvalidArgumentError).field, field);
      assert.is((err as InvalidArgumentError).rule, NUL_RULE);
    }
  });
}

test("validateSpec names the prefix of a batch entry", () => {
  assert.throws(
    () => validateSpec(spec({ name: NUL }), "specs[3]"),
    (err: InvalidArgumentError) => err.field === "specs[3].name",
  );
});

test("output tail: NUL bytes are reported as \\0", () => {
  const tail = new OutputTail();
  tail.append(Buffer.from([0x61, 0x00, 0x62]));
  tail.append(Buffer.from("\0end\n"));
  assert.is(tail.text(), "a\\0b\\0end\n");
});

test("output tail: the limit holds for the escaped text and never splits an escape", () => {
  const allNul = new OutputTail(9);
  allNul.append(Buffer.alloc(100)); // 100 NUL bytes: 4 escapes fit in 9 bytes, not half of a fifth
  assert.is(allNul.text(), "\\0\\0\\0\\0");
  const mixed = new OutputTail(6);
  mixed.append(Buffer.from("xxxxab\0c")); // escaped tail "ab\0c" is 5 bytes; one more "x" fits
  assert.is(mixed.text(), "xab\\0c");
  const utf8 = new OutputTail(6);
  utf8.append(Buffer.concat([Buffer.from("é"), Buffer.from([0]), Buffer.from("€")])); // the cut lands inside "é"
  assert.is(utf8.text(), "\\0€");
});

test("output tail without NUL is unchanged", () => {
  const tail = new OutputTail(10);
  for (let i = 0; i < 100; i++) tail.append(Buffer.from(`${i % 10}`));
  assert.is(tail.text(), "0123456789");
});

test("progress lines: a NUL in the message is escaped", () => {
  assert.equal(parseProgressLine(`::progress 50 half${NUL}way`), { percent: 50, message: "half\\0way" });
});

test.run();
