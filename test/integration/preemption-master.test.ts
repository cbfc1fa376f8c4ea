// Preemption in the live master (issue 16), with raw agents that take assignments and report on
// command: a LIVE task that fits nowhere makes the master tell the agent to stop a BATCH attempt
// (signal, grace, reason); once the agent reports it PREEMPTED, the BATCH task is queued again
// without using a retry and the LIVE task takes the room. A non-preemptible task is never told to
// stop, a victim never preempts back, and the rate limit holds preemptions back.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { MasterOptions } from "../../master/master.js";
import { AttemptOutcome, Priority, QueueClass, TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { call, rawClients, type RawClients } from "../helpers/grpc-clients.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { eventually } from "../helpers/task-watch.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

/** Waiting with nothing told to stop: no room, or (backfill easy, the default) a reservation. */
const WAITS_WITHOUT_PREEMPTING = /^(waiting: no worker has free resources|reserved: starts ~)/;

const GPUS = [0, 1].map((index) => ({ index, uuid: `GPU-${index}`, model: "NVIDIA H100 80GB HBM3", memoryMib: 81920, numaNode: 0 }));
const result = (outcome: AttemptOutcome, exitCode = 0) => ({ outcome, exitCode, signal: "", outputTail: "", durationMs: 1, message: "" });

interface Spec {
  gpus: number;
  queue: QueueClass;
  priority?: Priority;
  preemptible?: boolean;
  tag?: string;
  preemptSignal?: string;
  preemptGraceMs?: number;
}

interface Cluster {
  tm: TestMaster;
  c: RawClients;
  agents: RawAgent[];
  submit(spec: Spec): Promise<string>;
  getTask(id: string): Promise<any>;
  /** Takes the next assignment on agent i and reports it started. */
  take(i?: number): Promise<{ attemptId: string; taskId: string; attemptNumber: number }>;
  close(): Promise<void>;
}

async function cluster(options: MasterOptions, workers = 1): Promise<Cluster> {
  const tm = await startTestMaster(options);
  const c = rawClients(tm.address);
  const agents: RawAgent[] = [];
  for (let i = 0; i < workers; i++) {
    const agent = new RawAgent(tm.address);
    agent.register(`box-${i}`, { tags: ["pre", `box-${i}`], capacity: { cpuMillis: 64_000, memoryMib: 64 * 1024, maxTasks: 8, gpus: GPUS } });
    await agent.next("registered");
    agents.push(agent);
  }
  const getTask = async (id: string) => (await call(c.tasks, "getTask", { taskId: id })).task;
  return {
    tm,
    c,
    agents,
    getTask,
    async submit(s) {
      const spec = {
        command: ["true"],
        requiredTags: [s.tag ?? "pre"],
        queueClass: s.queue,
        priority: s.priority ?? Priority.PRIORITY_NORMAL,
        resources: { gpuCount: s.gpus, cpuMillis: 100, memoryMib: 64 },
        ...(s.preemptible === undefined ? {} : { preemptible: s.preemptible }),
        ...(s.preemptGraceMs === undefined ? {} : { preemptGraceMs: s.preemptGraceMs }),
        preemptSignal: s.preemptSignal ?? "",
      };
      return (await call(c.tasks, "submitTask", { spec })).task.id;
    },
    async take(i = 0) {
      const a = await agents[i].next("assign");
      agents[i].send({ $case: "started", value: { attemptId: a.attemptId, pid: 1, startedAt: new Date() } });
      await eventually(async () => (await getTask(a.taskId)).state === TaskState.TASK_STATE_RUNNING, `task ${a.taskId} RUNNING`);
      return a;
    },
    async close() {
      for (const a of agents) a.close();
      c.close();
      await tm.cleanup();
    },
  };
}

test("a LIVE task preempts a BATCH one on a full worker: stop order with signal and grace, BATCH requeued without a retry, LIVE takes the room, BATCH runs again after", async () => {
  const k = await cluster({ metrics: "127.0.0.1:0" });
  try {
    const batchId = await k.submit({ gpus: 2, queue: QueueClass.QUEUE_CLASS_BATCH, preemptSignal: "SIGUSR1", preemptGraceMs: 5000 });
    const batch = await k.take();
    const liveId = await k.submit({ gpus: 1, queue: QueueClass.QUEUE_CLASS_LIVE });
    const order = await k.agents[0].next("preempt");
    assert.is(order.attemptId, batch.attemptId);
    assert.is(order.signal, "SIGUSR1");
    assert.is(order.graceMs, 5000);
    assert.match(order.reason, `preempted by task ${liveId} (LIVE NORMAL)`);
    const waiting = await k.getTask(liveId);
    assert.is(waiting.state, TaskState.TASK_STATE_QUEUED);
    assert.match(waiting.pendingReason, /^preempting: waiting for 1 preempted task on box-0 to stop$/);
    // The agent stops the process and reports it.
    k.agents[0].send({
      $case: "finished",
      value: {
        attemptId: batch.attemptId,
        result: { ...result(AttemptOutcome.ATTEMPT_OUTCOME_PREEMPTED, 143), message: order.reason },
        finishedAt: new Date(),
      },
    });
    const live = await k.take();
    assert.is(live.taskId, liveId);
    const requeued = await k.getTask(batchId);
    assert.is(requeued.state, TaskState.TASK_STATE_QUEUED);
    assert.is(requeued.retriesUsed, 0, "a preemption uses no retry");
    assert.is(requeued.requeues, 0, "nor a requeue");
    assert.is(requeued.attempts[0].result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_PREEMPTED);
    // The requeued BATCH task cannot preempt the LIVE one back, and waits.
    assert.match(requeued.pendingReason, WAITS_WITHOUT_PREEMPTING);
    assert.is(k.agents[0].take("preempt"), undefined, "no second preemption");
    k.agents[0].send({
      $case: "finished",
      value: { attemptId: live.attemptId, result: result(AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED), finishedAt: new Date() },
    });
    const again = await k.take();
    assert.is(again.taskId, batchId);
    assert.is(again.attemptNumber, 2);
    k.agents[0].send({
      $case: "finished",
      value: { attemptId: again.attemptId, result: result(AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED), finishedAt: new Date() },
    });
    await eventually(async () => (await k.getTask(batchId)).state === TaskState.TASK_STATE_SUCCEEDED, "BATCH task SUCCEEDED");
    assert.is(k.agents[0].take("preempt"), undefined);
    const metrics = await (await fetch(`http://${k.tm.master.metricsAddress}/metrics`)).text();
    assert.match(metrics, /taskgrid_preemptions_total\{reason="queue_class"\} 1\b/);
    assert.match(metrics, /taskgrid_preemptions_total\{reason="rate_limited"\} 0\b/);
  } finally {
    await k.close();
  }
});

test("a non-preemptible BATCH task and a LIVE one of equal rank are never told to stop", async () => {
  const k = await cluster({}, 2);
  try {
    await k.submit({ gpus: 2, queue: QueueClass.QUEUE_CLASS_BATCH, preemptible: false, tag: "box-0" });
    await k.take(0);
    await k.submit({ gpus: 2, queue: QueueClass.QUEUE_CLASS_LIVE, tag: "box-1" });
    await k.take(1);
    const blocked = [
      await k.submit({ gpus: 1, queue: QueueClass.QUEUE_CLASS_LIVE, tag: "box-0" }),
      await k.submit({ gpus: 1, queue: QueueClass.QUEUE_CLASS_LIVE, priority: Priority.PRIORITY_HIGH, tag: "box-1" }),
    ];
    // A pass has looked at both blocked tasks once a task submitted after them is placed.
    const marker = await k.submit({ gpus: 0, queue: QueueClass.QUEUE_CLASS_BATCH, tag: "box-1" });
    assert.is((await k.take(1)).taskId, marker);
    for (const id of blocked) assert.match((await k.getTask(id)).pendingReason, WAITS_WITHOUT_PREEMPTING);
    assert.is(k.agents[0].take("preempt"), undefined, "non-preemptible");
    assert.is(k.agents[1].take("preempt"), undefined, "LIVE is not preemptible by default");
  } finally {
    await k.close();
  }
});

test("within a class a priority preempts by the margin; the rate limit holds the rest back and says so", async () => {
  const k = await cluster({ preemptionRateLimit: 1 }, 2);
  try {
    const low = [];
    for (const i of [0, 1]) {
      await k.submit({ gpus: 2, queue: QueueClass.QUEUE_CLASS_DEFAULT, priority: Priority.PRIORITY_LOW, preemptible: true, tag: `box-${i}` });
      low.push(await k.take(i));
    }
    const high = [
      await k.submit({ gpus: 2, queue: QueueClass.QUEUE_CLASS_DEFAULT, priority: Priority.PRIORITY_HIGH, tag: "box-0" }),
      await k.submit({ gpus: 2, queue: QueueClass.QUEUE_CLASS_DEFAULT, priority: Priority.PRIORITY_HIGH, tag: "box-1" }),
    ];
    const order = await k.agents[0].next("preempt");
    assert.is(order.attemptId, low[0].attemptId);
    const limited = await eventually(async () => {
      const t = await k.getTask(high[1]);
      return t.pendingReason === "waiting: the preemption rate limit is reached" && t;
    }, "the second preemption is rate-limited");
    assert.is(limited.state, TaskState.TASK_STATE_QUEUED);
    assert.is(k.agents[1].take("preempt"), undefined);
  } finally {
    await k.close();
  }
});

test("preemption off: nothing is ever told to stop", async () => {
  const k = await cluster({ preemption: false });
  try {
    await k.submit({ gpus: 2, queue: QueueClass.QUEUE_CLASS_BATCH });
    await k.take();
    const live = await k.submit({ gpus: 1, queue: QueueClass.QUEUE_CLASS_LIVE });
    const marker = await k.submit({ gpus: 0, queue: QueueClass.QUEUE_CLASS_BATCH });
    assert.is((await k.take()).taskId, marker);
    assert.match((await k.getTask(live)).pendingReason, WAITS_WITHOUT_PREEMPTING);
    assert.is(k.agents[0].take("preempt"), undefined);
  } finally {
    await k.close();
  }
});

test.run();
