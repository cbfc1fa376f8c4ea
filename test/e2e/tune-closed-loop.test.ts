// The tuning loop closed end to end: a running master with two agents places work with the weights
// in its file; `taskgrid tune` (a real child process) writes new weights over that file; the master
// picks them up by itself (fs events / mtime poll, no restart, no tick() from the test), and the
// next placement is scored with the tuned weights: its decision names the new version and every
// candidate's score is the tuned weights applied to its factor breakdown.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { weightsVersion } from "../../master/weights-watcher.js";
import { parseWeightsFile } from "../../src/core/rts/weights-file.js";
import type { Weights } from "../../src/core/rts/weights.js";
import { AttemptOutcome } from "../../src/gen/taskgrid/v1/types.js";
import { call, rawClients, type RawClients } from "../helpers/grpc-clients.js";
import { runBin } from "../helpers/processes.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { eventually } from "../helpers/task-watch.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

// Load only: easy to tell apart from anything the GA produces (it keeps every weight on the simplex).
const INITIAL = '{"w_deadline":0,"w_affinity":0,"w_load":1,"w_io":0,"w_success":0,"w_penalty":0}\n';
const INITIAL_WEIGHTS: Weights = { deadline: 0, affinity: 0, load: 1, io: 0, success: 0, penalty: 0 };

interface Ctx {
  dir: string;
  path: string;
  m: TestMaster;
  c: RawClients;
  agents: RawAgent[];
}
const loop = suite<Ctx>("tune closed loop");

loop.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), "taskgrid-tune-loop-"));
  ctx.path = join(ctx.dir, "ga_output.json");
  writeFileSync(ctx.path, INITIAL);
  // Liveness far away: these agents heartbeat only when the test places work.
  ctx.m = await startTestMaster({ weightsPath: ctx.path, suspectAfterMs: 3_600_000, offlineAfterMs: 7_200_000 });
  ctx.c = rawClients(ctx.m.address);
  ctx.agents = ["loop-a", "loop-b"].map(() => new RawAgent(ctx.m.address));
  ctx.agents.forEach((a, i) => a.register(`loop-${"ab"[i]}`, { tags: ["loop", i === 0 ? "ssd" : "hdd"] }));
  await Promise.all(ctx.agents.map((a) => a.next("registered")));
});

loop.after(async (ctx) => {
  ctx.agents.forEach((a) => a.close());
  ctx.c.close();
  await ctx.m.cleanup();
  rmSync(ctx.dir, { recursive: true, force: true });
});

const ok = { outcome: AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, exitCode: 0, signal: "", outputTail: "", durationMs: 1000, message: "" };

/** Fresh telemetry that makes the factors differ between the two workers (load, io). */
function heartbeats(agents: RawAgent[]): void {
  agents.forEach((a, i) =>
    a.send({
      $case: "heartbeat",
      value: {
        seq: 0,
        telemetry: {
          cpuLoad: i === 0 ? 0.7 : 0.2,
          memoryUsedMib: 1000,
          memoryTotalMib: 8192,
          ioPressure: i === 0 ? 0.1 : 0.8,
          runningAttempts: 0,
          gpus: [],
          probeErrors: [],
        },
      },
    }),
  );
}

/** The next assignment to any agent, without leaving a waiter behind that would steal a later one. */
async function nextAssign(agents: RawAgent[]) {
  for (;;) {
    for (const agent of agents) {
      const assign = agent.take("assign");
      if (assign) return { agent, assign };
    }
    await Promise.race(agents.map((a) => a.arrival()));
  }
}

