// The agent keeps every report until the master acknowledges it: after a reconnect it sends the
// unacknowledged ones again (same sequence numbers, in order) and lists attempts whose `finished`
// is unacknowledged in Register.running; `finished` reports survive a restart of the agent through
// the spool under its state dir. Against a fake master over real gRPC; no sleeps.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startAgent, type AgentHandle } from "../../agent/agent.js";
import { spooledAttemptIds } from "../../agent/finished-spool.js";
import { TaskSpec } from "../../src/gen/taskgrid/v1/task.js";
import { AttemptOutcome } from "../../src/gen/taskgrid/v1/types.js";
import { FakeMaster } from "../helpers/fake-master.js";
import { waitUntil } from "../helpers/task-watch.js";

const stateDir = mkdtempSync(join(tmpdir(), "agent-reports-"));
const agents: AgentHandle[] = [];
let master: FakeMaster;

test.before(async () => {
  master = await FakeMaster.start({ heartbeatIntervalMs: 50 });
});
test.after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await master.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

function launch(): AgentHandle {
  const agent = startAgent({
    master: master.address,
    workerId: "reports-1",
    maxTasks: 2,
    stateDir,
    stopAckWaitMs: 50,
    backoff: { baseMs: 10, capMs: 50 },
    log: () => {},
  });
  agents.push(agent);
  return agent;
}

function assign(attemptId: string) {
  return {
    $case: "assign" as const,
    value: { attemptId, taskId: `task-${attemptId}`, spec: TaskSpec.fromPartial({ command: ["true"] }), gpuIndexes: [], attemptNumber: 1, traceParent: "" },
  };
}

const spooled = () => spooledAttemptIds(stateDir);

test("unacknowledged reports go again after a reconnect; an ack removes them", async () => {
  launch();
  await master.next("register");
  master.send(assign("att-1"));
  const started = await master.next("started", (s) => s.attemptId === "att-1");
  const finished = await master.next("finished", (f) => f.attemptId === "att-1");
  assert.is(finished.result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
  assert.ok(started.seq > 0 && finished.seq > started.seq);
  assert.equal(spooled(), ["att-1"], "the finished report is on disk until acknowledged");

  master.endStreams(); // the stream dies before the master acknowledged anything
  const again = await master.next("register", () => true);
  assert.equal(
    again.running.map((r) => r.attemptId),
    ["att-1"],
    "ended but unacknowledged: still listed",
  );
  const resentStarted = await master.next("started", (s) => s.attemptId === "att-1");
  const resentFinished = await master.next("finished", (f) => f.attemptId === "att-1");
  assert.equal([resentStarted.seq, resentFinished.seq, resentFinished.session], [started.seq, finished.seq, 2]);
  assert.equal(resentFinished.result, finished.result);

  master.send({ $case: "ack", value: { seq: finished.seq } });
  await waitUntil(() => spooled().length === 0, "the report acknowledged in the spool");
  master.endStreams();
  const third = await master.next("register", () => true);
  assert.equal(third.running, [], "nothing owed any more");
});

test("a finished report survives a restart of the agent (spool)", async () => {
  const first = agents[0];
  master.send(assign("att-2"));
  const finished = await master.next("finished", (f) => f.attemptId === "att-2");
  await first.stop(); // no ack came: the report stays spooled
  assert.equal(spooled(), ["att-2"]);

  launch();
  const register = await master.next("register", (r) => r.running.some((a) => a.attemptId === "att-2"));
  assert.is(register.running.find((a) => a.attemptId === "att-2")!.taskId, "task-att-2");
  const resent = await master.next("finished", (f) => f.attemptId === "att-2");
  assert.is(resent.result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
  assert.equal(resent.result, finished.result);
  master.send({ $case: "ack", value: { seq: resent.seq } });
  await waitUntil(() => spooled().length === 0, "the report acknowledged in the spool");
});

test.run();
