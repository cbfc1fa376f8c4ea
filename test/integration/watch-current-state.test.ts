// WatchTasks sends each watched task's current state after subscribing. For an active task that
// state is the leader's own, which its events follow: the database can already hold a later state
// (a commit the master has not applied yet), and a current state read from it came before the
// events that led to it (a client then saw SUCCEEDED, RUNNING, SUCCEEDED). Here the database is
// put ahead of the master by hand; the watch must say RUNNING first, then the real end once.
import { test } from "uvu";
import * as assert from "uvu/assert";
import pg from "pg";
import * as taskPb from "../../src/gen/taskgrid/v1/task_service.js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { call, rawClients, waitForState } from "../helpers/grpc-clients.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { startTestMaster } from "../helpers/test-master.js";

const ok = { outcome: 1, exitCode: 0, signal: "", outputTail: "", durationMs: 1, message: "" };

// Postgres only: the test writes the task row beside the master (PGlite's one connection is the master's).
const onPostgres = process.env.TASKGRID_TEST_PG_URL !== undefined;

(onPostgres ? test : test.skip)("an active task's current state is the leader's, not a later one the database already holds", async () => {
  const tm = await startTestMaster();
  const c = rawClients(tm.address);
  const agent = new RawAgent(tm.address);
  const db = new pg.Client({ connectionString: tm.db.options.databaseUrl });
  try {
    await db.connect();
    agent.register("w1", { capacity: { cpuMillis: 8000, memoryMib: 8192, maxTasks: 4, gpus: [] } });
    await agent.next("registered");
    const { task } = await call(c.tasks, "submitTask", { spec: { command: ["true"], resources: { cpuMillis: 100, memoryMib: 64 } } });
    const assign = (await agent.next("assign")) as { attemptId: string };
    agent.send({ $case: "started", value: { attemptId: assign.attemptId, pid: 1, startedAt: new Date() } });
    await waitForState(c, task.id, TaskState.TASK_STATE_RUNNING);
    // The database ahead of the master: as if the task's end were committed and not yet applied.
    await db.query("UPDATE tasks SET state = 'SUCCEEDED' WHERE id = $1", [task.id]);

    const stream = c.tasks.watchTasks(taskPb.WatchTasksRequest.fromPartial({ taskIds: [task.id] }));
    const states: number[] = [];
    const ended = (async () => {
      for await (const msg of stream as AsyncIterable<taskPb.WatchTasksResponse>) {
        states.push(msg.event!.state);
        if (msg.event!.state === TaskState.TASK_STATE_SUCCEEDED) break;
      }
    })();
    // The first message is the current state; the end comes once the agent reports it.
    while (states.length === 0) await new Promise((resolve) => setImmediate(resolve));
    agent.send({ $case: "finished", value: { attemptId: assign.attemptId, result: ok, finishedAt: new Date() } });
    await ended;
    stream.cancel();
    assert.equal(states, [TaskState.TASK_STATE_RUNNING, TaskState.TASK_STATE_SUCCEEDED]);
  } finally {
    await db.end();
    agent.close();
    c.close();
    await tm.cleanup();
  }
});

test.run();
