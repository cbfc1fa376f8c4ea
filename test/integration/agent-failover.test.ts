// The agent with several masters (HA): it follows a standby's leader hint, goes round robin
// through its list on other failures, refuses a deposed leader (a `registered` with an older
// leadership epoch than one already seen) without acting on anything it sent, and keeps its
// running attempts through a change of leader. Fake masters over real gRPC on loopback; tests
// wait on events, never on fixed sleeps.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { AgentConfigError, resolveAgentConfig } from "../../agent/agent-config.js";
import { startAgent, type AgentHandle, type AgentOptions } from "../../agent/agent.js";
import { TaskSpec } from "../../src/gen/taskgrid/v1/task.js";
import { AttemptOutcome } from "../../src/gen/taskgrid/v1/types.js";
import { FakeMaster, type FakeMasterOptions, type RefusalStatus } from "../helpers/fake-master.js";

const work = mkdtempSync(join(tmpdir(), "agent-failover-"));
const agents: AgentHandle[] = [];
const masters: FakeMaster[] = [];

type LogLine = Record<string, unknown>;
const SAFETY_TIMEOUT_MS = 15_000;

/** The agent's log lines with waiters: `waitFor` resolves on the first matching line (past or future). */
class LogLines {
  readonly seen: LogLine[] = [];
  private waiters: Array<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  push(line: LogLine): void {
    this.seen.push(line);
    this.waiters = this.waiters.filter((w) => (w.match(line) ? (w.resolve(line), false) : true));
  }
  /** Fails after a safety timeout (never a timing assertion): a missing line fails the test, not the run. */
  waitFor(match: (l: LogLine) => boolean, what = "an expected log line"): Promise<LogLine> {
    const hit = this.seen.find(match);
    if (hit !== undefined) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`agent log: no ${what}`)), SAFETY_TIMEOUT_MS);
      this.waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  }
}

function launch(master: string, extra: Partial<AgentOptions> = {}) {
  const logs = new LogLines();
  const agent = startAgent({
    master,
    workerId: "failover-1",
    maxTasks: 2,
    backoff: { baseMs: 10, capMs: 100 },
    leaderHintDelayMs: 5,
    stopGraceMs: 1_000,
    log: (line) => logs.push(JSON.parse(line)),
    ...extra,
  });
  agents.push(agent);
  return { agent, logs };
}

async function startMaster(options: FakeMasterOptions = {}): Promise<FakeMaster> {
  const master = await FakeMaster.start({ heartbeatIntervalMs: 20, ...options });
  masters.push(master);
  return master;
}

const standbyOf = (leader: FakeMaster | null): RefusalStatus => ({
  code: status.UNAVAILABLE,
  details: leader ? `this master is a standby; the leader is at ${leader.address}` : "this master is a standby and no leader is known right now; retry shortly",
  leader: leader?.address,
});

function assign(attemptId: string, command: string[]) {
  return {
    $case: "assign" as const,
    value: { attemptId, taskId: `task-of-${attemptId}`, spec: TaskSpec.fromPartial({ command }), gpuIndexes: [], attemptNumber: 1, traceParent: "" },
  };
}

const registeredOn = (m: FakeMaster, epoch?: number) => (l: LogLine) =>
  l.message === "registered" && l.master === m.address && (epoch === undefined || l.epoch === epoch);

test.after.each(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await Promise.all(masters.splice(0).map((m) => m.stop()));
});
test.after(() => rmSync(work, { recursive: true, force: true }));

test("given standby,leader: the standby's hint leads to the leader", async () => {
  const leader = await startMaster({ epoch: 2 });
  const standby = await startMaster({ refuseWith: standbyOf(leader) });
  const { agent, logs } = launch(`${standby.address},${leader.address}`);
  const register = await leader.next("register");
  assert.is(register.workerId, "failover-1");
  await agent.ready;
  assert.is(standby.refused, 1);
  assert.is(standby.sessions, 0);
  const followed = await logs.waitFor((l) => l.message === "master is not the leader; following its leader hint");
  assert.equal([followed.master, followed.next, followed.why], [standby.address, leader.address, "leader hint"]);
  await logs.waitFor(registeredOn(leader, 2));
});

test("given only a standby: its hint leads to a leader not in the list", async () => {
  const leader = await startMaster();
  const standby = await startMaster({ refuseWith: standbyOf(leader) });
  const { agent, logs } = launch(standby.address);
  await leader.next("register");
  await agent.ready;
  assert.is(agent.phase(), "registered");
  await logs.waitFor(registeredOn(leader, 0));
  // The leader steps down without naming a successor: the agent goes back to its list.
  const again = standby.refused;
  leader.refuseWith = standbyOf(null);
  leader.endStreams(standbyOf(null));
  await standby.refusedAtLeast(again + 1);
});

