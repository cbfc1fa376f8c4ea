// Asserting a CLI usage error: the one check the CLI unit tests share.
import * as assert from "uvu/assert";
import { UsageError } from "../../src/cli/usage-error.js";

/** Asserts that `fn` throws a UsageError whose message contains every one of `parts`. */
export function throwsUsage(fn: () => unknown, ...parts: string[]): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, UsageError);
    for (const p of parts) assert.ok((err as Error).message.includes(p), `"${(err as Error).message}" should mention "${p}"`);
    return;
  }
  assert.unreachable(`expected a UsageError mentioning ${parts.join(", ")}`);
}
