import { test } from "uvu";
import * as assert from "uvu/assert";
import { fairShareFactors } from "../../src/core/fairshare/factor.js";
import { priorityBreakdown } from "../../src/core/fairshare/multifactor.js";
import { MultifactorQueue, type MultifactorQueueOptions } from "../../src/core/fairshare/multifactor-queue.js";
import { DEFAULT_MULTIFACTOR_WEIGHTS } from "../../src/core/fairshare/types.js";
import { ORDERING_NAMES, orderingByName, priorityOrdering } from "../../src/core/ordering.js";
import { PendingQueue } from "../../src/core/pending-queue.js";
import { int, mulberry32, pick } from "../../src/core/random.js";
import { createTaskQueue } from "../../src/core/task-queue.js";
import { PRIORITIES, QUEUE_CLASSES, type Task, type TaskSpec } from "../../src/core/types.js";
import { task } from "../helpers/domain.js";

const DAY = 86_400_000;
const ONE_GPU = { cpuMillis: 1000, memoryMib: 4096, gpuCount: 1, gpuModel: "", gpuMemoryMib: 0 };

function queueWith(fairShare: Record<string, number>, nowMs: number, extra: Partial<MultifactorQueueOptions> = {}): MultifactorQueue {
  return new MultifactorQueue({
    weights: DEFAULT_MULTIFACTOR_WEIGHTS,
    maxAgeMs: 7 * DAY,
    fairShareOf: (project) => fairShare[project] ?? 1,
    now: () => nowMs,
    ...extra,
  });
}

function projectTask(project: string, createdAtMs: number, spec: Partial<TaskSpec> = {}): Task {
  return task({ project, resources: ONE_GPU, ...spec }, { createdAtMs });
}

const ids = (tasks: Iterable<Task>) => [...tasks].map((t) => t.id);

test("noisy neighbour: B's later tasks go before A's 5,000 when A used far more", () => {
  // A ran 16 GPUs for an hour, B nothing; equal shares.
  const f = fairShareFactors(["A", "B"], new Map([["A", 16 * 3600]]), new Map());
  assert.ok(f.get("B")! > f.get("A")!);
  const q = queueWith(Object.fromEntries(f), 60_000);
  const fifo = new PendingQueue(priorityOrdering);
  const a = Array.from({ length: 5000 }, () => projectTask("A", 0));
  const b = Array.from({ length: 50 }, () => projectTask("B", 60_000));
  for (const t of [...a, ...b]) {
    q.push(t);
    fifo.push(t);
  }
  assert.is(q.size, 5050);
  const order = [...q.inOrder()];
  assert.is(order[0].spec.project, "B");
  assert.equal(ids(order.slice(0, 50)), ids(b)); // all of B first, in submission order
  assert.equal(ids(order.slice(50)), ids(a));
  assert.is(fifo.inOrder().next().value!.spec.project, "A"); // what priority-FIFO does today
});

test("class still dominates fair share: A's LIVE task before B's BATCH tasks", () => {
  const q = queueWith({ A: 0.01, B: 1 }, 1000);
  const aBatch = projectTask("A", 0, { queueClass: "BATCH" });
  const aLive = projectTask("A", 10, { queueClass: "LIVE" });
  const bBatch = [projectTask("B", 0, { queueClass: "BATCH" }), projectTask("B", 1, { queueClass: "BATCH" })];
  for (const t of [aBatch, ...bBatch, aLive]) q.push(t);
  assert.equal(ids(q.inOrder()), ids([aLive, ...bBatch, aBatch]));
});

test("FIFO within a project and (class, priority), even when a later task is smaller", () => {
  const q = queueWith({}, 1000);
  const reference = new PendingQueue(priorityOrdering);
  const big = task({ project: "p", resources: { ...ONE_GPU, gpuCount: 8 } }, { createdAtMs: 0 });
  const small = task({ project: "p", resources: { ...ONE_GPU, gpuCount: 0 } }, { createdAtMs: 0 });
  const mixed = [
    big,
    small,
    task({ project: "p", priority: "LOW" }),
    task({ project: "p", queueClass: "LIVE", priority: "LOW" }),
    task({ project: "p", priority: "HIGH" }),
    task({ project: "p", queueClass: "BATCH", priority: "HIGH" }),
    task({ project: "p" }),
  ];
  for (const t of mixed) {
    q.push(t);
    reference.push(t);
  }
  assert.equal(ids(q.inOrder()), ids(reference.inOrder()));
  const order = ids(q.inOrder());
  assert.ok(order.indexOf(big.id) < order.indexOf(small.id));
});

