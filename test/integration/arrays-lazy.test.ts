// Job arrays whose elements are created as earlier ones end (issue 17; src/core/array-elements.ts,
// master/array-elements.ts), with small pacing (chunks of 100, at most 300 existing and not ended):
// - an element not created yet is shown by GetTask (QUEUED, with why) and refused by what acts on it;
// - every index runs exactly once (counted from a raw agent's assignments, each started and finished),
//   through a master restart half-way: the new leader resumes creating from the array's record;
// - never more than 300 elements exist unfinished;
// - a cancel counts the indexes never created, shows them CANCELED, and lets the array's dependents go on;
// - `taskgrid watch ARRAY` follows the elements created after it started; `get ARRAY` counts them.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { status } from "@grpc/grpc-js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { call, callError, rawClients, type RawClients } from "../helpers/grpc-clients.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { eventually } from "../helpers/task-watch.js";
import { runCli } from "../helpers/run-cli.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

const SIZE = 1_000;
const pacing = { arrayElementsChunk: 100, arrayElementsAhead: 300 };
const ok = { outcome: 1, exitCode: 0, signal: "", outputTail: "", durationMs: 1, message: "" };
const spec = (extra: Record<string, unknown> = {}) => ({ command: ["true"], resources: { cpuMillis: 100, memoryMib: 64 }, ...extra });
const LIVE = [TaskState.TASK_STATE_QUEUED, TaskState.TASK_STATE_ASSIGNED, TaskState.TASK_STATE_RUNNING];

type Assignment = { attemptId: string; taskId: string; spec?: { env: Record<string, string> } };

async function countElements(c: RawClients, arrayId: string, states: TaskState[] = []): Promise<number> {
  let n = 0;
  let pageToken = "";
  do {
    const page = await call(c.tasks, "listTasks", { arrayId, states, pageSize: 1000, pageToken });
    n += page.tasks.length;
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return n;
}

async function connectAgent(address: string): Promise<RawAgent> {
  const agent = new RawAgent(address);
  agent.register("w1", { capacity: { cpuMillis: 64_000, memoryMib: 64 * 1024, maxTasks: 40, gpus: [] } });
  await agent.next("registered");
  return agent;
}

/** Starts and finishes `n` assignments; returns their array indexes. */
async function runSome(agent: RawAgent, n: number): Promise<number[]> {
  const indexes: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = (await agent.next("assign")) as Assignment;
    indexes.push(Number(a.spec?.env.TASKGRID_ARRAY_INDEX));
    agent.send({ $case: "started", value: { attemptId: a.attemptId, pid: 1, startedAt: new Date() } });
    agent.send({ $case: "finished", value: { attemptId: a.attemptId, result: ok, finishedAt: new Date() } });
  }
  return indexes;
}

test("elements are created as earlier ones end; each index runs once, through a restart", async () => {
  let tm: TestMaster = await startTestMaster(pacing);
  let c = rawClients(tm.address);
  let agent: RawAgent | undefined;
  try {
    const { task } = await call(c.tasks, "submitTask", { spec: spec({ array: `0-${SIZE - 1}` }) });
    const arrayId = task.arrayId;
    // The submission wrote one chunk; the creator tops up to 300 and stops there (nothing ended).
    await eventually(async () => (await countElements(c, arrayId)) === 300, "300 elements created");
    assert.is(tm.master.term?.arrays.notCreated(arrayId), 700);

    const last = (await call(c.tasks, "getTask", { taskId: `${arrayId}[${SIZE - 1}]` })).task;
    assert.is(last.id, `${arrayId}[${SIZE - 1}]`);
    assert.is(last.state, TaskState.TASK_STATE_QUEUED);
    assert.is(last.arrayIndex, SIZE - 1);
    assert.match(last.pendingReason, /not created yet/);
    const cancelOne = await callError(call(c.tasks, "cancelTask", { taskId: `${arrayId}[${SIZE - 1}]` }));
    assert.is(cancelOne.code, status.FAILED_PRECONDITION);
    assert.match(cancelOne.details, /has not been created yet/);
    const dependOne = await callError(call(c.tasks, "submitTask", { spec: spec({ after: [`${arrayId}[${SIZE - 1}]`] }) }));
    assert.is(dependOne.code, status.INVALID_ARGUMENT);
    assert.match(dependOne.details, /spec\.after\[0\].*depend on the array/);

    agent = await connectAgent(tm.address);
    const ran = await runSome(agent, 450);
    assert.ok((await countElements(c, arrayId, LIVE)) <= 300, "at most 300 unfinished elements exist");
    // Restart once every finish is committed (assignments not started yet are simply given again).
    await eventually(async () => (await countElements(c, arrayId, [TaskState.TASK_STATE_SUCCEEDED])) === 450, "450 finished");
    agent.close();
    c.close();
    await tm.stop();

    tm = await startTestMaster(pacing, tm.db);
    c = rawClients(tm.address);
    agent = await connectAgent(tm.address);
    ran.push(...(await runSome(agent, SIZE - 450)));
    await eventually(async () => (await countElements(c, arrayId, [TaskState.TASK_STATE_SUCCEEDED])) === SIZE, "all finished");
    assert.equal(
      [...ran].sort((a, b) => a - b),
      Array.from({ length: SIZE }, (_, i) => i),
      "every index ran exactly once",
    );
    await tm.master.dispatcher.tick();
    assert.is(agent.take("assign"), undefined, "nothing more to run");
    assert.is(tm.master.term?.arrays.openCount, 0);
  } finally {
    agent?.close();
    c.close();
    await tm.cleanup();
  }
});

