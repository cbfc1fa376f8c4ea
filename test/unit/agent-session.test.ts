// AgentSession with a fake stream and fake master parts: messages before `registered` wait for the
// registration; later reports are applied in arrival order without waiting for each other's commit,
// and a session with too many uncommitted reports pauses its stream until they commit.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { EventEmitter } from "node:events";
import { AgentSession, MAX_UNCOMMITTED, type SessionDeps } from "../../master/agent-session.js";
import { OPEN_ACCESS } from "../../src/core/access.js";
import type { AgentMessage, MasterMessage } from "../../src/gen/taskgrid/v1/worker_service.js";

class FakeCall extends EventEmitter {
  written: MasterMessage[] = [];
  paused = 0;
  resumed = 0;
  write(m: MasterMessage) {
    this.written.push(m);
    return true;
  }
  end() {}
  pause() {
    this.paused++;
    return this;
  }
  resume() {
    this.resumed++;
    return this;
  }
}

/** A promise with its resolve, for commits the test completes by hand. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

function setup() {
  const call = new FakeCall();
  const calls: string[] = [];
  const commits: Array<() => void> = [];
  const registration = gate();
  const report = (name: string) => (_worker: string, attemptId: string) => {
    calls.push(`${name} ${attemptId}`);
    const g = gate();
    commits.push(g.open);
    return g.promise;
  };
  const worker = { heartbeat: () => {}, agentDrains: async () => {}, sessionClosed: () => {} };
  const deps = {
    workers: {
      register: async () => (await registration.promise, { worker, epoch: 1, killAttemptIds: [], lostAttemptIds: [] }),
    },
    lifecycle: { attemptStarted: report("started"), attemptFinished: report("finished"), attemptProgress: report("progress") },
    clock: { now: () => 1000 },
    log: { info() {}, warn() {}, error() {}, debug() {} },
    heartbeatIntervalMs: 3000,
    leaseMs: 10_000,
    leaseGraceMs: 5_000,
  } as unknown as SessionDeps;
  const session = new AgentSession(call as never, deps, OPEN_ACCESS);
  const send = (body: AgentMessage["body"]) => call.emit("data", { body } as AgentMessage);
  return { call, calls, commits, registration, session, send };
}

const register: AgentMessage["body"] = {
  $case: "register",
  value: {
    workerId: "w1",
    hostname: "w1",
    tags: [],
    capacity: { cpuMillis: 1000, memoryMib: 1024, maxTasks: 1, gpus: [] },
    running: [],
    agentVersion: "t",
    instanceId: "i1",
  },
};
const ok = { outcome: 1, exitCode: 0, signal: "", outputTail: "", durationMs: 0, message: "" };
const started = (attemptId: string): AgentMessage["body"] => ({ $case: "started", value: { attemptId, pid: 1, startedAt: new Date(1) } });
const finished = (attemptId: string): AgentMessage["body"] => ({ $case: "finished", value: { attemptId, result: ok, finishedAt: new Date(2) } });
const settle = () => new Promise<void>((r) => setImmediate(r));

test("reports sent during registration wait for it, then apply in order without waiting for commits", async () => {
  const s = setup();
  s.send(register);
  s.send(started("a1"));
  s.send(finished("a1"));
  await settle();
  assert.equal(s.calls, [], "nothing is applied before the worker is registered");
  s.registration.open();
  await settle();
  assert.is(s.session.phase, "registered");
  // Both reports were applied although the first one's commit has not finished.
  assert.equal(s.calls, ["started a1", "finished a1"]);
  assert.is(s.call.written[0].body?.$case, "registered");
  s.commits.forEach((open) => open());
});

test("too many uncommitted reports pause the stream; it resumes once they commit", async () => {
  const s = setup();
  s.send(register);
  s.registration.open();
  await settle();
  for (let i = 0; i < MAX_UNCOMMITTED; i++) s.send(started(`a${i}`));
  await settle();
  assert.is(s.calls.length, MAX_UNCOMMITTED);
  assert.is(s.call.paused, 1);
  assert.is(s.call.resumed, 0);
  s.commits[0]();
  await settle();
  assert.is(s.call.resumed, 1);
  s.commits.slice(1).forEach((open) => open());
  await settle();
  assert.is(s.call.paused, 1);
});

test("a report that fails ends the session; later reports are not applied", async () => {
  const s = setup();
  s.send(register);
  s.registration.open();
  await settle();
  s.send({ $case: "started", value: { attemptId: "", pid: 1, startedAt: new Date(1) } }); // no attempt id: protocol error
  s.send(started("a2"));
  await settle();
  assert.is(s.session.phase, "closed");
  assert.equal(s.calls, []);
});

test.run();
