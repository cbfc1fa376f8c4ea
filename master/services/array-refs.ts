// Job arrays in TaskService calls: "ARRAY_ID[N]" names one element wherever a task id is taken (one
// not created yet is shown by GetTask, and refused by the calls that act on it), and CancelTask with
// an array id cancels every element that has not ended and the indexes never created.
import type { Caller } from "../../src/core/access.js";
import { seesProject } from "../../src/core/access.js";
import { elementRef, parseArrayRange, parseElementRef } from "../../src/core/arrays.js";
import type { Task } from "../../src/core/types.js";
import { FailedPreconditionError, NotFoundError } from "../../src/core/errors.js";
import type { Store } from "../../src/store/store-types.js";
import type { LeaderTerm } from "../leader-term.js";

/** The element's task id for "ARRAY_ID[N]"; anything else (or an unknown element) as given: the caller's lookup answers NOT_FOUND. */
export async function resolveElementRef(store: Pick<Store, "getArrayElement">, given: string): Promise<string> {
  const ref = parseElementRef(given);
  if (ref === null) return given;
  return (await store.getArrayElement(ref.arrayId, ref.index))?.id ?? given;
}

/**
 * "ARRAY_ID[N]" of an element not created yet (array-elements.ts): what GetTask shows for it, its id
 * being that reference; null for anything else. QUEUED, or CANCELED when the array was canceled.
 */
export async function notCreatedElement(store: Pick<Store, "getArrayRecord">, given: string): Promise<Task | null> {
  const ref = parseElementRef(given);
  if (ref === null) return null;
  const record = await store.getArrayRecord(ref.arrayId);
  if (record === null) return null;
  const position = parseArrayRange(record.template.spec.array ?? "", Number.MAX_SAFE_INTEGER).indexes.indexOf(ref.index);
  if (position < record.created) return null; // not an index of the array, or created (and then found by its row)
  return { ...record.template, id: elementRef(ref.arrayId, ref.index), arrayIndex: ref.index, state: record.canceled ? "CANCELED" : "QUEUED" };
}

/** Whether `task` is such an element (its id is its "ARRAY_ID[N]" reference). */
export function isNotCreated(task: Task): boolean {
  return parseElementRef(task.id) !== null;
}

/** Why an element has no task yet (its pending reason), and the error for acting on it. */
export function notCreatedReason(task: Task): string {
  return `waiting: not created yet; array ${task.arrayId} creates its elements as earlier ones end`;
}

export function notCreatedError(task: Task): FailedPreconditionError {
  return new FailedPreconditionError(
    `element ${task.arrayIndex} of array ${task.arrayId} has not been created yet (an array creates its elements as earlier ones end): act on the whole array, or wait`,
  );
}

/**
 * Cancels every element of array `arrayId` that has not ended; null when no array of the caller's
 * has that id (the caller goes on with it as a task id). FAILED_PRECONDITION when all have ended.
 */
export async function cancelArray(term: LeaderTerm, store: Pick<Store, "listTasks">, arrayId: string, reason: string, caller: Caller): Promise<number | null> {
  const live = term.gate.liveArray(arrayId);
  if (live === undefined || !seesProject(caller, live.project)) {
    const page = await store.listTasks({ arrayId }, 1, "");
    const any = page.tasks[0];
    if (any === undefined || !seesProject(caller, any.spec.project)) return null;
    throw new FailedPreconditionError(`array ${arrayId} cannot be canceled: every element already ended`);
  }
  // Frozen first: no element enters the queue while the others are being canceled; and no more are
  // created (one in flight is awaited: its elements are then in memory, canceled below).
  term.gate.freezeArray(arrayId);
  const neverCreated = await term.arrays.cancel(arrayId, reason);
  const elements = [...term.state.activeTasks.values()].filter((t) => t.arrayId === arrayId).map((t) => t.id);
  // The queued ones in one commit, the rest (running, or with a change in flight) one by one.
  const together = await term.lifecycle.cancelQueued(elements, reason, caller.actor);
  const done = new Set(together);
  const rest = elements.filter((id) => !done.has(id));
  const results = await Promise.allSettled(rest.map((id) => term.lifecycle.cancel(id, reason, caller.actor)));
  // An element that ended meanwhile is not an error; anything else (the database) is.
  const failed = results.find((r) => r.status === "rejected" && !(r.reason instanceof FailedPreconditionError) && !(r.reason instanceof NotFoundError));
  // The indexes without an element count as canceled once the rest were (the array then ends).
  term.gate.arrayCanceled(arrayId, neverCreated);
  if (failed?.status === "rejected") throw failed.reason;
  return together.length + results.filter((r) => r.status === "fulfilled").length + neverCreated;
}
