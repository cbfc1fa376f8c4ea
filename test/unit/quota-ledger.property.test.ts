// Property test of the quota ledger (issue 15): "quotas are never exceeded by a single task-step
// over random clusters, tasks and quota edits, including edits that shrink a quota below current
// use (running work continues, nothing new starts)". Each case is a small simulation with a fixed
// seed: tasks are submitted, admitted in a random order when a worker has room and the ledger's
// `check` says yes, finish at random, and quotas are edited in between. After every phase the
// invariants are checked against usage recomputed from the running tasks (not the ledger's sums),
// and every `check` answer is compared with an independent re-statement of the admission rule.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { gpuModelsOf, taskDemand } from "../../src/core/fairshare/demand.js";
import type { ProjectQuota } from "../../src/core/fairshare/types.js";
import { feasibleGpus } from "../../src/core/feasibility.js";
import { int, pick, type Rng } from "../../src/core/random.js";
import type { Task } from "../../src/core/types.js";
import { allocate, release, type WorkerSlot } from "../../src/core/worker-slot.js";
import { amount, newWorld, RESOURCES, randomLimits, randomTask, setLedgerQuotas, type Sim } from "../helpers/quota-sim.js";

const CASES = 200;
const STEPS = 40;
const EPS = 1e-9;

const stats = { admitted: 0, borrowing: 0, refused: 0, refusedWhileBorrowing: 0, shrunkBelowUse: 0, edits: 0, overQuotaTaskSteps: 0, checkMismatches: 0 };

// ---- an independent statement of the rule -------------------------------------------------------

/** How much of quota resource `resource` a task holding these GPUs uses (substring rule for models). */
function taskAmount(t: Task, models: readonly string[], resource: string): number {
  const res = t.spec.resources;
  switch (resource) {
    case "cpu":
      return res.cpuMillis / 1000;
    case "memory":
      return res.memoryMib / 1024;
    case "gpu":
      return res.gpuCount;
    case "tasks":
      return 1;
    default: {
      const model = resource.slice("gpu:".length);
      return models.filter((m) => m.toLowerCase().includes(model)).length;
    }
  }
}

function usedBy(sim: Sim, project: string, resource: string): number {
  let sum = 0;
  for (const run of sim.running.values()) if (run.task.spec.project === project) sum += taskAmount(run.task, run.models, resource);
  return sum;
}

function quotaFor(sim: Sim, project: string): Omit<ProjectQuota, "project"> | null {
  return sim.quotas.get(project) ?? sim.defaultQuota;
}

function projectsUsing(sim: Sim): Set<string> {
  return new Set([...sim.running.values()].map((run) => run.task.spec.project));
}

function borrowedBy(sim: Sim, project: string, resource: string): number {
  const nominal = quotaFor(sim, project)?.nominal[resource];
  return nominal === undefined ? 0 : Math.max(0, usedBy(sim, project, resource) - nominal);
}

/** Sum over projects with a quota row of what they may lend on `resource`. */
function lendable(sim: Sim, resource: string): number {
  let sum = 0;
  for (const q of sim.quotas.values()) {
    const nominal = q.nominal[resource];
    if (nominal !== undefined) sum += Math.min(q.lendingLimit[resource] ?? nominal, nominal);
  }
  return sum;
}

function totalBorrowed(sim: Sim, resource: string): number {
  let sum = 0;
  for (const p of projectsUsing(sim)) sum += borrowedBy(sim, p, resource);
  return sum;
}

/** The admission rule restated: Kueue's cohort borrowing, lenders being projects with a row. */
function expectedCheck(sim: Sim, t: Task, models: readonly string[]): { ok: boolean; borrowing: boolean } {
  const project = t.spec.project;
  const q = quotaFor(sim, project);
  if (q === null) return { ok: true, borrowing: false };
  let borrowing = false;
  for (const resource of Object.keys(q.nominal)) {
    const asked = taskAmount(t, models, resource);
    if (asked <= 0) continue;
    const over = usedBy(sim, project, resource) + asked - q.nominal[resource];
    if (over <= EPS) continue;
    let pool = 0;
    for (const lender of sim.quotas.values()) {
      const nominal = lender.nominal[resource];
      if (lender.project === project || nominal === undefined) continue;
      pool += Math.min(lender.lendingLimit[resource] ?? nominal, Math.max(0, nominal - usedBy(sim, lender.project, resource)));
    }
    for (const other of projectsUsing(sim)) if (other !== project) pool -= borrowedBy(sim, other, resource);
    if (over > Math.min(q.borrowingLimit[resource] ?? Number.POSITIVE_INFINITY, pool) + EPS) return { ok: false, borrowing: false };
    borrowing = true;
  }
  return { ok: true, borrowing };
}

