// Job arrays in TaskService calls: "ARRAY_ID[N]" names one element wherever a task id is taken, and
// CancelTask with an array id cancels every element that has not ended.
import type { Caller } from "../../src/core/access.js";
import { seesProject } from "../../src/core/access.js";
import { parseElementRef } from "../../src/core/arrays.js";
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
  // Frozen first: no element enters the queue while the others are being canceled.
  term.gate.freezeArray(arrayId);
  const elements = [...term.state.activeTasks.values()].filter((t) => t.arrayId === arrayId).map((t) => t.id);
  // The queued ones in one commit, the rest (running, or with a change in flight) one by one.
  const together = await term.lifecycle.cancelQueued(elements, reason, caller.actor);
  const done = new Set(together);
  const rest = elements.filter((id) => !done.has(id));
  const results = await Promise.allSettled(rest.map((id) => term.lifecycle.cancel(id, reason, caller.actor)));
  // An element that ended meanwhile is not an error; anything else (the database) is.
  const failed = results.find((r) => r.status === "rejected" && !(r.reason instanceof FailedPreconditionError) && !(r.reason instanceof NotFoundError));
  if (failed?.status === "rejected") throw failed.reason;
  return together.length + results.filter((r) => r.status === "fulfilled").length;
}
