// A TaskLifecycle over a scripted store: one task with one live attempt "a1" on worker "w1", a
// store whose writes wait until the test commits or fails them one by one, and the events watchers
// saw. For tests of commit-then-apply and of report folding.
import { orderingByName } from "../../src/core/ordering.js";
import { allocate } from "../../src/core/worker-slot.js";
import type { TaskEvent, TaskState } from "../../src/core/types.js";
import type { Store, StoreWrite } from "../../src/store/store-types.js";
import { EventHub } from "../../master/event-hub.js";
import { MasterState } from "../../master/state.js";
import { TaskLifecycle } from "../../master/task-lifecycle.js";
import { slot, task } from "./domain.js";

export interface HarnessOptions {
  /** The task's state: RUNNING (default, its attempt started) or ASSIGNED (not started yet). */
  taskState?: Extract<TaskState, "RUNNING" | "ASSIGNED">;
}

export function lifecycleHarness(options: HarnessOptions = {}) {
  const taskState = options.taskState ?? "RUNNING";
  const state = new MasterState(orderingByName("priority"), () => 1000);
  const t = task({}, { state: taskState, currentAttemptId: "a1", attemptCount: 1 });
  state.activeTasks.set(t.id, t);
  const s = slot("w1");
  state.slots.set("w1", s);
  allocate(s, "a1", t.spec.resources, []);
  const attempt = {
    id: "a1",
    taskId: t.id,
    number: 1,
    workerId: "w1",
    gpuIndexes: [],
    assignedAtMs: 1,
    startedAtMs: taskState === "RUNNING" ? 2 : null,
    finishedAtMs: null,
    result: null,
    decision: null,
  };
  state.liveAttempts.set("a1", { attempt, workerId: "w1" });
  const committed: StoreWrite[][] = [];
  const pending: Array<{ writes: StoreWrite[]; resolve: () => void; reject: (e: Error) => void }> = [];
  const store = {
    write: (writes: StoreWrite[]) => new Promise<void>((resolve, reject) => pending.push({ writes, resolve, reject })),
  } as unknown as Store;
  /** The oldest commit waiting for its outcome (waits until there is one). */
  const nextCommit = async () => {
    while (pending.length === 0) await new Promise((r) => setImmediate(r));
    const p = pending.shift()!;
    return { writes: p.writes, commit: () => (committed.push(p.writes), p.resolve()), fail: () => p.reject(new Error("commit failed")) };
  };
  const hub = new EventHub();
  const events: TaskEvent[] = [];
  hub.subscribe({ taskIds: null, project: "", push: (e) => events.push(e) });
  const sent: string[] = [];
  const rejected: string[] = [];
  const commands = {
    cancel: (_w: string, a: string) => sent.push(`cancel ${a}`),
    preempt: () => true,
    pause: () => {},
    resume: () => {},
    assign: () => true,
    drain: () => {},
  };
  const lifecycle = new TaskLifecycle({
    state,
    store,
    hub,
    clock: { now: () => 1000 },
    commands,
    cancelGraceMs: 10,
    onCapacityChange: () => {},
    onReportRejected: (reason, workerId, attemptId) => rejected.push(`${reason} ${workerId} ${attemptId}`),
    random: () => 0,
  });
  return { state, t, s, attempt, lifecycle, committed, pending, events, sent, rejected, nextCommit };
}