test("removal while iterating: the yielded task and another project's head; each remaining task once", () => {
  const q = queueWith({ A: 0.2, B: 0.6, C: 0.9 }, 1000);
  const all: Task[] = [];
  for (const project of ["A", "B", "C"]) for (let i = 0; i < 4; i++) all.push(projectTask(project, i));
  for (const t of all) q.push(t);
  const seen: string[] = [];
  let removedOther: Task | undefined;
  for (const t of q.inOrder()) {
    seen.push(t.id);
    assert.ok(q.remove(t.id));
    if (removedOther === undefined) {
      // C goes first (best F); B's head is the first task of B.
      removedOther = all.find((x) => x.spec.project === "B")!;
      assert.ok(q.remove(removedOther.id));
    }
  }
  assert.is(q.size, 0);
  const expected = all.filter((t) => t !== removedOther);
  assert.equal([...seen].sort(), ids(expected).sort());
  assert.is(new Set(seen).size, seen.length);
  // The order is exactly that of a queue that never had the removed task: C, then B, then A.
  assert.equal(
    seen,
    ids([
      ...expected.filter((t) => t.spec.project === "C"),
      ...expected.filter((t) => t.spec.project === "B"),
      ...expected.filter((t) => t.spec.project === "A"),
    ]),
  );
});

test("removing another project's head moves that project on to its next task at once", () => {
  // Ranked by size only: B's head is large (ranks last), the task behind it small (ranks first).
  const sizeOnly = { queueClass: 0, priority: 0, fairShare: 0, age: 0, size: 1 };
  const q = queueWith({}, 1000, { weights: sizeOnly });
  const a = [projectTask("A", 0), projectTask("A", 1)];
  const bLarge = projectTask("B", 0, { resources: { ...ONE_GPU, gpuCount: 8 } });
  const bSmall = projectTask("B", 1, { resources: { ...ONE_GPU, gpuCount: 0 } });
  for (const t of [...a, bLarge, bSmall]) q.push(t);
  assert.equal(ids(q.inOrder()), ids([a[0], a[1], bLarge, bSmall])); // FIFO within B holds bSmall back
  const seen: Task[] = [];
  for (const t of q.inOrder()) {
    seen.push(t);
    if (t === a[0]) q.remove(bLarge.id);
  }
  // Once bLarge is gone, bSmall is B's head and outranks a[1] in the same pass.
  assert.equal(ids(seen), ids([a[0], bSmall, a[1]]));
});

test("re-push during iteration: a requeued task goes to the back of its bucket, yielded once more at most", () => {
  const q = queueWith({ A: 1, B: 0.5 }, 1000);
  const a = [projectTask("A", 0), projectTask("A", 1)];
  const b = [projectTask("B", 0), projectTask("B", 1)];
  for (const t of [...a, ...b]) q.push(t);
  const seen: string[] = [];
  for (const t of q.inOrder()) {
    seen.push(t.id);
    if (t === a[0] && seen.length === 1) q.push(b[0]); // B's head requeued behind b[1]
  }
  assert.equal(seen, ids([a[0], a[1], b[1], b[0]]));
  assert.is(q.size, 4);
});

test("the clock and each project's fair share are read once per pass", () => {
  let clockReads = 0;
  const fsReads = new Map<string, number>();
  const q = queueWith({}, 0, {
    now: () => ++clockReads * 1000,
    fairShareOf: (p) => {
      fsReads.set(p, (fsReads.get(p) ?? 0) + 1);
      return 0.5;
    },
  });
  for (const p of ["A", "B", "C"]) for (let i = 0; i < 5; i++) q.push(projectTask(p, i));
  assert.is([...q.inOrder()].length, 15);
  assert.is(clockReads, 1);
  assert.equal([...fsReads.values()], [1, 1, 1]);
});

test("fair share changes between passes change the order", () => {
  const shares: Record<string, number> = { A: 0.9, B: 0.1 };
  const q = queueWith(shares, 1000);
  const a = projectTask("A", 5);
  const b = projectTask("B", 0);
  q.push(a);
  q.push(b);
  assert.equal(ids(q.inOrder()), ids([a, b]));
  shares.A = 0.05;
  assert.equal(ids(q.inOrder()), ids([b, a]));
});

test("breakdownOf gives the factors, and the totals the pass ranked heads by", () => {
  const nowMs = 3 * DAY;
  const fair: Record<string, number> = { A: 0.25, B: 1, C: 0.5, D: 0.75 };
  const q = queueWith(fair, nowMs);
  const tasks = [
    projectTask("A", 0, { queueClass: "LIVE", priority: "HIGH" }),
    projectTask("B", DAY, { queueClass: "BATCH", priority: "LOW", resources: { ...ONE_GPU, gpuCount: 0 } }),
    projectTask("C", 2 * DAY, { priority: "HIGH" }),
    projectTask("D", 20 * DAY, { resources: { ...ONE_GPU, gpuCount: 4 } }), // created "after now": age 0
  ];
  for (const t of tasks) q.push(t);
  const order = [...q.inOrder()];
  const totals = order.map((t) => q.breakdownOf(t).total);
  for (let i = 1; i < totals.length; i++) assert.ok(totals[i - 1] >= totals[i], `${totals}`);
  for (const t of order) {
    assert.equal(q.breakdownOf(t), priorityBreakdown(t, fair[t.spec.project], nowMs, DEFAULT_MULTIFACTOR_WEIGHTS, 7 * DAY));
  }
  const live = q.breakdownOf(tasks[0]);
  assert.equal({ ...live, total: 0 }, { queueClass: 1, priority: 1, fairShare: 0.25, age: 3 / 7, size: 1 / (1 + 1 + 1 / 32 + 4 / 256), total: 0 });
  const batch = q.breakdownOf(tasks[1]);
  assert.is(batch.queueClass, 0);
  assert.is(batch.priority, 0);
  assert.is(q.breakdownOf(tasks[3]).age, 0);
  assert.is(q.breakdownOf(tasks[2]).queueClass, 0.5);
  assert.is(live.total, 10_000 + 1_000 + 25 + (10 * 3) / 7 + DEFAULT_MULTIFACTOR_WEIGHTS.size * live.size);
});

