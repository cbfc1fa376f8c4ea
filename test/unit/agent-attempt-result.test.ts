// How the agent turns a process's end into a result (agent/attempt-result.ts): a stop decides the
// outcome, except that a lease-expiry stop does not undo a command's clean exit.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { endedResult, type ProcessEnd } from "../../agent/attempt-result.js";
import { AttemptOutcome } from "../../src/gen/taskgrid/v1/types.js";

const end = (over: Partial<ProcessEnd>): ProcessEnd => ({ code: 0, signal: null, outputTail: "", durationMs: 10, stop: null, ...over });
const lost = { outcome: AttemptOutcome.ATTEMPT_OUTCOME_LOST, message: "lease expired" } as const;

test("a clean exit (0, no signal) stands against a lease-expiry stop decided before the agent heard of it", () => {
  assert.is(endedResult(end({ stop: lost })).outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
});

test("a lease-expiry stop that killed the command, or met a failing exit, is LOST", () => {
  assert.is(endedResult(end({ code: null, signal: "SIGTERM", stop: lost })).outcome, AttemptOutcome.ATTEMPT_OUTCOME_LOST);
  assert.is(endedResult(end({ code: 3, stop: lost })).outcome, AttemptOutcome.ATTEMPT_OUTCOME_LOST);
});

test("other stops decide the outcome even over a clean exit", () => {
  for (const outcome of [AttemptOutcome.ATTEMPT_OUTCOME_CANCELED, AttemptOutcome.ATTEMPT_OUTCOME_TIMEOUT, AttemptOutcome.ATTEMPT_OUTCOME_PREEMPTED] as const) {
    assert.is(endedResult(end({ stop: { outcome, message: "" } })).outcome, outcome);
  }
});

test.run();
