// What an agent sends, checked at the master's edge: the Register message (registrationFromProto,
// capacityFromProto) is rejected with a ProtocolError naming the field; a TaskResult's text is
// escaped (NUL -> \0) rather than rejected, since output may be binary.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { capacityFromProto, resultFromProto } from "../../master/convert/from-proto.js";
import { registrationFromProto } from "../../master/convert/registration.js";
import { InvalidArgumentError, ProtocolError } from "../../src/core/errors.js";
import { AttemptOutcome } from "../../src/gen/taskgrid/v1/types.js";
import { Register, type RunningAttempt } from "../../src/gen/taskgrid/v1/worker_service.js";

const NUL = "\u0000";
const gpu = (index: number, extra: Record<string, unknown> = {}) => ({ index, uuid: `GPU-${index}`, model: "H100", memoryMib: 81920, numaNode: 0, ...extra });
const capacity = (extra: Record<string, unknown> = {}) => ({ cpuMillis: 8000, memoryMib: 32768, maxTasks: 4, gpus: [gpu(0), gpu(1)], ...extra });

/** A valid Register message, overridden where a test cares (fromPartial fills the other fields). */
function register(extra: Record<string, unknown> = {}): Register {
  return Register.fromPartial({
    workerId: "w-1",
    hostname: "node-1.example",
    tags: ["gpu", "", "zone=eu"],
    capacity: capacity(),
    running: [{ attemptId: "a-1", taskId: "t-1" }],
    agentVersion: "0.1.0",
    ...extra,
  } as never);
}

test("a valid register: fields in domain terms, empty tags dropped", () => {
  const r = registrationFromProto(register());
  assert.equal(r, {
    workerId: "w-1",
    hostname: "node-1.example",
    tags: ["gpu", "zone=eu"],
    capacity: { cpuMillis: 8000, memoryMib: 32768, maxTasks: 4, gpus: [gpu(0), gpu(1)] },
    agentVersion: "0.1.0",
    instanceId: "",
    runningAttemptIds: ["a-1"],
  });
});

test("limits are inclusive: the largest allowed values register", () => {
  const r = registrationFromProto(
    register({
      hostname: "h".repeat(255),
      tags: Array.from({ length: 256 }, (_, i) => `${i}`.padEnd(256, "t")),
      capacity: capacity({
        cpuMillis: 100_000_000,
        memoryMib: 1024 ** 3,
        maxTasks: 100_000,
        gpus: Array.from({ length: 1024 }, (_, i) => gpu(i, { numaNode: -1 })),
      }),
      running: Array.from({ length: 100_000 }, (_, i) => ({ attemptId: `a-${i}`, taskId: `t-${i}` })),
    }),
  );
  assert.is(r.tags.length, 256);
  assert.is(r.capacity.gpus.length, 1024);
  assert.is(r.runningAttemptIds.length, 100_000);
});

