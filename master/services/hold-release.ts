// TaskService.HoldTask and ReleaseTask (Slurm's `scontrol hold` / `release`, `sbatch --hold`): a held
// task stays QUEUED, outside the queue (the dependency gate keeps it), until it is released. The
// state is the spec's `hold` in the database (set at submission or by HoldTask), so a new leader
// holds it again. Both calls are idempotent: holding a held task or releasing one not held changes
// nothing.
//
// Order, so that nothing starts in between: a hold takes the task out of the queue first, then
// commits (and puts it back if the write fails); a release commits first, then lets it in. For an
// array, the elements it creates later follow its record (array-elements.ts setHold).
import { FailedPreconditionError } from "../../src/core/errors.js";
import type { Task } from "../../src/core/types.js";
import type { Store, StoreWrite } from "../../src/store/store-types.js";
import { withHold } from "../array-elements.js";
import type { LeaderTerm } from "../leader-term.js";

type Term = Pick<LeaderTerm, "state" | "gate" | "arrays">;
type Writer = Pick<Store, "write">;

/** Holds or releases one task (by id, already resolved and visible to the caller). */
export async function setTaskHold(term: Term, store: Writer, taskId: string, hold: boolean): Promise<Task> {
  const task = term.state.activeTasks.get(taskId);
  if (task === undefined || task.state !== "QUEUED")
    throw new FailedPreconditionError(`task ${taskId} is ${task?.state ?? "ended"}: only a QUEUED task can be ${hold ? "held" : "released"}`);
  if ((task.spec.hold === true) === hold) return task;
  if (hold) {
    if (!term.gate.putOnHold(task)) throw new FailedPreconditionError(`task ${taskId} is starting: only a QUEUED task can be held`);
    try {
      await store.write([{ kind: "set_task_hold", taskId, hold: true }]);
    } catch (err) {
      await term.gate.releaseHeld([task]);
      throw err;
    }
    task.spec = withHold(task.spec, true);
    return task;
  }
  await store.write([{ kind: "set_task_hold", taskId, hold: false }]);
  task.spec = withHold(task.spec, false);
  await term.gate.releaseHeld([task]);
  return task;
}

/** Holds or releases an array's queued elements and those it creates later; how many elements changed. */
export async function setArrayHold(term: Term, store: Writer, arrayId: string, hold: boolean): Promise<number> {
  const undoTemplate = await term.arrays.setHold(arrayId, hold);
  const elements = [...term.state.activeTasks.values()].filter(
    (t) => t.arrayId === arrayId && t.state === "QUEUED" && (t.spec.hold === true) !== hold && (!hold || term.gate.putOnHold(t)),
  );
  const writes: StoreWrite[] = elements.map((t) => ({ kind: "set_task_hold", taskId: t.id, hold }));
  writes.push({ kind: "set_array_hold", arrayId, hold });
  try {
    await store.write(writes);
  } catch (err) {
    undoTemplate();
    if (hold) await term.gate.releaseHeld(elements);
    throw err;
  }
  for (const t of elements) t.spec = withHold(t.spec, hold);
  if (!hold) await term.gate.releaseHeld(elements);
  return elements.length;
}
