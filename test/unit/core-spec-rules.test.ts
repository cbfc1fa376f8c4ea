import { test } from "uvu";
import * as assert from "uvu/assert";
import { InvalidArgumentError } from "../../src/core/errors.js";
import { effectiveDeadline, validateSpec, withDefaults } from "../../src/core/spec-rules.js";
import type { TaskSpec } from "../../src/core/types.js";
import { spec } from "../helpers/domain.js";

const res = (o: Partial<TaskSpec["resources"]>) => ({ resources: { cpuMillis: 1000, memoryMib: 256, gpuCount: 0, gpuModel: "", gpuMemoryMib: 0, ...o } });

const bad: Array<[string, Partial<TaskSpec>, string]> = [
  ["empty command", { command: [] }, "spec.command"],
  ["empty program", { command: [""] }, "spec.command[0]"],
  ["negative cpu", res({ cpuMillis: -5 }), "spec.resources.cpu_millis"],
  ["absurd cpu", res({ cpuMillis: 10_000_000 }), "spec.resources.cpu_millis"],
  ["fractional memory", res({ memoryMib: 1.5 }), "spec.resources.memory_mib"],
  ["too many gpus", res({ gpuCount: 1000 }), "spec.resources.gpu_count"],
  ["negative gpus", res({ gpuCount: -1 }), "spec.resources.gpu_count"],
  ["io out of range", { ioIntensity: 1.5 }, "spec.io_intensity"],
  ["io NaN", { ioIntensity: NaN }, "spec.io_intensity"],
  ["negative estimate", { estimateMs: -1 }, "spec.estimate_ms"],
  ["negative timeout", { timeoutMs: -1 }, "spec.timeout_ms"],
  ["too many retries", { maxRetries: 101 }, "spec.max_retries"],
  ["bad env name", { env: { "A-B": "x" } }, 'spec.env["A-B"]'],
  ["oversized args", { command: ["echo", "x".repeat(1024 * 1024)] }, "spec.command"],
  ["oversized env", { env: { BIG: "y".repeat(1024 * 1024 + 1) } }, "spec.command"],
  ["empty tag", { requiredTags: [""] }, "spec.required_tags[0]"],
  ["label with =", { labels: { "a=b": "c" } }, "spec.labels"],
];

for (const [name, overrides, field] of bad) {
  test(`rejects ${name} naming ${field}`, () => {
    try {
      validateSpec(spec(overrides));
      assert.unreachable("should have thrown");
    } catch (err) {
      assert.instance(err, InvalidArgumentError);
      assert.ok((err as InvalidArgumentError).field.startsWith(field), `field was ${(err as InvalidArgumentError).field}`);
    }
  });
}

test("accepts a full valid spec", () => {
  validateSpec(
    spec({
      command: ["python", "train.py"],
      env: { A: "1" },
      labels: { team: "ml" },
      requiredTags: ["gpu"],
      ioIntensity: 0.5,
      estimateMs: 60_000,
      timeoutMs: 120_000,
      maxRetries: 3,
    }),
  );
});

test("defaults fill zero cpu and memory", () => {
  const s = withDefaults(spec(res({ cpuMillis: 0, memoryMib: 0 })));
  assert.is(s.resources.cpuMillis, 1000);
  assert.is(s.resources.memoryMib, 256);
});

test("deadline: explicit wins, else estimate x sla multiplier, else none", () => {
  assert.is(effectiveDeadline(spec({ deadlineMs: 5000, estimateMs: 10 }), 1000, 2), 5000);
  assert.is(effectiveDeadline(spec({ estimateMs: 10_000 }), 1000, 2), 21_000);
  assert.is(effectiveDeadline(spec(), 1000, 2), null);
});

test.run();