const running = (n: number): Partial<RunningAttempt>[] => Array.from({ length: n }, (_, i) => ({ attemptId: `a-${i}` }));
const bad: Array<[string, Record<string, unknown>, RegExp]> = [
  ["bad worker id", { workerId: "w 1" }, /^register\.worker_id: must be 1\.\.128 characters/],
  ["NUL in hostname", { hostname: `h${NUL}` }, /^register\.hostname: must not contain NUL \(\\u0000\) characters$/],
  ["hostname over 255", { hostname: "h".repeat(256) }, /^register\.hostname: must be at most 255 characters \(got 256\)$/],
  ["NUL in a tag", { tags: ["gpu", `s${NUL}d`] }, /^register\.tags\[1\]: must not contain NUL/],
  ["more than 256 tags", { tags: Array.from({ length: 257 }, (_, i) => `t${i}`) }, /^register\.tags: must have at most 256 entries \(got 257\)$/],
  ["a tag over 256", { tags: ["t".repeat(257)] }, /^register\.tags\[0\]: must be at most 256 characters/],
  ["NUL in agent_version", { agentVersion: `1${NUL}` }, /^register\.agent_version: must not contain NUL/],
  ["NUL in instance_id", { instanceId: `i${NUL}` }, /^register\.instance_id: must not contain NUL/],
  ["NUL in a running attempt id", { running: [{ attemptId: "ok" }, { attemptId: `a${NUL}` }] }, /^register\.running\[1\]\.attempt_id: must not contain NUL/],
  ["NUL in a running task id", { running: [{ attemptId: "a", taskId: `t${NUL}` }] }, /^register\.running\[0\]\.task_id: must not contain NUL/],
  ["more than 100,000 running attempts", { running: running(100_001) }, /^register\.running: must have at most 100000 attempts \(got 100001\)$/],
  ["no capacity", { capacity: undefined }, /^register\.capacity: is required$/],
  ["zero cpu", { capacity: capacity({ cpuMillis: 0 }) }, /^register\.capacity\.cpu_millis: must be a whole number in 1\.\.100000000 \(got 0\)$/],
  ["absurd cpu", { capacity: capacity({ cpuMillis: 100_000_001 }) }, /^register\.capacity\.cpu_millis: /],
  ["fractional cpu", { capacity: capacity({ cpuMillis: 1.5 }) }, /^register\.capacity\.cpu_millis: /],
  ["absurd memory (over 1 PiB)", { capacity: capacity({ memoryMib: 1024 ** 3 + 1 }) }, /^register\.capacity\.memory_mib: /],
  ["absurd max tasks", { capacity: capacity({ maxTasks: 100_001 }) }, /^register\.capacity\.max_tasks: /],
  ["negative max tasks", { capacity: capacity({ maxTasks: -1 }) }, /^register\.capacity\.max_tasks: /],
  [
    "more than 1024 GPUs",
    { capacity: capacity({ gpus: Array.from({ length: 1025 }, (_, i) => gpu(i)) }) },
    /^register\.capacity\.gpus: at most 1024 GPUs \(got 1025\)$/,
  ],
  ["negative GPU index", { capacity: capacity({ gpus: [gpu(-1)] }) }, /^register\.capacity\.gpus\[0\]\.index: /],
  ["fractional GPU memory", { capacity: capacity({ gpus: [gpu(0, { memoryMib: 0.5 })] }) }, /^register\.capacity\.gpus\[0\]\.memory_mib: /],
  ["negative GPU memory", { capacity: capacity({ gpus: [gpu(0, { memoryMib: -1 })] }) }, /^register\.capacity\.gpus\[0\]\.memory_mib: /],
  ["NUMA node below -1", { capacity: capacity({ gpus: [gpu(0, { numaNode: -2 })] }) }, /^register\.capacity\.gpus\[0\]\.numa_node: /],
  [
    "NUL in a GPU model",
    { capacity: capacity({ gpus: [gpu(0), gpu(1, { model: `H${NUL}` })] }) },
    /^register\.capacity\.gpus\[1\]\.model: must not contain NUL/,
  ],
  ["NUL in a GPU uuid", { capacity: capacity({ gpus: [gpu(0, { uuid: `G${NUL}` })] }) }, /^register\.capacity\.gpus\[0\]\.uuid: must not contain NUL/],
  ["duplicate GPU index", { capacity: capacity({ gpus: [gpu(0), gpu(0)] }) }, /^register\.capacity\.gpus: duplicate GPU index 0$/],
];
for (const [name, extra, message] of bad) {
  test(`register rejected: ${name}`, () => {
    try {
      registrationFromProto(register(extra));
      assert.unreachable("should have thrown");
    } catch (err) {
      assert.instance(err, ProtocolError);
      assert.match((err as Error).message, message);
    }
  });
}

test("capacityFromProto on its own still reports InvalidArgumentError with the field", () => {
  assert.throws(
    () => capacityFromProto(capacity({ cpuMillis: -1 }) as never, "c"),
    (err: InvalidArgumentError) => err instanceof InvalidArgumentError && err.field === "c.cpu_millis",
  );
});

test("resultFromProto escapes NUL in output_tail, message and signal", () => {
  const r = resultFromProto(
    { outcome: AttemptOutcome.ATTEMPT_OUTCOME_FAILED, exitCode: 1, signal: `SIG${NUL}`, outputTail: `bin${NUL}${NUL}ary`, durationMs: 5, message: `m${NUL}` },
    "finished.result",
  );
  assert.is(r.outputTail, "bin\\0\\0ary");
  assert.is(r.message, "m\\0");
  assert.is(r.signal, "SIG\\0");
});

test("resultFromProto keeps the last 64 Ki characters of an escaped tail", () => {
  const r = resultFromProto(
    { outcome: AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, exitCode: 0, signal: "", outputTail: `start${NUL.repeat(40_000)}end`, durationMs: 0, message: "" },
    "finished.result",
  );
  assert.is(r.outputTail.length, 65536);
  assert.ok(r.outputTail.endsWith("\\0end"));
  assert.not.ok(r.outputTail.includes(NUL));
});

test.run();