// ---- invariants ---------------------------------------------------------------------------------

/** nominal + borrowing limit for a (project, resource) with both; Infinity otherwise. */
function bound(sim: Sim, project: string, resource: string): number {
  const q = quotaFor(sim, project);
  const nominal = q?.nominal[resource];
  const limit = q?.borrowingLimit[resource];
  return nominal === undefined || limit === undefined ? Number.POSITIVE_INFINITY : nominal + limit;
}

/**
 * Resets (after an edit) or ratchets down (after tasks finished) each ceiling: never below the
 * quota's bound, and above it only as far as work that was already running holds. So a ceiling
 * above the bound can only fall, and any admission beyond the bound shows as use above it.
 */
function updateCeilings(sim: Sim, edited: boolean): void {
  for (const p of sim.projects) {
    for (const resource of RESOURCES) {
      const key = `${p}\u0000${resource}`;
      const b = bound(sim, p, resource);
      const used = usedBy(sim, p, resource);
      const previous = sim.ceilings.get(key) ?? b;
      sim.ceilings.set(key, Math.max(b, edited ? used : Math.min(previous, used)));
    }
  }
  for (const resource of RESOURCES) {
    const b = lendable(sim, resource);
    const borrowed = totalBorrowed(sim, resource);
    const previous = sim.borrowCeilings.get(resource) ?? b;
    sim.borrowCeilings.set(resource, Math.max(b, edited ? borrowed : Math.min(previous, borrowed)));
  }
}

/** (i) and (ii): counts running tasks over a ceiling as task-steps over quota. */
function checkInvariants(sim: Sim, phase: string): void {
  for (const p of sim.projects) {
    for (const resource of RESOURCES) {
      const used = usedBy(sim, p, resource);
      const ceiling = sim.ceilings.get(`${p}\u0000${resource}`) ?? bound(sim, p, resource);
      if (used > ceiling + EPS) {
        const tasks = [...sim.running.values()].filter((run) => run.task.spec.project === p && taskAmount(run.task, run.models, resource) > 0).length;
        stats.overQuotaTaskSteps += tasks;
        assert.unreachable(`seed ${sim.seed} step ${sim.step} ${phase}: ${p} uses ${used} ${resource}, ceiling ${ceiling}`);
      }
    }
  }
  for (const resource of RESOURCES) {
    const borrowed = totalBorrowed(sim, resource);
    const ceiling = sim.borrowCeilings.get(resource) ?? lendable(sim, resource);
    if (borrowed > ceiling + EPS) {
      stats.overQuotaTaskSteps += 1;
      assert.unreachable(`seed ${sim.seed} step ${sim.step} ${phase}: ${borrowed} ${resource} borrowed, only ${ceiling} lendable`);
    }
  }
  // The ledger's own sums agree with usage recomputed from the running tasks.
  for (const p of sim.projects) {
    for (const resource of RESOURCES) {
      const diff = Math.abs(sim.ledger.usedOn(p, resource) - usedBy(sim, p, resource));
      assert.ok(diff < 1e-6, `seed ${sim.seed}: ledger usage of ${p} on ${resource} drifted by ${diff}`);
    }
  }
}

function newSim(seed: number): Sim {
  const sim = newWorld(seed);
  updateCeilings(sim, true);
  return sim;
}

// ---- the simulation -----------------------------------------------------------------------------

/** A random quota edit; half of them shrink a quota below what its project uses now. */
function edit(sim: Sim): void {
  const r = sim.r;
  stats.edits++;
  const kind = r();
  const busy = [...projectsUsing(sim)];
  if (kind < 0.5 && busy.length > 0) {
    const project = pick(r, busy);
    const resource = pick(r, RESOURCES);
    const used = usedBy(sim, project, resource);
    const base = quotaFor(sim, project) ?? { nominal: {}, borrowingLimit: {}, lendingLimit: {} };
    const nominal = used > 0 ? Math.floor(used * r() * 4) / 4 : 0;
    const borrowing = r() < 0.7 ? 0 : amount(r, resource, 1);
    if (nominal + borrowing < used) stats.shrunkBelowUse++;
    const lending = { ...base.lendingLimit };
    delete lending[resource];
    sim.quotas.set(project, {
      project,
      nominal: { ...base.nominal, [resource]: nominal },
      borrowingLimit: { ...base.borrowingLimit, [resource]: borrowing },
      lendingLimit: lending,
    });
  } else if (kind < 0.8) {
    const project = pick(r, sim.projects);
    sim.quotas.set(project, { project, ...randomLimits(r) });
  } else if (kind < 0.9) {
    sim.quotas.delete(pick(r, sim.projects));
  } else {
    sim.defaultQuota = r() < 0.3 ? null : randomLimits(r);
  }
  setLedgerQuotas(sim);
  updateCeilings(sim, true);
}

