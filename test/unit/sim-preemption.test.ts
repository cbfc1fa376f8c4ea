// Preemption in the simulator (src/sim/engine.ts with SimOptions.preemption): the option changes
// nothing when off, a LIVE task on a full cluster starts after the victim's stop delay, the rate
// limit and `preemptible: false` hold, and the work accounting adds up. Counts and simulated times
// only, never wall-clock.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type SimOptions, type SimResult, simulate } from "../../src/sim/engine.js";
import type { SimPreemptionOptions } from "../../src/sim/preemption-options.js";
import { checkpointedMs } from "../../src/sim/preemption-work.js";
import type { SimTaskSpec, SimWorkerSpec, Workload } from "../../src/sim/types.js";
import { gpuBurstWorkload } from "../../src/sim/workloads/gpu-burst.js";
import { heteroWorkload } from "../../src/sim/workloads/hetero.js";

const S = 1000;
const HOUR = 3600 * S;

function worker(id: string, gpus: number, failureRate = 0): SimWorkerSpec {
  return {
    id,
    tags: [],
    cpuMillis: 64_000,
    memoryMib: 1 << 20,
    maxTasks: 64,
    gpus: Array.from({ length: gpus }, (_, g) => ({ index: g, uuid: `${id}-${g}`, model: "H100", memoryMib: 81_920, numaNode: 0 })),
    speed: { cpu: 1, gpu: 1, io: 1 },
    failureRate,
  };
}

function task(id: string, submitMs: number, runtimeMs: number, queueClass: "LIVE" | "BATCH", extra: Partial<SimTaskSpec> = {}): SimTaskSpec {
  return {
    id,
    submitMs,
    runtimeMs,
    estimateMs: 0,
    deadlineMs: null,
    kind: queueClass === "LIVE" ? "infer" : "train",
    family: "gpu",
    cpuMillis: 1000,
    memoryMib: 1024,
    gpuCount: 1,
    gpuModel: "",
    ioIntensity: 0,
    requiredTags: [],
    preferredTags: [],
    maxRetries: 0,
    queueClass,
    ...extra,
  };
}

const workload = (workers: SimWorkerSpec[], tasks: SimTaskSpec[]): Workload => ({ name: "t", description: "", workers, tasks });

const run = (w: Workload, preemption?: SimPreemptionOptions, extra: Partial<SimOptions> = {}): SimResult =>
  simulate(w, { placement: "round_robin", seed: 1, checkInvariants: true, ...(preemption ? { preemption } : {}), ...extra });

const ON: SimPreemptionOptions = { enabled: true, perMinute: 60 };
/** The deterministic part of a result (wallMs is the host's time). */
const core = (r: SimResult): string => JSON.stringify({ metrics: r.metrics, outcomes: r.outcomes, sharing: r.sharing });
const byId = (w: Workload, r: SimResult, id: string) => {
  const i = w.tasks.findIndex((t) => t.id === id);
  return { i, outcome: r.outcomes[i], firstStartMs: r.preemption?.firstStartMs[i] ?? -1 };
};

/** Two one-GPU workers busy with hour-long BATCH training; one LIVE task at 100 s. */
const full = (batch: Partial<SimTaskSpec>[] = [{}, {}]): Workload =>
  workload(
    [worker("w0", 1), worker("w1", 1)],
    [...batch.map((extra, k) => task(`train-${k}`, 0, HOUR, "BATCH", extra)), task("infer", 100 * S, 60 * S, "LIVE")],
  );

test("off: no option, enabled false, or nothing preemptible give the engine's results unchanged", () => {
  for (const placement of ["rts", "round_robin"] as const) {
    const w = heteroWorkload({ seed: 5, tasks: 600, workers: 8, load: 1.4 });
    const plain = simulate(w, { placement, seed: 5 });
    assert.is(plain.preemption, undefined);
    const off = simulate(w, { placement, seed: 5, preemption: { enabled: false, perMinute: 0 } });
    assert.is(core(off), core(plain));
    assert.is(off.preemption!.preemptions, 0);
    // Every hetero task is DEFAULT / NORMAL: nothing is preemptible, so collecting blocked tasks
    // and planning preemptions after each pass must leave every placement as it was.
    const idle = simulate(w, { placement, seed: 5, preemption: ON });
    assert.is(core(idle), core(plain));
    assert.is(idle.preemption!.victims, 0);
  }
  const burst = gpuBurstWorkload({ seed: 2, hours: 2 });
  assert.is(core(run(burst, { enabled: false, perMinute: 0 })), core(run(burst)));
});

