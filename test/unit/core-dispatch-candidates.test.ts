// How many candidates planDispatch hands the placement strategy: maxCandidates for a task without a
// deadline, a wider sample (deadlineCandidates) for one with a deadline, and a bounded scan for it.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { DEADLINE_SCAN_FACTOR, DEFAULT_DEADLINE_CANDIDATES, DEFAULT_MAX_CANDIDATES, planDispatch, type PlanOptions } from "../../src/core/dispatch-plan.js";
import { priorityOrdering } from "../../src/core/ordering.js";
import { PendingQueue } from "../../src/core/pending-queue.js";
import type { Candidate, PlacementChoice, PlacementStrategy } from "../../src/core/placement.js";
import type { Task } from "../../src/core/types.js";
import { allocate, type WorkerSlot } from "../../src/core/worker-slot.js";
import { slot, task } from "../helpers/domain.js";

/** Takes the first candidate and remembers how many it was offered per task. */
class CountingPlacement implements PlacementStrategy {
  readonly name = "counting";
  readonly offered = new Map<string, number>();
  choose(t: Task, candidates: Candidate[]): PlacementChoice {
    this.offered.set(t.id, candidates.length);
    return {
      candidate: candidates[0],
      decision: { strategy: "round_robin", fallbackReason: "", feasibleWorkers: candidates.length, chosen: null, runnerUp: null, weightsVersion: "" },
    };
  }
}

let ids = 0;
function offered(tasks: Task[], slots: WorkerSlot[], options: Partial<PlanOptions> = {}): Map<string, number> {
  const q = new PendingQueue(priorityOrdering);
  tasks.forEach((t) => q.push(t));
  const placement = new CountingPlacement();
  planDispatch(q.inOrder(), slots, placement, { nowMs: 0, maxScan: 1000, newAttemptId: () => `a${++ids}`, ...options });
  return placement.offered;
}

const workers = (n: number, prefix = "w") => Array.from({ length: n }, (_, i) => slot(`${prefix}${String(i).padStart(4, "0")}`));
const withDeadline = () => task({ estimateMs: 1000 }, { deadlineMs: 2000 });
const explicitDeadline = () => task({ estimateMs: 1000, deadlineMs: 5000 });

test("a task without a deadline gets maxCandidates (8); one with a deadline gets 32", () => {
  const plain = task();
  const derived = withDeadline();
  const explicit = explicitDeadline();
  const got = offered([plain, derived, explicit], workers(100));
  assert.is(got.get(plain.id), DEFAULT_MAX_CANDIDATES);
  assert.is(got.get(derived.id), DEFAULT_DEADLINE_CANDIDATES);
  assert.is(got.get(explicit.id), DEFAULT_DEADLINE_CANDIDATES);
  assert.is(DEFAULT_MAX_CANDIDATES, 8);
  assert.is(DEFAULT_DEADLINE_CANDIDATES, 32);
});

test("deadlineCandidates is configurable, never below maxCandidates; Infinity caps offer every feasible worker", () => {
  const a = withDeadline();
  assert.is(offered([a], workers(100), { deadlineCandidates: 12 }).get(a.id), 12);
  const b = withDeadline();
  assert.is(offered([b], workers(100), { maxCandidates: 20, deadlineCandidates: 12 }).get(b.id), 20);
  const c = withDeadline();
  assert.is(offered([c], workers(100), { maxCandidates: Infinity }).get(c.id), 100);
  const d = task();
  assert.is(offered([d], workers(100), { maxCandidates: Infinity }).get(d.id), 100);
});

test("a small fleet: a deadline task sees every open worker", () => {
  const t = withDeadline();
  assert.is(offered([t], workers(20)).get(t.id), 20);
});

test("widening is a bounded scan: where few workers fit, a deadline task still gets its first 8 from the whole ring, no more beyond the scan budget", () => {
  // 400 open workers (a free slot each); only every 10th one has the CPU left for the task.
  // Budget = 2 x 32 = 64 visits -> at most 7 from it, but the first 8 are sought round the ring.
  const cpuFull = (s: WorkerSlot) => allocate(s, `${s.worker.id}-bg`, { cpuMillis: 4000, memoryMib: 1, gpuCount: 0, gpuModel: "", gpuMemoryMib: 0 }, []);
  const slots = workers(400);
  slots.forEach((s, i) => {
    if (i % 10 !== 0) cpuFull(s);
  });
  const t = withDeadline();
  assert.is(offered([t], slots).get(t.id), DEFAULT_MAX_CANDIDATES);
  // Where half the ring fits, the budget of 64 visits yields the full wider sample.
  const half = workers(400, "h");
  half.forEach((s, i) => {
    if (i % 2 === 1) cpuFull(s);
  });
  const u = withDeadline();
  assert.is(offered([u], half).get(u.id), DEFAULT_DEADLINE_CANDIDATES);
  assert.is(DEADLINE_SCAN_FACTOR * DEFAULT_DEADLINE_CANDIDATES, 64);
});

test("successive deadline tasks sample different parts of the ring (the cursor moves on)", () => {
  const slots = workers(100);
  const q = new PendingQueue(priorityOrdering);
  const tasks = [withDeadline(), withDeadline(), withDeadline()];
  tasks.forEach((t) => q.push(t));
  const firsts: string[] = [];
  const placement: PlacementStrategy = {
    name: "first",
    choose: (_t, c) => {
      firsts.push(c[0].slot.worker.id);
      return {
        candidate: c[0],
        decision: { strategy: "round_robin", fallbackReason: "", feasibleWorkers: c.length, chosen: null, runnerUp: null, weightsVersion: "" },
      };
    },
  };
  planDispatch(q.inOrder(), slots, placement, { nowMs: 0, maxScan: 10, newAttemptId: () => `a${++ids}` });
  assert.equal(firsts, ["w0000", "w0032", "w0064"]);
});

test.run();
