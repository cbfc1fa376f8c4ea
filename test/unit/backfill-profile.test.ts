// The availability profile (src/core/backfill): predicted runtimes and ends of running attempts,
// and the earliest fit of a task over free cpu/memory/task slots and GPUs by index.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { DEFAULT_OVERRUN_STEP_MS, predictedEndMs, predictedRuntimeMs, type RunningAttempt } from "../../src/core/backfill/prediction.js";
import { AvailabilityProfile, MAX_CHANGE_POINTS, type ProfileInputs } from "../../src/core/backfill/profile.js";
import { LearningTable } from "../../src/core/rts/learning.js";
import type { ResourceRequest, Task } from "../../src/core/types.js";
import { allocate, type WorkerSlot } from "../../src/core/worker-slot.js";
import { gpus, slot, task } from "../helpers/domain.js";

const HOUR = 3_600_000;
const NOW = 1_000_000;
const noGpu = (cpuMillis = 1000): ResourceRequest => ({ cpuMillis, memoryMib: 256, gpuCount: 0, gpuModel: "", gpuMemoryMib: 0 });
const withGpus = (gpuCount: number, gpuModel = ""): ResourceRequest => ({ cpuMillis: 100, memoryMib: 64, gpuCount, gpuModel, gpuMemoryMib: 0 });

function learned(kind: string, workerId: string, runtimeRatio: number): LearningTable {
  const table = new LearningTable();
  table.load([{ kind, workerId, runtimeRatio, successes: 3, failures: 0, predictionError: 0, samples: 3, updatedAtMs: 0 }]);
  return table;
}

test("predicted runtime: estimate x learned ratio, else the estimate, else the default; never past the timeout", () => {
  const inputs = { defaultRuntimeMs: HOUR, learning: learned("train", "w1", 2) };
  assert.is(predictedRuntimeMs(task({ kind: "train", estimateMs: 60_000 }), "w1", inputs), 120_000, "learned ratio on w1");
  assert.is(predictedRuntimeMs(task({ kind: "train", estimateMs: 60_000 }), "w2", inputs), 60_000, "no row for w2: the estimate");
  assert.is(predictedRuntimeMs(task({ kind: "other", estimateMs: 60_000 }), "w1", inputs), 60_000, "no row for the kind: the estimate");
  assert.is(predictedRuntimeMs(task({ kind: "train", estimateMs: 0 }), "w1", inputs), HOUR, "no estimate: the default");
  assert.is(predictedRuntimeMs(task({ kind: "train", estimateMs: 60_000, timeoutMs: 90_000 }), "w1", inputs), 90_000, "capped by the timeout");
  assert.is(predictedRuntimeMs(task({ estimateMs: 0, timeoutMs: 5_000 }), "w1", inputs), 5_000, "the default is capped too");
});

test("predicted end: start + runtime; unknown attempts take the default from now; an overrun is moved to now + a step", () => {
  const inputs = { defaultRuntimeMs: HOUR };
  const running = (estimateMs: number, startedAtMs: number): RunningAttempt => ({ task: task({ estimateMs }), startedAtMs });
  assert.is(predictedEndMs(running(60_000, NOW - 10_000), "w", NOW, inputs), NOW + 50_000);
  assert.is(predictedEndMs(undefined, "w", NOW, inputs), NOW + HOUR);
  assert.is(predictedEndMs(running(60_000, NOW - 70_000), "w", NOW, inputs), NOW + DEFAULT_OVERRUN_STEP_MS, "10 s past its prediction");
  assert.is(predictedEndMs(running(60_000, NOW - 60_000), "w", NOW, { ...inputs, overrunStepMs: 5_000 }), NOW + 5_000, "due exactly now");
});

/** A slot with attempts `{ id, resources, gpus, estimateMs, startedAtMs }` allocated, and a lookup for them. */
function busy(s: WorkerSlot, attempts: Array<{ id: string; resources: ResourceRequest; gpus?: number[]; estimateMs: number; startedAtMs?: number }>) {
  const known = new Map<string, RunningAttempt>();
  for (const a of attempts) {
    allocate(s, a.id, a.resources, a.gpus ?? []);
    known.set(a.id, { task: task({ resources: a.resources, estimateMs: a.estimateMs }), startedAtMs: a.startedAtMs ?? NOW });
  }
  return known;
}