test("a LIVE task on a full cluster starts after the stop delay, not after a BATCH task ends", () => {
  const w = full();
  const without = byId(w, run(w, { enabled: false, perMinute: 0 }), "infer");
  assert.is(without.firstStartMs, HOUR, "without preemption it waits for the first training task to end");
  for (const stopDelayMs of [5 * S, 20 * S]) {
    const r = run(w, { ...ON, stopDelayMs });
    const live = byId(w, r, "infer");
    assert.is(live.firstStartMs, 100 * S + stopDelayMs);
    assert.ok(live.outcome.succeeded);
    assert.is(r.preemption!.preemptions, 1);
    assert.is(r.preemption!.victims, 1);
    assert.equal(r.preemption!.log[0].victims.length, 1);
    // The victim restarts from zero once the LIVE task is done: 100 s of work lost.
    const victim = byId(w, r, r.preemption!.log[0].victims[0]);
    assert.is(victim.outcome.attempts, 2);
    assert.is(victim.outcome.startMs, 100 * S + stopDelayMs + 60 * S);
    assert.is(victim.outcome.finishMs, victim.outcome.startMs + HOUR);
    assert.is(r.preemption!.lostGpuMs, 100 * S);
    assert.is(r.preemption!.stoppingGpuMs, stopDelayMs);
  }
});

test("the stop delay is capped by the victim's grace; a victim that finishes first just succeeds", () => {
  const capped = run(full([{ preemptGraceMs: 2 * S }, { preemptGraceMs: 2 * S }]), { ...ON, stopDelayMs: 10 * S });
  assert.is(capped.preemption!.firstStartMs[2], 102 * S);
  // train-0 would end 3 s after the signal, inside the 5 s stop delay: it finishes, nothing is lost.
  const w = full([{ runtimeMs: 103 * S }, {}]);
  const r = run(w, ON);
  const victim = byId(w, r, "train-0");
  assert.is(r.preemption!.finishedWhileStopping, 1);
  assert.is(r.preemption!.victims, 1);
  assert.is(victim.outcome.attempts, 1);
  assert.ok(victim.outcome.succeeded);
  assert.is(r.preemption!.lostGpuMs, 0);
  assert.is(byId(w, r, "infer").firstStartMs, 103 * S);
});

test("checkpointing: the victim resumes from its last checkpoint and loses only the work since", () => {
  const w = full();
  const r = run(w, { ...ON, checkpoint: { everyMs: 60 * S } });
  const victim = byId(w, r, r.preemption!.log[0].victims[0]);
  // Signalled at 100 s: a checkpoint at 60 s, 40 s lost; 3,540 s left, resumed at 165 s.
  assert.is(r.preemption!.lostGpuMs, 40 * S);
  assert.is(victim.outcome.startMs, 165 * S);
  assert.is(victim.outcome.runMs, HOUR - 60 * S);
  assert.is(victim.outcome.finishMs, 165 * S + HOUR - 60 * S);
});

test("a non-preemptible BATCH task is never preempted", () => {
  const w = full([{ preemptible: false }, { preemptible: false }]);
  const r = run(w, ON);
  assert.is(r.preemption!.preemptions, 0);
  assert.is(byId(w, r, "infer").firstStartMs, HOUR);
  // One of each: the preemptible one is the victim, every time.
  const mixed = gpuBurstWorkload({ seed: 3, hours: 2 });
  const spared = new Set<string>();
  mixed.tasks.forEach((t, k) => {
    if (t.queueClass === "BATCH" && k % 2 === 0) {
      t.preemptible = false;
      spared.add(t.id);
    }
  });
  const m = run(mixed, ON);
  assert.ok(m.preemption!.preemptions > 10, `the workload exercised preemption (${m.preemption!.preemptions})`);
  for (const entry of m.preemption!.log) for (const v of entry.victims) assert.not.ok(spared.has(v), `${v} is not preemptible`);
  assert.is(m.metrics.unfinished, 0);
});