/** Submits one task, runs it to success on whichever agent gets it, returns its placement decision. */
async function placeOne(ctx: Ctx) {
  heartbeats(ctx.agents);
  const { task } = await call(ctx.c.tasks, "submitTask", {
    spec: { command: ["work"], kind: "etl", ioIntensity: 0.9, estimateMs: 60_000, preferredTags: ["ssd"], requiredTags: ["loop"] },
  });
  const { agent, assign } = await nextAssign(ctx.agents);
  assert.is(assign.taskId, task.id);
  agent.send({ $case: "started", value: { attemptId: assign.attemptId, pid: 1, startedAt: new Date() } });
  agent.send({ $case: "finished", value: { attemptId: assign.attemptId, result: ok, finishedAt: new Date() } });
  const done = await eventually(async () => {
    const t = (await call(ctx.c.tasks, "getTask", { taskId: task.id })).task;
    return t.state >= 5 && t.attempts.length > 0 ? t : null;
  }, "the task to finish");
  return done.attempts[0].decision;
}

type Breakdown = { score: number; deadline: number; affinity: number; load: number; io: number; success: number; penalty: number };
const scoreWith = (w: Weights, b: Breakdown): number =>
  w.deadline * b.deadline + w.affinity * b.affinity + w.load * b.load + w.io * b.io + w.success * b.success - w.penalty * b.penalty;

loop("a file written by `taskgrid tune` is hot-reloaded and the next placement is scored with it", async (ctx) => {
  // Before: the initial file is in force.
  const before = await call(ctx.c.admin, "getSchedulerInfo", {});
  assert.is(before.weightsVersion, weightsVersion(INITIAL));
  const first = await placeOne(ctx);
  assert.is(first.strategy, "rts");
  assert.is(first.weightsVersion, before.weightsVersion);
  assert.ok(Math.abs(first.chosen.score - scoreWith(INITIAL_WEIGHTS, first.chosen)) < 1e-9);

  // Tune (tiny settings) straight onto the master's weights file.
  const tuned = await runBin([
    "tune",
    "--tasks",
    "150",
    "--workers",
    "8",
    "--generations",
    "2",
    "--population",
    "4",
    "--train-seeds",
    "1..2",
    "--heldout-seeds",
    "3",
    "--seed",
    "5",
    "--out",
    ctx.path,
  ]);
  assert.is(tuned.code, 0, tuned.stderr);
  assert.match(tuned.stderr, /generation 2\/2/);
  assert.equal(readdirSync(ctx.dir), ["ga_output.json"], "no temp file left beside the weights");
  const text = readFileSync(ctx.path, "utf8");
  const parsed = parseWeightsFile(text);
  assert.ok(parsed.ok, text);
  if (!parsed.ok) return;
  const version = weightsVersion(text);

  // The running master picks it up by itself (its watcher), no restart.
  const info = await eventually(async () => {
    const i = await call(ctx.c.admin, "getSchedulerInfo", {});
    return i.weightsVersion === version ? i : null;
  }, `scheduler info to report weights version ${version}`);
  assert.is(info.weightsError, "");
  assert.is(info.weights.wDeadline, parsed.weights.deadline);
  assert.is(info.weights.wLoad, parsed.weights.load);
  assert.is(info.weightsMetadata.generation, "2");
  assert.ok("heldout_score" in info.weightsMetadata);
  assert.ok(info.weightsReloads.success > before.weightsReloads.success);

  // Placements follow the new weights: the decision names the new version and both candidates'
  // scores are the tuned weights applied to their factors (and not the old load-only weights).
  const next = await placeOne(ctx);
  assert.is(next.strategy, "rts");
  assert.is(next.weightsVersion, version);
  assert.is(next.feasibleWorkers, 2);
  for (const b of [next.chosen, next.runnerUp]) {
    assert.ok(Math.abs(b.score - scoreWith(parsed.weights, b)) < 1e-9, `score ${b.score} = tuned weights x factors`);
    assert.ok(Math.abs(b.score - scoreWith(INITIAL_WEIGHTS, b)) > 1e-6, "not the old weights");
  }
  assert.ok(scoreWith(parsed.weights, next.chosen) >= scoreWith(parsed.weights, next.runnerUp), "the winner is the best under the tuned weights");
});

loop.run();
