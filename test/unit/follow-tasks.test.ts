// followUntilTerminal (src/cli/follow-tasks.ts, `watch` and `submit --wait`) passes each change on
// once: a task that ended while the watch subscribed comes as its event and as its current state,
// and `watch A B` used to print A's end twice while it waited for B. A scripted watch stream.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { TaskgridClient } from "../../src/client/index.js";
import { followUntilTerminal } from "../../src/cli/follow-tasks.js";
import type { TaskEvent } from "../../src/gen/taskgrid/v1/task.js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";

const A = "01a252ce-0000-7000-8000-00000000000a";
const B = "01a252ce-0000-7000-8000-00000000000b";

function event(taskId: string, state: TaskState, progress = 0): TaskEvent {
  return { taskId, state, progress, progressMessage: "" } as TaskEvent;
}

/** A client whose one watch yields `events`, then waits until it is canceled. */
function scripted(events: TaskEvent[]): TaskgridClient {
  return {
    watchTasks: () => {
      let canceled = false;
      return {
        cancel: () => void (canceled = true),
        async *[Symbol.asyncIterator]() {
          for (const e of events) {
            if (canceled) return;
            yield e;
          }
        },
      };
    },
  } as unknown as TaskgridClient;
}

test("a task's end that comes twice (its event and its current state) is passed on once", async () => {
  const { SUCCEEDED, RUNNING } = { SUCCEEDED: TaskState.TASK_STATE_SUCCEEDED, RUNNING: TaskState.TASK_STATE_RUNNING };
  const client = scripted([event(A, SUCCEEDED), event(B, RUNNING), event(A, SUCCEEDED), event(B, RUNNING, 50), event(B, SUCCEEDED)]);
  const seen: string[] = [];
  const finished = await followUntilTerminal(client, [A, B], (e) => seen.push(`${e.taskId.slice(-1)} ${TaskState[e.state]} ${e.progress}`));
  assert.equal(seen, ["a TASK_STATE_SUCCEEDED 0", "b TASK_STATE_RUNNING 0", "b TASK_STATE_RUNNING 50", "b TASK_STATE_SUCCEEDED 0"]);
  assert.equal([...finished.keys()].sort(), [A, B]);
});

test("events that come after a task's end (its current state read before they were published) are not passed on", async () => {
  // The watch's current state of A is read from the database, which can be ahead of the events the
  // master publishes once it has applied the commit: A's current state SUCCEEDED came first, then
  // its RUNNING and SUCCEEDED events. An end is final, so A's end must be shown once, and no state after it.
  const { SUCCEEDED, RUNNING } = { SUCCEEDED: TaskState.TASK_STATE_SUCCEEDED, RUNNING: TaskState.TASK_STATE_RUNNING };
  const client = scripted([event(A, SUCCEEDED), event(B, RUNNING), event(A, RUNNING), event(A, SUCCEEDED), event(B, SUCCEEDED)]);
  const seen: string[] = [];
  await followUntilTerminal(client, [A, B], (e) => seen.push(`${e.taskId.slice(-1)} ${TaskState[e.state]}`));
  assert.equal(seen, ["a TASK_STATE_SUCCEEDED", "b TASK_STATE_RUNNING", "b TASK_STATE_SUCCEEDED"]);
});

test.run();