test("a burst of LIVE tasks: preemptions never outrun the rate limit's token bucket", () => {
  // 16 one-GPU training tasks fill 16 one-GPU workers; 10 LIVE tasks arrive at 100 s. (One worker
  // per victim: plan.ts offers a worker to one preemptor per pass, which would space them too.)
  const tasks = Array.from({ length: 16 }, (_, k) => task(`train-${k}`, 0, HOUR, "BATCH"));
  for (let k = 0; k < 10; k++) tasks.push(task(`infer-${k}`, 100 * S, 20 * 60 * S, "LIVE"));
  const w = workload(
    Array.from({ length: 16 }, (_, k) => worker(`w${k}`, 1)),
    tasks,
  );
  for (const perMinute of [1, 2, 6]) {
    const r = run(w, { enabled: true, perMinute });
    const times = r.preemption!.log.map((e) => e.atMs);
    assert.is(times.length, 10, "every LIVE task got in by preemption before any training ended");
    assert.is(times[0], 100 * S);
    times.forEach((t, k) => {
      // Token bucket: at most burst (= perMinute) at once, then perMinute per 60 s.
      const allowed = perMinute + Math.floor(((t - times[0]) * perMinute) / 60_000);
      assert.ok(k + 1 <= allowed, `${k + 1} preemptions by ${t} ms at ${perMinute}/min`);
    });
    assert.is(times.filter((t) => t === times[0]).length, perMinute, "a full bucket at first");
    // The one-second dispatch timer runs a pass as each token comes: the last is right on time.
    assert.is(times[9] - times[0], ((10 - perMinute) * 60_000) / perMinute, `${perMinute}/min`);
    assert.ok(r.preemption!.rateLimited > 0);
  }
});

test("a preempted attempt uses no retry", () => {
  // Every attempt fails (failure rate 1) at a point in [10%, 100%) of its run, so after 360 s at
  // the earliest; preempted at 100 s, the task still has its one retry.
  const w = workload(
    [worker("w0", 1, 1), worker("w1", 1, 1)],
    [task("train-0", 0, HOUR, "BATCH", { maxRetries: 1 }), task("train-1", 0, HOUR, "BATCH", { maxRetries: 1 }), task("infer", 100 * S, 60 * S, "LIVE")],
  );
  const r = run(w, ON);
  const victim = byId(w, r, r.preemption!.log[0].victims[0]);
  assert.is(victim.outcome.attempts, 3, "preempted, failed, retried and failed");
  assert.not.ok(victim.outcome.succeeded);
});

test("work accounting adds up, per task and in total, with and without checkpointing", () => {
  const w = gpuBurstWorkload({ seed: 4, hours: 3 });
  for (const checkpoint of [undefined, { everyMs: 5 * 60 * S }]) {
    const r = run(w, { ...ON, checkpoint }, { placement: "rts" });
    const p = r.preemption!;
    assert.ok(p.preemptions > 10, `preemption exercised (${p.preemptions})`);
    assert.is(r.metrics.unfinished, 0);
    const useful = new Map<number, number>();
    let lost = 0;
    let stopping = 0;
    for (const a of p.attempts) {
      useful.set(a.taskIndex, (useful.get(a.taskIndex) ?? 0) + a.usefulMs);
      if (a.outcome !== "PREEMPTED") {
        assert.is(a.usefulMs, a.endMs - a.startMs);
        continue;
      }
      const progress = a.signalMs! - a.startMs;
      assert.is(a.usefulMs, checkpointedMs(progress, checkpoint?.everyMs ?? null));
      if (checkpoint === undefined) assert.is(a.usefulMs, 0);
      assert.is(a.lostMs, progress - a.usefulMs);
      assert.is(a.stoppingMs, a.endMs - a.signalMs!);
      assert.ok(a.stoppingMs > 0 && a.stoppingMs <= 5 * S);
      lost += a.gpus * a.lostMs;
      stopping += a.gpus * a.stoppingMs;
    }
    // Each task's completed work is exactly its run time (speed 1, no failures).
    w.tasks.forEach((t, i) => assert.is(useful.get(i), t.runtimeMs, t.id));
    assert.is(p.lostGpuMs, lost);
    assert.is(p.stoppingGpuMs, stopping);
    // Allocated = useful + lost + stopping.
    assert.is(p.busyGpuMs, p.usefulGpuMs + p.lostGpuMs + p.stoppingGpuMs);
    assert.is(p.victims, p.attempts.filter((a) => a.outcome === "PREEMPTED").length + p.finishedWhileStopping);
    assert.is(p.classes.LIVE!.preempted, 0);
    assert.is(p.classes.BATCH!.preempted, p.victims - p.finishedWhileStopping);
  }
});

test.run();
