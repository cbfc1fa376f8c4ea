// Unique id prefixes, as git and docker take them: `taskgrid get 0192f3a1` finds the one task
// whose id starts so. Resolved here, on the master, so every client gets it and the project rules
// apply: another project's task never matches (nor makes a prefix ambiguous).
import type { Caller } from "../../src/core/access.js";
import { InvalidArgumentError, NotFoundError } from "../../src/core/errors.js";
import type { Store } from "../../src/store/store-types.js";

/** Shorter prefixes match too much to be useful (the first 8 hex digits of a UUIDv7 are its time). */
export const MIN_PREFIX_LENGTH = 8;
/** A full UUID is never a prefix. */
const UUID_LENGTH = 36;
/** Matches named in an "ambiguous" answer. */
const SHOWN_MATCHES = 3;

/** Whether `given` could be a prefix of a task id (lowercase hex and dashes, 8..35 characters). */
export function isIdPrefix(given: string): boolean {
  return given.length >= MIN_PREFIX_LENGTH && given.length < UUID_LENGTH && /^[0-9a-f-]+$/.test(given);
}

/**
 * The task id `given` stands for: itself when it is an id (or cannot be a prefix: the caller's
 * lookup answers NOT_FOUND then), else the one visible task whose id starts with it. Several
 * matches: INVALID_ARGUMENT naming some; none: NOT_FOUND.
 */
export async function resolveTaskId(store: Store, given: string, caller: Caller, field = "task_id"): Promise<string> {
  if (!isIdPrefix(given) || (await store.getTask(given))) return given;
  const projects = caller.project === null ? null : [caller.project];
  const matches = await store.findTaskIdsByPrefix(given, projects, SHOWN_MATCHES + 1);
  if (matches.length === 0) throw new NotFoundError("task", given);
  if (matches.length === 1) return matches[0];
  const shown = matches.slice(0, SHOWN_MATCHES).join(", ");
  throw new InvalidArgumentError(field, `ambiguous id prefix ${given}: matches ${shown}${matches.length > SHOWN_MATCHES ? ", ..." : ""}`);
}
