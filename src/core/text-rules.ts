// Text that Postgres can store. Neither `text` nor `jsonb` can hold U+0000 (NUL): one NUL in any
// value makes the whole commit fail, taking the other writes of its group-commit batch with it.
// So NUL never gets past the edge: input a client chose (a task spec, a filter, a reason) is
// rejected with INVALID_ARGUMENT (`noNul`); text nobody chose, such as a task's output, which may
// legitimately be binary, is escaped instead (`escapeNul`).
import { InvalidArgumentError } from "./errors.js";

export const NUL_RULE = "must not contain NUL (\\u0000) characters";

export function hasNul(text: string): boolean {
  return text.includes("\u0000");
}

/** Throws InvalidArgumentError(field, NUL_RULE) when `value` contains a NUL. */
export function noNul(field: string, value: string): void {
  if (hasNul(value)) throw new InvalidArgumentError(field, NUL_RULE);
}

/**
 * Replaces each NUL with the two characters `\0` (backslash, digit zero), as C and most shells
 * write it. Deliberately lossy: a literal backslash-zero in the text reads the same afterwards;
 * the text is for people to read, not to reproduce the bytes.
 */
export function escapeNul(text: string): string {
  return hasNul(text) ? text.replaceAll("\u0000", "\\0") : text;
}