const inputsFor = (...maps: Array<Map<string, RunningAttempt>>): ProfileInputs => ({
  defaultRuntimeMs: HOUR,
  lookup: (id) => maps.map((m) => m.get(id)).find((r) => r !== undefined),
});

test("earliestFit with GPUs by index: the lowest GPUs free for the whole runtime, at the first change point that has them", () => {
  const s = slot("gpu-1", { capacity: { cpuMillis: 8000, memoryMib: 65536, maxTasks: 8, gpus: gpus(4) } });
  const known = busy(s, [
    { id: "a0", resources: withGpus(1), gpus: [0], estimateMs: 10_000 },
    { id: "a12", resources: withGpus(2), gpus: [1, 2], estimateMs: 30_000 },
  ]);
  const profile = new AvailabilityProfile([s], NOW, inputsFor(known));
  const one = profile.earliestFit(task({ resources: withGpus(1), estimateMs: 5_000 }));
  assert.equal([one?.startMs, one?.gpuIndexes], [NOW, [3]], "GPU 3 is free now");
  const two = profile.earliestFit(task({ resources: withGpus(2), estimateMs: 5_000 }));
  assert.equal([two?.startMs, two?.gpuIndexes], [NOW + 10_000, [0, 3]], "GPU 0 comes back at 10 s");
  const wideTask = task({ resources: withGpus(4), estimateMs: 20_000 });
  const wide = profile.earliestFit(wideTask);
  assert.equal([wide?.startMs, wide?.endMs, wide?.gpuIndexes], [NOW + 30_000, NOW + 50_000, [0, 1, 2, 3]]);
  assert.equal(profile.earliestFit(task({ resources: withGpus(5) })), null, "could never fit: no fit");
  assert.equal(profile.earliestFit(task({ resources: withGpus(1, "a100") })), null, "no GPU of that model");

  // Reserve the wide task: from 30 s to 50 s every GPU is claimed.
  profile.claim(wideTask.id, wideTask, wide!);
  const short = profile.earliestFit(task({ resources: withGpus(2), estimateMs: 15_000 }));
  assert.equal([short?.startMs, short?.gpuIndexes], [NOW + 10_000, [0, 3]], "ends at 25 s, before the reservation starts");
  const long = profile.earliestFit(task({ resources: withGpus(2), estimateMs: 25_000 }));
  assert.equal([long?.startMs, long?.gpuIndexes], [NOW + 50_000, [0, 1]], "would overlap the reservation: after it");
  assert.equal(profile.fitAt(task({ resources: withGpus(1), estimateMs: 40_000 }), s, NOW), null, "GPU 3 now, for 40 s, takes a reserved GPU");
  assert.equal(profile.fitAt(task({ resources: withGpus(1), estimateMs: 20_000 }), s, NOW), [3]);
});

test("earliestFit over cpu, memory and task slots, across workers: the earliest start wins, ties go to the first worker", () => {
  const w1 = slot("w1", { capacity: { cpuMillis: 4000, memoryMib: 8192, maxTasks: 4, gpus: [] } });
  const w2 = slot("w2", { capacity: { cpuMillis: 4000, memoryMib: 8192, maxTasks: 1, gpus: [] } });
  const w3 = slot("w3", { capacity: { cpuMillis: 4000, memoryMib: 8192, maxTasks: 4, gpus: [] } });
  const k1 = busy(w1, [{ id: "b1", resources: noGpu(3000), estimateMs: 20_000 }]);
  const k2 = busy(w2, [{ id: "b2", resources: noGpu(500), estimateMs: 10_000 }]); // one task slot: full until 10 s
  const k3 = busy(w3, [{ id: "b3", resources: noGpu(3000), estimateMs: 10_000 }]);
  const profile = new AvailabilityProfile([w1, w2, w3], NOW, inputsFor(k1, k2, k3));
  const fit = profile.earliestFit(task({ resources: noGpu(2000), estimateMs: 1_000 }));
  assert.equal([fit?.slot.worker.id, fit?.startMs], ["w2", NOW + 10_000], "w2 and w3 free up at 10 s; w2 comes first");
  assert.equal(profile.freeAt(w1, NOW), { cpuMillis: 1000, memoryMib: 8192 - 256, tasks: 3 });
  assert.equal(profile.freeAt(w1, NOW + 20_000), { cpuMillis: 4000, memoryMib: 8192, tasks: 4 });
  const small = profile.earliestFit(task({ resources: noGpu(1000) }));
  assert.equal([small?.slot.worker.id, small?.startMs], ["w1", NOW], "fits now on w1");
});