function shuffle<T>(r: Rng, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = int(r, 0, i);
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/** Admits queued tasks in a random order: first worker with room (from a random start), then `check`. */
function admit(sim: Sim): void {
  const r = sim.r;
  const waiting: Task[] = [];
  for (const t of shuffle(r, sim.queue)) {
    const start = int(r, 0, sim.slots.length - 1);
    let placed: { slot: WorkerSlot; gpuIndexes: number[] } | null = null;
    for (let k = 0; k < sim.slots.length && placed === null; k++) {
      const slot = sim.slots[(start + k) % sim.slots.length];
      const gpuIndexes = feasibleGpus(t, slot);
      if (gpuIndexes !== null) placed = { slot, gpuIndexes };
    }
    if (placed === null) {
      waiting.push(t);
      continue;
    }
    const models = gpuModelsOf(placed.slot.worker.capacity.gpus, placed.gpuIndexes);
    const demand = taskDemand(t.spec.resources, models);
    const verdict = sim.ledger.check(t.spec.project, demand);
    const expected = expectedCheck(sim, t, models);
    if (verdict.ok !== expected.ok || (verdict.ok && verdict.borrowing !== expected.borrowing)) {
      stats.checkMismatches++;
      assert.unreachable(`seed ${sim.seed} step ${sim.step}: check said ${JSON.stringify(verdict)}, the rule says ${JSON.stringify(expected)}`);
    }
    // (iii): an admission never takes a project past nominal + borrowing limit.
    if (verdict.ok) {
      for (const resource of RESOURCES) {
        const asked = taskAmount(t, models, resource);
        if (asked > 0 && usedBy(sim, t.spec.project, resource) + asked > bound(sim, t.spec.project, resource) + EPS) {
          stats.overQuotaTaskSteps++;
          assert.unreachable(`seed ${sim.seed} step ${sim.step}: check admitted ${t.spec.project} past its ${resource} limit`);
        }
      }
    }
    if (!verdict.ok) {
      stats.refused++;
      if (usedBy(sim, t.spec.project, verdict.resource) > (quotaFor(sim, t.spec.project)?.nominal[verdict.resource] ?? Number.POSITIVE_INFINITY)) {
        stats.refusedWhileBorrowing++;
      }
      assert.match(verdict.reason, new RegExp(`^quota: project ${t.spec.project} uses `));
      waiting.push(t);
      continue;
    }
    stats.admitted++;
    if (verdict.borrowing) stats.borrowing++;
    const attemptId = `a${sim.nextAttempt++}`;
    sim.ledger.add(t.spec.project, demand);
    allocate(placed.slot, attemptId, t.spec.resources, placed.gpuIndexes);
    sim.running.set(attemptId, { attemptId, task: t, slot: placed.slot, models, demand });
  }
  sim.queue = waiting;
}

function finish(sim: Sim): void {
  for (const run of [...sim.running.values()]) {
    if (sim.r() >= 0.25) continue;
    sim.running.delete(run.attemptId);
    release(run.slot, run.attemptId);
    sim.ledger.remove(run.task.spec.project, run.demand);
  }
  updateCeilings(sim, false);
}

function runCase(seed: number): void {
  const sim = newSim(seed);
  for (sim.step = 0; sim.step < STEPS; sim.step++) {
    for (let n = int(sim.r, 0, 5); n > 0; n--) sim.queue.push(randomTask(sim));
    if (sim.r() < 0.2) {
      edit(sim);
      checkInvariants(sim, "after an edit");
    }
    admit(sim);
    checkInvariants(sim, "after admission");
    finish(sim);
    checkInvariants(sim, "after finishing");
  }
}

test(`quotas are never exceeded over ${CASES} random clusters, workloads and quota edits`, () => {
  for (let seed = 1; seed <= CASES; seed++) runCase(seed);
  assert.is(stats.overQuotaTaskSteps, 0);
  assert.is(stats.checkMismatches, 0);
  // The cases exercise what they claim to: borrowing, refusals at a limit, shrinking below use.
  assert.ok(stats.admitted > 1000, `only ${stats.admitted} admissions`);
  assert.ok(stats.borrowing > 100, `only ${stats.borrowing} admissions borrowed`);
  assert.ok(stats.refused > 100, `only ${stats.refused} refusals`);
  assert.ok(stats.refusedWhileBorrowing > 20, `only ${stats.refusedWhileBorrowing} refusals while borrowing`);
  assert.ok(stats.shrunkBelowUse > 50, `only ${stats.shrunkBelowUse} edits shrank a quota below use`);
});

test.run();
