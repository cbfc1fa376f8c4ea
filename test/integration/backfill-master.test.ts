// Reservations and backfill in the live master (issue 16), with a raw agent that takes assignments
// and reports on command: under `backfill: "easy"` a wide task behind narrow ones is reserved
// (GetTask says when and where it is expected to start), a narrow task that would run into the
// reservation waits while a short one backfills, and the wide task starts before the waiting one;
// under `backfill: "none"` the narrow task takes the free GPU (the greedy pass; the default is easy).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { resolveMasterConfig } from "../../master/config.js";
import type { MasterOptions } from "../../master/master.js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { call, rawClients, type RawClients } from "../helpers/grpc-clients.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { eventually } from "../helpers/task-watch.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

const GPUS = [0, 1, 2, 3].map((index) => ({ index, uuid: `GPU-${index}`, model: "NVIDIA H100 80GB HBM3", memoryMib: 81920, numaNode: 0 }));
const ok = { outcome: 1, exitCode: 0, signal: "", outputTail: "", durationMs: 1, message: "" };
const MINUTE = 60_000;

interface Cluster {
  tm: TestMaster;
  c: RawClients;
  agent: RawAgent;
  submit(gpuCount: number, estimateMs: number): Promise<string>;
  getTask(id: string): Promise<any>;
  /** Takes the next assignment and reports it started. */
  take(): Promise<{ attemptId: string; taskId: string }>;
  finish(a: { attemptId: string; taskId: string }): Promise<void>;
  close(): Promise<void>;
}

async function cluster(options: MasterOptions): Promise<Cluster> {
  const tm = await startTestMaster(options);
  const c = rawClients(tm.address);
  const agent = new RawAgent(tm.address);
  agent.register("gpu-box", { tags: ["bf"], capacity: { cpuMillis: 64_000, memoryMib: 512 * 1024, maxTasks: 16, gpus: GPUS } });
  await agent.next("registered");
  const getTask = async (id: string) => (await call(c.tasks, "getTask", { taskId: id })).task;
  return {
    tm,
    c,
    agent,
    getTask,
    async submit(gpuCount, estimateMs) {
      const spec = { command: ["true"], requiredTags: ["bf"], estimateMs, resources: { gpuCount, cpuMillis: 100, memoryMib: 64 } };
      return (await call(c.tasks, "submitTask", { spec })).task.id;
    },
    async take() {
      const a = await agent.next("assign");
      agent.send({ $case: "started", value: { attemptId: a.attemptId, pid: 1, startedAt: new Date() } });
      await eventually(async () => (await getTask(a.taskId)).state === TaskState.TASK_STATE_RUNNING, `task ${a.taskId} RUNNING`);
      return a;
    },
    async finish(a) {
      agent.send({ $case: "finished", value: { attemptId: a.attemptId, result: ok, finishedAt: new Date() } });
      await eventually(async () => (await getTask(a.taskId)).state === TaskState.TASK_STATE_SUCCEEDED, `task ${a.taskId} SUCCEEDED`);
    },
    async close() {
      agent.close();
      c.close();
      await tm.cleanup();
    },
  };
}

test("backfill easy: the wide task is reserved and shown so; a task that would delay it waits, a short one backfills; the wide one starts first", async () => {
  const k = await cluster({ backfill: "easy" });
  try {
    // Three 1-GPU tasks of 10 minutes take GPUs 0-2.
    for (let i = 0; i < 3; i++) await k.submit(1, 10 * MINUTE);
    const narrow = [await k.take(), await k.take(), await k.take()];
    const before = Date.now();
    const wide = await k.submit(4, 10 * MINUTE);
    const reserved = await eventually(async () => {
      const t = await k.getTask(wide);
      return t.pendingReason.startsWith("reserved:") && t;
    }, "the wide task is reserved");
    assert.is(reserved.state, TaskState.TASK_STATE_QUEUED);
    const m = /^reserved: starts ~(\S+) on gpu-box$/.exec(reserved.pendingReason);
    assert.ok(m, reserved.pendingReason);
    const startMs = Date.parse(m[1]);
    assert.ok(startMs > before + 9 * MINUTE && startMs <= Date.now() + 10 * MINUTE, `expected about 10 minutes from now: ${m[1]}`);

    // 30 minutes on the last free GPU would run into the reservation: it waits, and says why.
    const long = await k.submit(1, 30 * MINUTE);
    const waiting = await eventually(async () => {
      const t = await k.getTask(long);
      return t.pendingReason.startsWith("waiting: would delay") && t;
    }, "the long narrow task waits for the reservation");
    assert.is(waiting.pendingReason, `waiting: would delay the reservation of task ${wide}`);
    assert.is(waiting.state, TaskState.TASK_STATE_QUEUED);
    // One minute ends well before it: backfilled now, on the free GPU.
    const short = await k.submit(1, MINUTE);
    const backfilled = await k.take();
    assert.is(backfilled.taskId, short, "the short task backfills (the long one, ahead of it, still waits)");

    // As the narrow tasks end, the long task still may not take a GPU; once all four are free the wide task starts.
    for (const a of [...narrow, backfilled]) await k.finish(a);
    const next = await k.take();
    assert.is(next.taskId, wide, "the wide task starts before the narrow task queued behind it");
    assert.is((await k.getTask(long)).state, TaskState.TASK_STATE_QUEUED);
    await k.finish(next);
    const last = await k.take();
    assert.is(last.taskId, long);
    await k.finish(last);
    assert.is((await k.getTask(long)).pendingReason, "", "no pending reason once it ran");
  } finally {
    await k.close();
  }
});

test('backfill "none": nothing is reserved and the narrow task takes the free GPU at once; the default is "easy"', async () => {
  const k = await cluster({ backfill: "none" });
  try {
    assert.equal(resolveMasterConfig({}).backfill, { reservations: 1, defaultRuntimeMs: 3_600_000 });
    for (let i = 0; i < 3; i++) await k.submit(1, 10 * MINUTE);
    const narrow = [await k.take(), await k.take(), await k.take()];
    const wide = await k.submit(4, 10 * MINUTE);
    const long = await k.submit(1, 30 * MINUTE);
    const started = await k.take();
    assert.is(started.taskId, long, "the narrow task goes past the wide one");
    const t = await k.getTask(wide);
    assert.is(t.state, TaskState.TASK_STATE_QUEUED);
    assert.is(t.pendingReason, "waiting: no worker has free resources for it");
    assert.is(k.tm.master.state.reservations.size, 0);
    for (const a of [...narrow, started]) await k.finish(a);
    await k.finish(await k.take());
  } finally {
    await k.close();
  }
});

test.run();
