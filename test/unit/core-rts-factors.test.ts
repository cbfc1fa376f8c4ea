import { test } from "uvu";
import * as assert from "uvu/assert";
import { affinity, clamp01, deadlineFit, gpuHostReserve, io, load, penalty, success } from "../../src/core/rts/factors.js";
import { PenaltyTable } from "../../src/core/rts/learning.js";
import type { Telemetry } from "../../src/core/types.js";

const close = (actual: number, expected: number, msg = "") => assert.ok(Math.abs(actual - expected) < 1e-9, `${msg}: ${actual} != ${expected}`);
const inUnit = (x: number) => assert.ok(Number.isFinite(x) && x >= 0 && x <= 1, `not in [0,1]: ${x}`);

const tele = (over: Partial<Telemetry> = {}): Telemetry => ({
  sampledAtMs: 0,
  cpuLoad: 0,
  memoryUsedMib: 0,
  memoryTotalMib: 0,
  ioPressure: 0,
  runningAttempts: 0,
  gpus: [],
  probeErrors: [],
  ...over,
});

const deadlineCases: Array<[string, [number, number | null, number, number?], number]> = [
  ["no deadline", [0, null, 1000], 1],
  ["no estimate", [0, 5000, 0], 1],
  ["negative estimate", [0, 5000, -5], 1],
  ["NaN deadline", [0, NaN, 1000], 1],
  ["already late", [6000, 5000, 1000], 0],
  ["deadline is now", [5000, 5000, 1000], 0],
  ["would miss", [0, 5000, 6000], 0],
  ["would miss only with learned ratio", [0, 5000, 3000, 2], 0],
  ["derived deadline 2x estimate, unknown learning", [0, 2000, 1000], 0.5],
  ["worker learned twice as fast", [0, 2000, 1000, 0.5], 0.75],
  ["exactly on time", [0, 1000, 1000], 0],
  ["NaN ratio treated as unknown", [0, 2000, 1000, NaN], 0.5],
  ["zero ratio treated as unknown", [0, 2000, 1000, 0], 0.5],
];
for (const [name, args, expected] of deadlineCases) {
  test(`D deadline fit: ${name}`, () => {
    const d = deadlineFit(...(args as [number, number | null, number, number]));
    inUnit(d);
    close(d, expected, name);
  });
}

const tags = new Set(["zone=a", "ssd"]);
const affinityCases: Array<[string, string[], number, number]> = [
  ["no preferred tags, cold", [], 0, 0.75],
  ["no preferred tags, warm", [], 1, 1],
  ["all preferred present", ["zone=a", "ssd"], 0, 0.75],
  ["half present", ["zone=a", "gpu"], 0, 0.375],
  ["none present, fully warm", ["gpu"], 1, 0.25],
  ["none present, cold", ["gpu"], 0, 0],
  ["warmth NaN treated as cold", ["ssd"], NaN, 0.75],
  ["warmth above 1 clamped", [], 7, 1],
];
for (const [name, preferred, warmth, expected] of affinityCases) {
  test(`A affinity: ${name}`, () => {
    const a = affinity(preferred, tags, warmth);
    inUnit(a);
    close(a, expected, name);
  });
}

const loadCases: Array<[string, number, number, Telemetry | null, boolean, number]> = [
  ["no telemetry: slots only, idle", 0, 4, null, false, 1],
  ["no telemetry: slots only, half", 2, 4, null, false, 0.5],
  ["no telemetry: full", 4, 4, null, false, 0],
  ["maxTasks 0 counts as full", 0, 0, null, false, 0],
  ["telemetry blends cpu", 2, 4, tele({ cpuLoad: 0.5 }), false, 0.5],
  ["cpu load above 1 clamped", 0, 4, tele({ cpuLoad: 3 }), false, 0.5],
  ["NaN cpu load ignored", 2, 4, tele({ cpuLoad: NaN }), false, 0.5],
  [
    "GPU task: mean GPU utilisation joins",
    0,
    4,
    tele({
      cpuLoad: 0,
      gpus: [
        { index: 0, utilizationPercent: 100, memoryUsedMib: 0 },
        { index: 1, utilizationPercent: 50, memoryUsedMib: 0 },
      ],
    }),
    true,
    0.75,
  ],
  ["CPU task ignores GPU utilisation", 0, 4, tele({ cpuLoad: 0, gpus: [{ index: 0, utilizationPercent: 100, memoryUsedMib: 0 }] }), false, 1],
  ["GPU task, NaN utilisation ignored", 0, 4, tele({ cpuLoad: 0, gpus: [{ index: 0, utilizationPercent: NaN, memoryUsedMib: 0 }] }), true, 1],
  ["GPU task, worker reports no GPUs", 2, 4, tele({ cpuLoad: 0.5 }), true, 0.5],
];
for (const [name, running, max, t, gpuTask, expected] of loadCases) {
  test(`L load: ${name}`, () => {
    const l = load(running, max, t, gpuTask);
    inUnit(l);
    close(l, expected, name);
  });
}

