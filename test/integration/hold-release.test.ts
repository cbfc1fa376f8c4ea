// Held tasks (issue 17: sbatch --hold, Slurm's scontrol hold/release) against a live master with a raw
// agent that counts what it is given: a task submitted held is never assigned until released, also
// across a master restart; `taskgrid hold` takes a queued task back; a held array (elements created
// lazily) releases every element, those created after the release too; holding a started task is
// FAILED_PRECONDITION; `sbatch -H` and `taskgrid release` work from the command line.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { status } from "@grpc/grpc-js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { call, callError, rawClients, type RawClients } from "../helpers/grpc-clients.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { runCli } from "../helpers/run-cli.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

const ok = { outcome: 1, exitCode: 0, signal: "", outputTail: "", durationMs: 1, message: "" };
const spec = (extra: Record<string, unknown> = {}) => ({ command: ["true"], resources: { cpuMillis: 100, memoryMib: 64 }, ...extra });
type Assignment = { attemptId: string; taskId: string; spec?: { env: Record<string, string> } };

async function connectAgent(address: string): Promise<RawAgent> {
  const agent = new RawAgent(address);
  agent.register("w1", { capacity: { cpuMillis: 64_000, memoryMib: 64 * 1024, maxTasks: 64, gpus: [] } });
  await agent.next("registered");
  return agent;
}

/** Runs `n` assignments to success; their task ids. */
async function run(agent: RawAgent, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = (await agent.next("assign")) as Assignment;
    ids.push(a.taskId);
    agent.send({ $case: "started", value: { attemptId: a.attemptId, pid: 1, startedAt: new Date() } });
    agent.send({ $case: "finished", value: { attemptId: a.attemptId, result: ok, finishedAt: new Date() } });
  }
  return ids;
}

async function nothingAssigned(tm: TestMaster, agent: RawAgent): Promise<void> {
  await tm.master.dispatcher.tick();
  assert.is(agent.take("assign"), undefined, "nothing assigned");
}

const getTask = async (c: RawClients, id: string) => (await call(c.tasks, "getTask", { taskId: id })).task;

test("held at submission: never assigned until released, also after a restart", async () => {
  let tm = await startTestMaster();
  let c = rawClients(tm.address);
  let agent: RawAgent | undefined;
  try {
    const held = (await call(c.tasks, "submitTask", { spec: spec({ hold: true }) })).task;
    const free = (await call(c.tasks, "submitTask", { spec: spec() })).task;
    agent = await connectAgent(tm.address);
    assert.equal(await run(agent, 1), [free.id], "only the task not held runs");
    await nothingAssigned(tm, agent);
    const waiting = await getTask(c, held.id);
    assert.is(waiting.state, TaskState.TASK_STATE_QUEUED);
    assert.match(waiting.pendingReason, `held: it starts once released (taskgrid release ${held.id})`);
    assert.is(waiting.spec.hold, true);

    agent.close();
    c.close();
    await tm.stop();
    tm = await startTestMaster({}, tm.db);
    c = rawClients(tm.address);
    agent = await connectAgent(tm.address);
    await nothingAssigned(tm, agent);
    assert.match((await getTask(c, held.id)).pendingReason, /^held/);

    const released = await call(c.tasks, "releaseTask", { taskId: held.id });
    assert.is(released.task.spec.hold, false);
    assert.equal(await run(agent, 1), [held.id]);
    // Releasing again (or a task not held) changes nothing; holding one that ended is refused.
    const late = await callError(call(c.tasks, "holdTask", { taskId: free.id }));
    assert.is(late.code, status.FAILED_PRECONDITION);
    assert.match(late.details, /only a QUEUED task can be held/);
  } finally {
    agent?.close();
    c.close();
    await tm.cleanup();
  }
});

test("a task submitted held while a worker is free is not placed at submission", async () => {
  const tm = await startTestMaster();
  const c = rawClients(tm.address);
  const agent = await connectAgent(tm.address);
  try {
    const held = (await call(c.tasks, "submitTask", { spec: spec({ hold: true }) })).task;
    assert.is(held.state, TaskState.TASK_STATE_QUEUED, "answered QUEUED, not ASSIGNED");
    await nothingAssigned(tm, agent);
    await call(c.tasks, "releaseTask", { taskId: held.id });
    assert.equal(await run(agent, 1), [held.id]);
  } finally {
    agent.close();
    c.close();
    await tm.cleanup();
  }
});

test("taskgrid hold takes a queued task back; a held array releases every element, those created later too", async () => {
  const tm = await startTestMaster({ arrayElementsChunk: 5, arrayElementsAhead: 5 });
  const c = rawClients(tm.address);
  const cli = (...argv: string[]) => runCli(argv, { TASKGRID_MASTER: tm.address });
  let agent: RawAgent | undefined;
  try {
    const queued = (await call(c.tasks, "submitTask", { spec: spec() })).task;
    const holding = await cli("hold", queued.id);
    assert.is(holding.code, 0, holding.err);
    assert.match(holding.out, `task ${queued.id} held`);
    const arrayId = (await call(c.tasks, "submitTask", { spec: spec({ array: "0-11", hold: true }) })).task.arrayId;
    agent = await connectAgent(tm.address);
    await nothingAssigned(tm, agent);
    assert.is((await call(c.tasks, "listTasks", { arrayId, pageSize: 100 })).tasks.length, 5, "the first chunk exists");

    const released = await cli("release", arrayId, queued.id);
    assert.is(released.code, 0, released.err);
    assert.match(released.out, `array ${arrayId}: 5 elements released`);
    assert.match(released.out, `task ${queued.id} released`);
    const ran = await run(agent, 13);
    assert.ok(ran.includes(queued.id));
    assert.is(new Set(ran).size, 13, "the task and all 12 elements, each once");
    await nothingAssigned(tm, agent);
  } finally {
    agent?.close();
    c.close();
    await tm.cleanup();
  }
});

test("sbatch -H submits held; release lets it run", async () => {
  const tm = await startTestMaster();
  const c = rawClients(tm.address);
  const cli = (...argv: string[]) => runCli(argv, { TASKGRID_MASTER: tm.address });
  let agent: RawAgent | undefined;
  try {
    const submitted = await cli("sbatch", "-H", "--parsable", "--wrap", "true");
    assert.is(submitted.code, 0, submitted.err);
    const id = submitted.out.trim();
    agent = await connectAgent(tm.address);
    await nothingAssigned(tm, agent);
    assert.is((await getTask(c, id)).spec.hold, true);
    assert.is((await cli("release", id)).code, 0);
    assert.equal(await run(agent, 1), [id]);
  } finally {
    agent?.close();
    c.close();
    await tm.cleanup();
  }
});

test.run();