test("size, has, remove, push twice; empty projects leave no trace", () => {
  const q = queueWith({}, 0);
  const a = projectTask("A", 0);
  const b = projectTask("B", 0);
  q.push(a);
  q.push(a);
  q.push(b);
  assert.is(q.size, 2);
  assert.ok(q.has(a.id));
  assert.ok(q.remove(a.id));
  assert.not.ok(q.remove(a.id));
  assert.not.ok(q.has(a.id));
  assert.equal(ids(q.inOrder()), [b.id]);
  q.remove(b.id);
  assert.equal(ids(q.inOrder()), []);
  assert.throws(() => queueWith({}, 0, { maxAgeMs: 0 }), RangeError);
});

test("property: random removals while iterating match a naive merge over project heads", () => {
  const rng = mulberry32(15);
  for (let round = 0; round < 200; round++) {
    const nowMs = 10_000;
    const projects = ["p0", "p1", "p2", "p3", "p4"].slice(0, int(rng, 1, 5));
    const fair = Object.fromEntries(projects.map((p) => [p, pick(rng, [0.1, 0.5, 0.5, 1])]));
    const weights = pick(rng, [DEFAULT_MULTIFACTOR_WEIGHTS, { queueClass: 1, priority: 1, fairShare: 1, age: 1, size: 1 }]);
    const q = queueWith(fair, nowMs, { weights, maxAgeMs: 5_000 });
    const perProject = new Map(projects.map((p) => [p, new PendingQueue(priorityOrdering)]));
    const count = int(rng, 0, 40);
    const queued: Task[] = [];
    for (let i = 0; i < count; i++) {
      const project = pick(rng, projects);
      const t = task(
        { project, queueClass: pick(rng, QUEUE_CLASSES), priority: pick(rng, PRIORITIES), resources: { ...ONE_GPU, gpuCount: int(rng, 0, 2) } },
        { createdAtMs: int(rng, 0, 12_000) },
      );
      q.push(t);
      perProject.get(project)!.push(t);
      queued.push(t);
    }
    // The reference: each project's remaining tasks in its order; take the best head each step.
    const remaining = new Map([...perProject].map(([p, pq]) => [p, [...pq.inOrder()]]));
    const rank = (t: Task) => priorityBreakdown(t, fair[t.spec.project], nowMs, weights, 5_000).total;
    const better = (x: Task, y: Task) => {
      const rx = rank(x);
      const ry = rank(y);
      if (rx !== ry) return rx > ry;
      if (x.createdAtMs !== y.createdAtMs) return x.createdAtMs < y.createdAtMs;
      return x.id < y.id;
    };
    const dropFromReference = (t: Task) => {
      const list = remaining.get(t.spec.project)!;
      const i = list.indexOf(t);
      if (i >= 0) list.splice(i, 1);
    };
    const yielded = new Set<string>();
    for (const t of q.inOrder()) {
      let best: Task | undefined;
      for (const list of remaining.values()) if (list.length > 0 && (best === undefined || better(list[0], best))) best = list[0];
      assert.is(t.id, best?.id, `round ${round}`);
      assert.not.ok(yielded.has(t.id));
      yielded.add(t.id);
      dropFromReference(t);
      if (rng() < 0.5) q.remove(t.id);
      const removals = int(rng, 0, 2);
      for (let r = 0; r < removals; r++) {
        const victim = pick(rng, queued);
        if (victim !== undefined && q.remove(victim.id)) dropFromReference(victim);
      }
    }
    for (const list of remaining.values()) assert.is(list.length, 0, `round ${round}: tasks left unyielded`);
  }
});

test("createTaskQueue: buckets for priority and fifo, MultifactorQueue for multifactor (options required)", () => {
  assert.equal([...ORDERING_NAMES], ["priority", "fifo", "multifactor"]);
  const pq = createTaskQueue("fifo");
  assert.instance(pq, PendingQueue);
  assert.is((pq as PendingQueue).policy, orderingByName("fifo"));
  assert.instance(createTaskQueue("priority"), PendingQueue);
  const options: MultifactorQueueOptions = { weights: DEFAULT_MULTIFACTOR_WEIGHTS, maxAgeMs: DAY, fairShareOf: () => 1, now: () => 0 };
  assert.instance(createTaskQueue("multifactor", options), MultifactorQueue);
  assert.throws(() => createTaskQueue("multifactor"), /needs its options/);
  assert.throws(() => createTaskQueue("lottery"), /unknown ordering policy/);
  assert.throws(() => orderingByName("multifactor"), /createTaskQueue/);
});

test.run();
