// The last lines of a stored output tail (StreamLogs with tail_lines, when the agent is gone).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { lastLines } from "../../master/services/stream-logs.js";

test("lastLines: a final newline ends the last line; 0 or more lines than there are: everything", () => {
  assert.is(lastLines("a\nb\nc\n", 2), "b\nc\n");
  assert.is(lastLines("a\nb\nc", 1), "c");
  assert.is(lastLines("a\nb\nc\n", 3), "a\nb\nc\n");
  assert.is(lastLines("a\nb\nc\n", 10), "a\nb\nc\n");
  assert.is(lastLines("a\nb\nc\n", 0), "a\nb\nc\n");
  assert.is(lastLines("", 5), "");
  assert.is(lastLines("\n\n", 1), "\n");
});

test.run();
