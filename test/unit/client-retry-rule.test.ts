// Which calls the client may repeat after an ambiguous failure (src/client/retry-rule.ts): reads, and
// submissions whose every spec carries an idempotency key (the master returns the first try's tasks).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { isRepeatable } from "../../src/client/retry-rule.js";

const keyed = { command: ["true"], idempotencyKey: "k" };
const plain = { command: ["true"] };

test("reads and keyed submissions repeat; other writes do not", () => {
  assert.ok(isRepeatable("/taskgrid.v1.TaskService/GetTask", {}));
  assert.ok(isRepeatable("SubmitTask", { spec: keyed }));
  assert.not.ok(isRepeatable("SubmitTask", { spec: plain }));
  assert.ok(isRepeatable("/taskgrid.v1.TaskService/SubmitTasks", { specs: [keyed, { ...keyed, idempotencyKey: "k2" }] }));
  assert.not.ok(isRepeatable("SubmitTasks", { specs: [keyed, plain] }), "one spec without a key would be created twice");
  assert.not.ok(isRepeatable("SubmitTasks", { specs: [] }));
  assert.not.ok(isRepeatable("CancelTask", { taskId: "x" }));
});

test.run();
