// chooseVictims (src/core/preemption/victims.ts): who a higher-ranked task may stop, the smallest
// set on one worker, the preference among equals, no ping-pong, and a seeded property test that a
// returned set always makes room and holds only preemptible, lower-ranked work.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { feasibleGpus } from "../../src/core/feasibility.js";
import { outranks } from "../../src/core/preemption/rank.js";
import {
  chooseVictims,
  REASON_FITS_NO_WORKER,
  REASON_FITS_NOW,
  REASON_NOT_ENOUGH,
  REASON_OUTRANKS_NOTHING,
  type RunningInfo,
} from "../../src/core/preemption/victims.js";
import { int, mulberry32, pick } from "../../src/core/random.js";
import { PRIORITIES, QUEUE_CLASSES, type Priority, type QueueClass, type Task } from "../../src/core/types.js";
import { allocate, release, type WorkerSlot } from "../../src/core/worker-slot.js";
import { gpus, slot, task } from "../helpers/domain.js";

const NOW = 1_700_000_000_000;
const MIN = 60_000;

const gpuTask = (gpuCount: number, queueClass: QueueClass = "BATCH", priority: Priority = "NORMAL"): Task =>
  task({ queueClass, priority, resources: { cpuMillis: 100, memoryMib: 64, gpuCount, gpuModel: "", gpuMemoryMib: 0 } });
const gpuBox = (id: string, count = 4) => slot(id, { capacity: { cpuMillis: 64_000, memoryMib: 1 << 18, maxTasks: 16, gpus: gpus(count) } });

/** A small world: slots, what runs on them, and a lookup chooseVictims can use. */
function world() {
  const infos = new Map<string, RunningInfo>();
  let n = 0;
  return {
    infos,
    running: (id: string) => infos.get(id),
    /** Runs `t` on `s` on the given GPUs, started `agoMs` before NOW (null: not started). */
    run(s: WorkerSlot, t: Task, gpuIndexes: number[], agoMs: number | null = MIN, borrowed = false): string {
      const id = `att-${++n}`;
      allocate(s, id, t.spec.resources, gpuIndexes, t.spec.project);
      infos.set(id, { task: t, startedAtMs: agoMs === null ? null : NOW - agoMs, borrowed, preemptedBy: [] });
      return id;
    },
  };
}

test("a LIVE task on a full worker picks BATCH victims, never DEFAULT or LIVE ones", () => {
  const w = world();
  const s = gpuBox("w");
  w.run(s, gpuTask(1, "LIVE"), [0]);
  w.run(s, gpuTask(1, "DEFAULT"), [1]);
  const b1 = w.run(s, gpuTask(1, "BATCH"), [2]);
  const b2 = w.run(s, gpuTask(1, "BATCH"), [3]);
  const two = chooseVictims(gpuTask(2, "LIVE", "HIGH"), [s], w.running, { nowMs: NOW });
  assert.equal(two.victims, { workerId: "w", attemptIds: [b1, b2].sort(), gpuIndexes: [2, 3] });
  // Three GPUs would need the DEFAULT or the LIVE one too: nothing is chosen.
  const three = chooseVictims(gpuTask(3, "LIVE", "HIGH"), [s], w.running, { nowMs: NOW });
  assert.equal(three, { victims: null, reason: REASON_NOT_ENOUGH });
});

test("a task not preemptible (by the caller's rule) is never chosen, even when it is the only way", () => {
  const w = world();
  const s = gpuBox("w", 2);
  const pinned = gpuTask(1, "BATCH", "LOW");
  pinned.spec.labels.preemptible = "false";
  w.run(s, pinned, [0]);
  const free = w.run(s, gpuTask(1, "BATCH", "LOW"), [1]);
  const preemptible = (t: Task) => t.spec.queueClass === "BATCH" && t.spec.labels.preemptible !== "false";
  assert.equal(chooseVictims(gpuTask(1, "LIVE"), [s], w.running, { nowMs: NOW, preemptible }).victims?.attemptIds, [free]);
  assert.equal(chooseVictims(gpuTask(2, "LIVE"), [s], w.running, { nowMs: NOW, preemptible }), { victims: null, reason: REASON_NOT_ENOUGH });
});