const reserveCases: Array<[string, [number, number, number, number], number | null]> = [
  ["worker without GPUs: nothing to reserve", [0, 32000, 0, 0], null],
  ["no CPU capacity: nothing to reserve", [0, 0, 8, 0], null],
  ["idle GPU host: all its CPU is for its GPUs", [0, 32000, 8, 0], 1],
  ["all GPUs busy, their tasks took a quarter of the CPU", [8000, 32000, 8, 8], 0.25],
  ["half the GPUs idle, nothing else allocated", [0, 32000, 8, 4], 0.5],
  ["half the GPUs idle, a quarter of the CPU taken", [8000, 32000, 8, 4], 0.75],
  ["over 1 clamped", [30000, 32000, 8, 0], 1],
  ["NaN allocation counts as full", [NaN, 32000, 8, 8], 1],
];
for (const [name, args, expected] of reserveCases) {
  test(`L reserve (GPU host): ${name}`, () => {
    const r = gpuHostReserve(...args);
    if (expected === null) assert.is(r, null);
    else {
      inUnit(r!);
      close(r!, expected, name);
    }
  });
}

const reserveLoadCases: Array<[string, number, number, Telemetry | null, boolean, number | null, number]> = [
  ["CPU task on an idle GPU host (telemetry): mean(slots 0, cpu 0, reserve 1)", 0, 4, tele({ cpuLoad: 0 }), false, 1, 2 / 3],
  ["CPU task on an idle GPU host, no telemetry: mean(slots 0, reserve 1)", 0, 4, null, false, 1, 0.5],
  ["CPU task on a GPU host whose GPUs are all busy", 2, 4, tele({ cpuLoad: 0.5 }), false, 0.5, 0.5],
  ["a GPU task ignores the reserve", 0, 4, tele({ cpuLoad: 0 }), true, 1, 1],
  ["null reserve (no GPUs) is left out", 0, 4, tele({ cpuLoad: 0 }), false, null, 1],
  ["reserve 0 still counts (no jump at 0)", 0, 4, tele({ cpuLoad: 0 }), false, 0, 1],
];
for (const [name, running, max, t, gpuTask, reserve, expected] of reserveLoadCases) {
  test(`L load with reserve: ${name}`, () => {
    const l = load(running, max, t, gpuTask, reserve);
    inUnit(l);
    close(l, expected, name);
  });
}

const ioCases: Array<[string, number | null, number, number]> = [
  ["no io intensity", 0.9, 0, 1],
  ["no pressure", 0, 1, 1],
  ["full pressure, full intensity", 1, 1, 0],
  ["half x half", 0.5, 0.5, 0.75],
  ["unknown pressure is 0.5", null, 1, 0.5],
  ["NaN pressure is 0.5", NaN, 1, 0.5],
  ["NaN intensity is 0", 1, NaN, 1],
  ["out of range clamped", 5, 5, 0],
];
for (const [name, p, i, expected] of ioCases) {
  test(`I io: ${name}`, () => {
    const v = io(p, i);
    inUnit(v);
    close(v, expected, name);
  });
}

// S is relative to the kind's rate over all workers (more cases in core-rts-success.test.ts):
// own = (s + 4) / (n + 6), ref = (n x r + 4) / (n + 6), S = odds(own) / (odds(own) + odds(ref)).
type Counts = { successes: number; failures: number } | undefined;
const successCases: Array<[string, Counts, Counts, number]> = [
  ["unknown: neutral", undefined, undefined, 0.5],
  ["no history", { successes: 0, failures: 0 }, { successes: 5, failures: 5 }, 0.5],
  ["the only worker of the kind", { successes: 10, failures: 0 }, { successes: 10, failures: 0 }, 0.5],
  ["fails a kind others run fine", { successes: 0, failures: 10 }, { successes: 10, failures: 10 }, 7 / 34],
  ["runs fine a kind others fail", { successes: 10, failures: 0 }, { successes: 10, failures: 10 }, 49 / 58],
  ["the kind fails everywhere", { successes: 0, failures: 10 }, { successes: 0, failures: 50 }, 0.5],
  ["NaN counts ignored", { successes: NaN, failures: NaN }, { successes: NaN, failures: 3 }, 0.5],
  ["stale kind totals below the worker's own", { successes: 3, failures: 1 }, { successes: 0, failures: 0 }, 0.5],
];
for (const [name, stats, kind, expected] of successCases) {
  test(`S success: ${name}`, () => {
    const s = success(stats, kind);
    inUnit(s);
    close(s, expected, name);
  });
}

test("P penalty: none, one fresh miss, decays, saturates, guards non-finite", () => {
  const p = new PenaltyTable(60_000);
  close(penalty(p, "w", 0), 0, "none");
  p.record("w", 0);
  close(penalty(p, "w", 0), 1 - Math.exp(-0.5), "one");
  close(penalty(p, "w", 60_000), 1 - Math.exp(-0.25), "one half-life later");
  for (let i = 0; i < 100; i++) p.record("w", 60_000);
  inUnit(penalty(p, "w", 60_000));
  assert.ok(penalty(p, "w", 60_000) > 0.99);
  close(penalty({ value: () => NaN }, "w", 0), 0, "NaN");
  close(penalty({ value: () => Infinity }, "w", 0), 1, "Infinity");
});

test("clamp01", () => {
  assert.equal([clamp01(-1), clamp01(0.3), clamp01(2), clamp01(NaN), clamp01(NaN, 0.5), clamp01(Infinity), clamp01(-Infinity)], [0, 0.3, 1, 0, 0.5, 1, 0]);
});

test.run();
