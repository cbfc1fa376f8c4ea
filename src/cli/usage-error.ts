// A mistake in how the command was typed (exit 2), as opposed to a failure reported by the master.

export class UsageError extends Error {
  override readonly name = "UsageError";
}