test("priority within a class counts only by the margin; classes outrank whatever the priority", () => {
  const w = world();
  const s = gpuBox("w", 1);
  const normal = w.run(s, gpuTask(1, "BATCH", "NORMAL"), [0]);
  assert.equal(chooseVictims(gpuTask(1, "BATCH", "HIGH"), [s], w.running, { nowMs: NOW }).victims?.attemptIds, [normal]);
  assert.is(chooseVictims(gpuTask(1, "BATCH", "HIGH"), [s], w.running, { nowMs: NOW, priorityMargin: 2 }).reason, REASON_NOT_ENOUGH);
  assert.is(chooseVictims(gpuTask(1, "BATCH", "NORMAL"), [s], w.running, { nowMs: NOW }).reason, REASON_NOT_ENOUGH);
  // A margin of 0 is raised to 1: equals never preempt each other.
  assert.is(chooseVictims(gpuTask(1, "BATCH", "NORMAL"), [s], w.running, { nowMs: NOW, priorityMargin: 0 }).reason, REASON_NOT_ENOUGH);
  assert.equal(chooseVictims(gpuTask(1, "DEFAULT", "LOW"), [s], w.running, { nowMs: NOW }).victims?.attemptIds, [normal]);
  assert.is(chooseVictims(gpuTask(1, "BATCH", "LOW"), [s], w.running, { nowMs: NOW }).reason, REASON_OUTRANKS_NOTHING);
});

test("among equals the most recently started goes (least work lost); not yet started counts as most recent", () => {
  const w = world();
  const s = gpuBox("w", 3);
  w.run(s, gpuTask(1), [0], 60 * MIN);
  const recent = w.run(s, gpuTask(1), [1], 2 * MIN);
  w.run(s, gpuTask(1), [2], 30 * MIN);
  assert.equal(chooseVictims(gpuTask(1, "LIVE"), [s], w.running, { nowMs: NOW }).victims, { workerId: "w", attemptIds: [recent], gpuIndexes: [1] });
  const s2 = gpuBox("w2", 2);
  w.run(s2, gpuTask(1), [0], MIN);
  const assigned = w.run(s2, gpuTask(1), [1], null);
  assert.equal(chooseVictims(gpuTask(1, "LIVE"), [s2], w.running, { nowMs: NOW }).victims?.attemptIds, [assigned]);
});

test("borrowed-quota work goes first, before lower class or less work lost", () => {
  const w = world();
  const s = gpuBox("w", 3);
  w.run(s, gpuTask(1, "BATCH", "LOW"), [0], MIN);
  const borrowed = w.run(s, gpuTask(1, "BATCH", "HIGH"), [1], 60 * MIN, true);
  w.run(s, gpuTask(1, "BATCH", "NORMAL"), [2], 0);
  assert.equal(chooseVictims(gpuTask(1, "LIVE"), [s], w.running, { nowMs: NOW }).victims?.attemptIds, [borrowed]);
});

test("without borrowing, the lowest class and priority go first", () => {
  const w = world();
  const s = gpuBox("w", 3);
  w.run(s, gpuTask(1, "DEFAULT", "LOW"), [0], 0);
  const low = w.run(s, gpuTask(1, "BATCH", "LOW"), [1], 60 * MIN);
  w.run(s, gpuTask(1, "BATCH", "HIGH"), [2], 0);
  const all = () => true;
  assert.equal(chooseVictims(gpuTask(1, "LIVE"), [s], w.running, { nowMs: NOW, preemptible: all }).victims?.attemptIds, [low]);
});

test("the smallest set on one worker: one full-size victim on B beats two half-size ones on A", () => {
  const w = world();
  const a = gpuBox("a", 4);
  w.run(a, gpuTask(2), [0, 1], MIN);
  w.run(a, gpuTask(2), [2, 3], MIN);
  const b = gpuBox("b", 4);
  const full = w.run(b, gpuTask(4), [0, 1, 2, 3], 60 * MIN);
  assert.equal(chooseVictims(gpuTask(4, "LIVE"), [a, b], w.running, { nowMs: NOW }).victims, { workerId: "b", attemptIds: [full], gpuIndexes: [0, 1, 2, 3] });
});