test("a cancel counts the indexes never created; the array's dependents go on", async () => {
  const tm = await startTestMaster(pacing);
  const c = rawClients(tm.address);
  const agent = await connectAgent(tm.address);
  try {
    const [arrayId, anyAfter, okAfter] = (
      await call(c.tasks, "submitTasks", { specs: [spec({ array: `0-${SIZE - 1}` }), spec({ afterAny: ["#0"] }), spec({ after: ["#0"] })] })
    ).taskIds;
    const ran = await runSome(agent, 150);
    await eventually(async () => (await countElements(c, arrayId, [TaskState.TASK_STATE_SUCCEEDED])) === 150, "150 finished");
    const created = await countElements(c, arrayId);
    assert.ok(created > 150 && created <= 450, `created ${created}`);
    const res = await call(c.tasks, "cancelTask", { taskId: arrayId, reason: "enough" });
    assert.is(res.canceledElements, SIZE - 150, "the created ones not ended and every index never created");
    assert.is(await countElements(c, arrayId), created, "no element was created after the cancel");
    const last = (await call(c.tasks, "getTask", { taskId: `${arrayId}[${SIZE - 1}]` })).task;
    assert.is(last.state, TaskState.TASK_STATE_CANCELED);
    // after-any: the array has ended, so it runs; after (success of all): can never be met.
    // Elements assigned before the cancel (never started) are stopped: the agent confirms each; the
    // array then ends, and its after-any dependent is assigned.
    let next: Assignment | undefined;
    while (next?.taskId !== anyAfter) {
      const stop = agent.take("cancel");
      if (stop !== undefined) {
        agent.send({ $case: "finished", value: { attemptId: stop.attemptId, result: { ...ok, outcome: 3 }, finishedAt: new Date() } });
        continue;
      }
      const given = agent.take("assign") as Assignment | undefined;
      if (given !== undefined) next = given;
      else await agent.arrival();
    }
    await eventually(async () => (await call(c.tasks, "getTask", { taskId: okAfter })).task.state === TaskState.TASK_STATE_CANCELED, "after-ok canceled");
    assert.is(ran.length, 150);
  } finally {
    agent.close();
    c.close();
    await tm.cleanup();
  }
});

test("taskgrid watch ARRAY and get ARRAY follow and count the elements created later", async () => {
  const tm = await startTestMaster({ arrayElementsChunk: 50, arrayElementsAhead: 50 });
  const c = rawClients(tm.address);
  let agent: RawAgent | undefined;
  const cli = (...argv: string[]) => runCli(argv, { TASKGRID_MASTER: tm.address });
  try {
    const { task } = await call(c.tasks, "submitTask", { spec: spec({ array: "0-149" }) });
    const arrayId = task.arrayId;
    await eventually(async () => (await countElements(c, arrayId)) === 50, "the first 50 created");
    const summary = await cli("get", arrayId);
    assert.match(summary.out, `array ${arrayId}: 150 elements (50 QUEUED, 100 not created yet)`);
    const watching = cli("watch", arrayId);
    agent = await connectAgent(tm.address);
    const ran = await runSome(agent, 150);
    const watched = await watching;
    assert.is(watched.code, 0, watched.err);
    const endLines = [...watched.out.matchAll(/task (\S+) SUCCEEDED/g)].map((m) => m[1]);
    assert.is(new Set(endLines).size, 150, "every element's end shown, the 100 created after the watch began too");
    // Once each: a task that ends while the watch subscribes comes as its event and as its state.
    assert.is(endLines.length, 150, "no end shown twice");
    assert.is(new Set(ran).size, 150);
  } finally {
    agent?.close();
    c.close();
    await tm.cleanup();
  }
});

test.run();