test("two standbys naming each other: the loop backs off, and ends when one becomes leader", async () => {
  const s1 = await startMaster({ epoch: 4 });
  const s2 = await startMaster({ epoch: 4 });
  s1.refuseWith = standbyOf(s2);
  s2.refuseWith = standbyOf(s1);
  const { agent, logs } = launch(s1.address);
  const loop = await logs.waitFor((l) => typeof l.why === "string" && l.why.includes("hint loop"));
  assert.ok(loop.next === s1.address || loop.next === s2.address);
  s2.refuseWith = null; // elected
  await s2.next("register");
  await agent.ready;
  await logs.waitFor(registeredOn(s2, 4));
});

test("a deposed leader (older epoch) is refused and nothing it sends is acted on; a newer one is accepted", async () => {
  const ran = join(work, "deposed-ran");
  const a = await startMaster({ epoch: 5 });
  const b = await startMaster({ epoch: 3, afterRegistered: () => [assign("att-deposed", ["sh", "-c", `echo ran >> '${ran}'`])] });
  const { agent, logs } = launch(`${a.address},${b.address}`);
  await a.next("register");
  await agent.ready;
  await logs.waitFor(registeredOn(a, 5));

  const portA = a.port;
  await a.stop(); // only B (epoch 3) is reachable now
  const refusal = await logs.waitFor((l) => String(l.message).startsWith("refused a deposed leader"), "refusal of the deposed leader");
  assert.equal([refusal.master, refusal.epoch, refusal.highestEpoch], [b.address, 3, 5]);
  assert.ok(b.sessions >= 1);

  const c = await startMaster({ port: portA, epoch: 6 });
  const register = await c.next("register");
  assert.equal(register.running, [], "the deposed leader's assignment never ran");
  await logs.waitFor(registeredOn(c, 6));
  // Reports owed from earlier sessions go before the first heartbeat: none of B's assignment.
  await c.next("heartbeat");
  assert.equal(agent.runningAttempts(), []);
  for (const m of [b, c]) {
    assert.equal(m.all("started"), []);
    assert.equal(m.all("finished"), []);
  }
  assert.equal(b.all("heartbeat"), [], "no heartbeat to the deposed leader");
  assert.not.ok(existsSync(ran), "the command was never run");
  assert.not.ok(
    logs.seen.some((l) => l.message === "registered" && l.master === b.address),
    "never registered with the deposed leader",
  );
});

test("a running attempt survives a change of leader: re-listed on the new leader, never killed", async () => {
  const executions = join(work, "executions");
  const go = join(work, "go");
  const a = await startMaster({ epoch: 1 });
  const b = await startMaster({ epoch: 2 });
  const { agent, logs } = launch(`${a.address},${b.address}`);
  await agent.ready;
  a.send(assign("att-run", ["sh", "-c", `echo run >> '${executions}'; while [ ! -e '${go}' ]; do sleep 0.02; done`]));
  const started = await a.next("started", (s) => s.attemptId === "att-run");

  // A steps down and names B, as a leader that lost its term does.
  a.refuseWith = standbyOf(b);
  a.endStreams(standbyOf(b));
  const register = await b.next("register");
  assert.equal(
    register.running.map((r) => [r.attemptId, r.taskId]),
    [["att-run", "task-of-att-run"]],
  );
  await logs.waitFor(registeredOn(b, 2));
  const followed = await logs.waitFor((l) => l.message === "master is not the leader; following its leader hint");
  assert.equal([followed.master, followed.next], [a.address, b.address]);
  assert.equal(agent.runningAttempts(), ["att-run"]);

  writeFileSync(go, "");
  const finished = await b.next("finished", (f) => f.attemptId === "att-run");
  assert.is(finished.result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
  assert.is((await b.next("started", (s) => s.attemptId === "att-run")).seq, started.seq, "the unacknowledged started report went again");
  assert.is(readFileSync(executions, "utf8"), "run\n", "the command ran exactly once");
});

test("master lists: parsed and validated", () => {
  assert.equal(resolveAgentConfig({ master: "a:1, b:2 ,c:3" }).masters, ["a:1", "b:2", "c:3"]);
  assert.equal(resolveAgentConfig({ master: "a:1" }).masters, ["a:1"]);
  for (const bad of ["a:1,,b:2", "a:1,", ",a:1", " , ", ""]) {
    assert.throws(
      () => resolveAgentConfig({ master: bad }),
      (e: unknown) => e instanceof AgentConfigError && e.option === "master",
      bad,
    );
  }
  assert.throws(() => resolveAgentConfig({ master: "a:1,,b:2" }), /agent option master has an empty address/);
});

test.run();