test("equal counts: the worker losing the least work, then slot order", () => {
  const w = world();
  const a = gpuBox("a", 1);
  w.run(a, gpuTask(1), [0], 60 * MIN);
  const b = gpuBox("b", 1);
  const cheap = w.run(b, gpuTask(1), [0], MIN);
  const c = gpuBox("c", 1);
  w.run(c, gpuTask(1), [0], MIN);
  assert.equal(chooseVictims(gpuTask(1, "LIVE"), [a, b, c], w.running, { nowMs: NOW }).victims?.attemptIds, [cheap]);
});

test("greedy then drop: a preferred victim that frees nothing useful is not stopped", () => {
  const w = world();
  const s = gpuBox("w", 2);
  // A recent cpu-only task comes first in preference order but frees no GPU; the 2-GPU task needs both GPU holders.
  w.run(s, task({ queueClass: "BATCH" }), [], 0);
  const g0 = w.run(s, gpuTask(1), [0], 10 * MIN);
  const g1 = w.run(s, gpuTask(1), [1], 20 * MIN);
  const r = chooseVictims(gpuTask(2, "LIVE"), [s], w.running, { nowMs: NOW });
  assert.equal(r.victims, { workerId: "w", attemptIds: [g0, g1], gpuIndexes: [0, 1] });
});

test("maxVictims bounds the candidates looked at per worker", () => {
  const w = world();
  const s = gpuBox("w", 4);
  for (let i = 0; i < 4; i++) w.run(s, gpuTask(1), [i]);
  assert.ok(chooseVictims(gpuTask(4, "LIVE"), [s], w.running, { nowMs: NOW }).victims);
  assert.equal(chooseVictims(gpuTask(4, "LIVE"), [s], w.running, { nowMs: NOW, maxVictims: 3 }), { victims: null, reason: REASON_NOT_ENOUGH });
});

test("no ping-pong: a task preempted by B may not preempt B back", () => {
  const w = world();
  const s = gpuBox("w", 1);
  const b = gpuTask(1, "BATCH", "NORMAL");
  w.run(s, b, [0]);
  const a = gpuTask(1, "BATCH", "HIGH");
  const preemptedByOf = (t: Task) => (t.id === a.id ? [b.id] : []);
  assert.equal(chooseVictims(a, [s], w.running, { nowMs: NOW, preemptedByOf }), { victims: null, reason: REASON_NOT_ENOUGH });
  assert.ok(chooseVictims(a, [s], w.running, { nowMs: NOW }).victims, "without the history it would");
});

test("a task that would not fit even with every preemptible victim gone gets null with the reason", () => {
  const w = world();
  const s = gpuBox("w", 4);
  w.run(s, gpuTask(2, "DEFAULT"), [0, 1]);
  w.run(s, gpuTask(2, "BATCH"), [2, 3]);
  assert.equal(chooseVictims(gpuTask(3, "LIVE"), [s], w.running, { nowMs: NOW }), { victims: null, reason: REASON_NOT_ENOUGH });
  assert.equal(chooseVictims(gpuTask(8, "LIVE"), [s], w.running, { nowMs: NOW }), { victims: null, reason: REASON_FITS_NO_WORKER });
  assert.equal(chooseVictims(gpuTask(1, "LIVE"), [gpuBox("idle")], w.running, { nowMs: NOW }), { victims: null, reason: REASON_FITS_NOW });
});

test("attempts the lookup does not know, and workers not ONLINE, are left alone", () => {
  const w = world();
  const s = gpuBox("w", 1);
  allocate(s, "ghost", gpuTask(1).spec.resources, [0]);
  const drained = slot("d", { status: "DRAINING", capacity: { cpuMillis: 64_000, memoryMib: 1 << 18, maxTasks: 16, gpus: gpus(1) } });
  w.run(drained, gpuTask(1), [0]);
  assert.is(chooseVictims(gpuTask(1, "LIVE"), [s, drained], w.running, { nowMs: NOW }).reason, REASON_NOT_ENOUGH);
});

/** Everything chooseVictims may not change, as plain data. */
const snapshot = (slots: WorkerSlot[]) =>
  slots.map((s) => ({
    worker: structuredClone(s.worker),
    allocations: [...s.allocations.entries()].map(([k, v]) => [k, structuredClone(v)]),
    cpu: s.allocatedCpuMillis,
    mem: s.allocatedMemoryMib,
    gpus: [...s.allocatedGpus],
    version: s.version,
  }));