test("the learned ratio of the worker sets both the running attempts' ends and the task's own runtime there", () => {
  const s = slot("w1", { capacity: { cpuMillis: 4000, memoryMib: 8192, maxTasks: 4, gpus: [] } });
  const known = new Map<string, RunningAttempt>();
  allocate(s, "r", noGpu(4000), []);
  known.set("r", { task: task({ kind: "sim", resources: noGpu(4000), estimateMs: 10_000 }), startedAtMs: NOW });
  const profile = new AvailabilityProfile([s], NOW, { ...inputsFor(known), learning: learned("sim", "w1", 3) });
  const fit = profile.earliestFit(task({ kind: "sim", resources: noGpu(1000), estimateMs: 1_000 }));
  assert.equal([fit?.startMs, fit?.endMs], [NOW + 30_000, NOW + 33_000]);
});

test("an attempt past its predicted end shifts the profile (now + a step); attempts the lookup does not know take the default", () => {
  const s = slot("w1", { capacity: { cpuMillis: 2000, memoryMib: 8192, maxTasks: 4, gpus: [] } });
  const known = busy(s, [{ id: "late", resources: noGpu(1000), estimateMs: 10_000, startedAtMs: NOW - 60_000 }]);
  allocate(s, "stranger", noGpu(1000), []);
  const profile = new AvailabilityProfile([s], NOW, { ...inputsFor(known), overrunStepMs: 2_000 });
  const fit = profile.earliestFit(task({ resources: noGpu(1000), estimateMs: 1_000 }));
  assert.is(fit?.startMs, NOW + 2_000, "the overrunning attempt is expected to end one step from now");
  const all = profile.earliestFit(task({ resources: noGpu(2000), estimateMs: 1_000 }));
  assert.is(all?.startMs, NOW + HOUR, "the unknown attempt is expected to run the default runtime");
});

test("attempts started in the pass count from now; reservations' ends are change points too", () => {
  const s = slot("w1", { capacity: { cpuMillis: 2000, memoryMib: 8192, maxTasks: 4, gpus: [] } });
  const profile = new AvailabilityProfile([s], NOW, inputsFor());
  assert.is(profile.earliestFit(task({ resources: noGpu(2000) }))?.startMs, NOW, "idle worker");
  const t = task({ resources: noGpu(1000), estimateMs: 7_000 });
  allocate(s, "new", t.spec.resources, []);
  profile.started(s, "new", t);
  const big = task({ resources: noGpu(2000), estimateMs: 5_000 });
  const fit = profile.earliestFit(big);
  assert.is(fit?.startMs, NOW + 7_000, "the attempt started now is predicted from its own estimate");
  profile.claim(big.id, big, fit!);
  assert.is(profile.earliestFit(task({ resources: noGpu(1500), estimateMs: 9_000 }))?.startMs, NOW + 12_000, "after the reservation ends");
});

test(`earliestFit looks at most ${MAX_CHANGE_POINTS} start times per worker`, () => {
  const many = (id: string, count: number) => {
    const s = slot(id, { capacity: { cpuMillis: 100_000, memoryMib: 1 << 20, maxTasks: count, gpus: [] } });
    const known = busy(
      s,
      Array.from({ length: count }, (_, i) => ({ id: `${id}-${i}`, resources: noGpu(1000), estimateMs: (i + 1) * 1000 })),
    );
    return { s, known };
  };
  const fits = many("fits", MAX_CHANGE_POINTS - 1);
  const needsAll = (t: Task) => new AvailabilityProfile([fits.s], NOW, inputsFor(fits.known)).earliestFit(t);
  assert.is(needsAll(task({ resources: noGpu(100_000) }))?.startMs, NOW + (MAX_CHANGE_POINTS - 1) * 1000, "the last change point is still looked at");
  const beyond = many("beyond", MAX_CHANGE_POINTS);
  assert.is(new AvailabilityProfile([beyond.s], NOW, inputsFor(beyond.known)).earliestFit(task({ resources: noGpu(100_000) })), null);
});

test("only ONLINE workers take reservations", () => {
  const draining = slot("d", { status: "DRAINING" });
  const suspect = slot("s", { status: "SUSPECT" });
  const profile = new AvailabilityProfile([draining, suspect], NOW, inputsFor());
  assert.is(profile.earliestFit(task()), null);
});

test.run();
