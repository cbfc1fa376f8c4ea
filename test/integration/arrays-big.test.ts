// A big job array (issue 17): its elements beyond the first are written without a stored QUEUED
// event (migration 0012; the event is derived from the element's row). Every one of 5,000 elements
// is listed, is found by "ID[N]" with its index and the array's spec, has its QUEUED event first in
// its history, and all of this holds again after a master restart (the elements rebuilt from the
// database); canceling the array then cancels every element and records that event after QUEUED.
// Its elements are all created at submission here (one chunk of SIZE); arrays-lazy.test.ts covers
// elements created as earlier ones end.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { call, rawClients, type RawClients } from "../helpers/grpc-clients.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

const SIZE = 5_000;
const allAtOnce = { arrayElementsChunk: SIZE, arrayElementsAhead: SIZE };
const spec = { command: ["echo", "big"], env: { WHICH: "big" }, resources: { cpuMillis: 100, memoryMib: 64 }, array: `0-${SIZE - 1}`, after: [] };

type ListedTask = { id: string; arrayId: string; arrayIndex: number; state: TaskState; spec?: { command: string[] } };

async function listAll(c: RawClients, arrayId: string): Promise<ListedTask[]> {
  const all: ListedTask[] = [];
  let pageToken = "";
  do {
    const page = await call(c.tasks, "listTasks", { arrayId, pageSize: 1000, pageToken });
    all.push(...(page.tasks as ListedTask[]));
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return all;
}

/** Every element listed once, and a sample gettable by ID[N] with its index, spec and QUEUED event first. */
async function checkElements(c: RawClients, arrayId: string, state: TaskState): Promise<void> {
  const listed = await listAll(c, arrayId);
  assert.is(listed.length, SIZE, "every element listed");
  assert.equal(
    listed.map((t) => t.arrayIndex).sort((a, b) => a - b),
    Array.from({ length: SIZE }, (_, i) => i),
    "each index once",
  );
  assert.ok(
    listed.every((t) => t.arrayId === arrayId && t.state === state),
    "all in state",
  );
  for (const index of [0, 1, 2_500, SIZE - 1]) {
    const { task, events } = await call(c.tasks, "getTask", { taskId: `${arrayId}[${index}]` });
    assert.is(task.arrayIndex, index);
    assert.is(task.arrayId, arrayId);
    assert.equal(task.spec.command, ["echo", "big"]);
    assert.equal(task.spec.env, { WHICH: "big" });
    assert.is(events[0].state, TaskState.TASK_STATE_QUEUED, `element ${index}: QUEUED first`);
    assert.is(events[0].taskId, task.id);
    assert.is(events[0].time.getTime(), task.createdAt.getTime(), "QUEUED when created");
    assert.is(events.length, state === TaskState.TASK_STATE_QUEUED ? 1 : 2, `element ${index}: its events`);
    if (state !== TaskState.TASK_STATE_QUEUED) assert.is(events[1].state, state);
  }
}

test(`the ${SIZE} elements of an array are listed, found by ID[N] and survive a restart`, async () => {
  const first = await startTestMaster(allAtOnce);
  let c = rawClients(first.address);
  let tm: TestMaster = first;
  try {
    const { task } = await call(c.tasks, "submitTask", { spec });
    const arrayId = task.arrayId;
    await checkElements(c, arrayId, TaskState.TASK_STATE_QUEUED);
    c.close();
    await first.stop();

    tm = await startTestMaster(allAtOnce, first.db);
    c = rawClients(tm.address);
    await checkElements(c, arrayId, TaskState.TASK_STATE_QUEUED);
    const res = await call(c.tasks, "cancelTask", { taskId: arrayId });
    assert.is(res.canceledElements, SIZE);
    await checkElements(c, arrayId, TaskState.TASK_STATE_CANCELED);
  } finally {
    c.close();
    await tm.cleanup();
  }
});

test.run();
