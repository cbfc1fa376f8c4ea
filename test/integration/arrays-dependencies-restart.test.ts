// The dependency gate is rebuilt when a master takes office (issue 17): tasks waiting on a
// dependency and an array's elements beyond its %N stay out of the queue across a restart, and are
// let in once what they wait for ends, no more than the window allows.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { call, rawClients } from "../helpers/grpc-clients.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { eventually } from "../helpers/task-watch.js";
import { startTestMaster } from "../helpers/test-master.js";

const ok = { outcome: 1, exitCode: 0, signal: "", outputTail: "", durationMs: 1, message: "" };
const spec = (extra: Record<string, unknown> = {}) => ({ command: ["true"], resources: { cpuMillis: 100, memoryMib: 64 }, ...extra });

test("after a restart, dependents and an array's window are held as before", async () => {
  const first = await startTestMaster();
  let c = rawClients(first.address);
  const [a, b, arrayId] = (await call(c.tasks, "submitTasks", { specs: [spec(), spec({ after: ["#0"] }), spec({ after: ["#0"], array: "0-5%2" })] })).taskIds;
  c.close();
  await first.stop();

  const tm = await startTestMaster({}, first.db);
  c = rawClients(tm.address);
  const agent = new RawAgent(tm.address);
  try {
    agent.register("w1", { capacity: { cpuMillis: 64_000, memoryMib: 64 * 1024, maxTasks: 32, gpus: [] } });
    await agent.next("registered");
    const getTask = async (id: string) => (await call(c.tasks, "getTask", { taskId: id })).task;
    const take = async () => {
      const x = await agent.next("assign");
      agent.send({ $case: "started", value: { attemptId: x.attemptId, pid: 1, startedAt: new Date() } });
      return x;
    };
    const finish = async (x: { attemptId: string; taskId: string }) => {
      agent.send({ $case: "finished", value: { attemptId: x.attemptId, result: ok, finishedAt: new Date() } });
      await eventually(async () => (await getTask(x.taskId)).state === TaskState.TASK_STATE_SUCCEEDED, `${x.taskId} SUCCEEDED`);
    };
    const first = await take();
    assert.is(first.taskId, a);
    await tm.master.dispatcher.tick();
    assert.is(agent.take("assign"), undefined, "nothing else may start before a ends");
    assert.match((await getTask(b)).pendingReason, new RegExp(`^waiting: after task ${a} \\((ASSIGNED|RUNNING)\\)$`));
    assert.match((await getTask(`${arrayId}[3]`)).pendingReason, `waiting: after task ${a}`);
    await finish(first);
    const next = [await take(), await take(), await take()];
    await tm.master.dispatcher.tick();
    assert.is(agent.take("assign"), undefined, "b and two elements: the window is %2");
    assert.ok(next.some((x) => x.taskId === b));
    const elements = next.filter((x) => x.taskId !== b);
    assert.equal(elements.map((x) => Number(x.spec?.env.TASKGRID_ARRAY_INDEX)).sort(), [0, 1], "the window fills in index order");
    for (const x of next) await finish(x);
    const rest = [await take(), await take()];
    assert.equal(rest.map((x) => Number(x.spec?.env.TASKGRID_ARRAY_INDEX)).sort(), [2, 3]);
  } finally {
    agent.close();
    c.close();
    await tm.cleanup();
  }
});

test.run();