test("input slots are unchanged after the call", () => {
  const w = world();
  const a = gpuBox("a", 4);
  w.run(a, gpuTask(2), [0, 1]);
  w.run(a, gpuTask(2), [2, 3]);
  const b = gpuBox("b", 2);
  w.run(b, gpuTask(1, "DEFAULT"), [0]);
  w.run(b, gpuTask(1), [1]);
  const before = snapshot([a, b]);
  assert.ok(chooseVictims(gpuTask(4, "LIVE"), [a, b], w.running, { nowMs: NOW }).victims);
  assert.equal(snapshot([a, b]), before);
});

test("property: over random small clusters a returned set makes room and holds only preemptible, lower-ranked work", () => {
  const rng = mulberry32(16_0001);
  let chosen = 0;
  for (let round = 0; round < 400; round++) {
    const w = world();
    const slots = Array.from({ length: int(rng, 1, 4) }, (_, i) =>
      slot(`w${i}`, { capacity: { cpuMillis: int(rng, 2, 8) * 1000, memoryMib: 8192, maxTasks: int(rng, 2, 6), gpus: gpus(int(rng, 0, 4)) } }),
    );
    const tasks: Task[] = [];
    for (const s of slots) {
      for (let k = int(rng, 0, 6); k > 0; k--) {
        const free = s.worker.capacity.gpus.map((g) => g.index).filter((i) => !s.allocatedGpus.has(i));
        const t = task({
          queueClass: pick(rng, QUEUE_CLASSES),
          priority: pick(rng, PRIORITIES),
          labels: rng() < 0.2 ? { pinned: "yes" } : {},
          resources: { cpuMillis: int(rng, 1, 3) * 500, memoryMib: 256, gpuCount: int(rng, 0, free.length), gpuModel: "", gpuMemoryMib: 0 },
        });
        const f = feasibleGpus(t, s);
        if (!f) continue;
        w.run(s, t, f, rng() < 0.1 ? null : int(rng, 0, 120) * MIN, rng() < 0.2);
        tasks.push(t);
      }
    }
    const preemptor = task({
      queueClass: pick(rng, QUEUE_CLASSES),
      priority: pick(rng, PRIORITIES),
      resources: { cpuMillis: int(rng, 1, 6) * 500, memoryMib: 256, gpuCount: int(rng, 0, 4), gpuModel: "", gpuMemoryMib: 0 },
    });
    const history = tasks.filter(() => rng() < 0.15).map((t) => t.id);
    const margin = int(rng, 1, 2);
    const maxVictims = int(rng, 1, 8);
    const preemptible = (t: Task) => t.spec.labels.pinned !== "yes" && t.spec.queueClass !== "LIVE";
    const before = snapshot(slots);
    const r = chooseVictims(preemptor, slots, w.running, { nowMs: NOW, priorityMargin: margin, preemptible, preemptedByOf: () => history, maxVictims });
    assert.equal(snapshot(slots), before, "slots unchanged");
    if (!r.victims) {
      assert.ok(r.reason.length > 0);
      continue;
    }
    chosen++;
    const s = slots.find((x) => x.worker.id === r.victims!.workerId)!;
    assert.ok(r.victims.attemptIds.length >= 1 && r.victims.attemptIds.length <= maxVictims);
    assert.is(new Set(r.victims.attemptIds).size, r.victims.attemptIds.length, "no victim twice");
    for (const id of r.victims.attemptIds) {
      assert.ok(s.allocations.has(id), "victim runs on the chosen worker");
      const victim = w.infos.get(id)!.task;
      assert.ok(preemptible(victim), "victim preemptible");
      assert.ok(outranks(preemptor, victim, margin), "victim ranked lower");
      assert.not.ok(history.includes(victim.id), "no ping-pong");
    }
    const freed = (ids: string[]) => {
      const copy: WorkerSlot = { ...s, allocations: new Map(s.allocations), allocatedGpus: new Set(s.allocatedGpus) };
      for (const id of ids) release(copy, id);
      return feasibleGpus(preemptor, copy);
    };
    assert.equal(freed(r.victims.attemptIds), r.victims.gpuIndexes, "releasing exactly the victims makes it fit, on the GPUs returned");
    for (const id of r.victims.attemptIds) assert.is(freed(r.victims.attemptIds.filter((x) => x !== id)), null, "no victim can be spared on its own");
  }
  assert.ok(chosen > 20, `the generator exercises the success path (${chosen} of 400)`);
});

test.run();
