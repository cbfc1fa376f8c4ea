// `taskgrid logs -f` across its agent's stream reconnecting (issue 17): a real master, a real agent
// process whose stream runs through a TCP proxy, and the real CLI. The task prints numbered lines,
// each only when the test lets it; the proxy drops the agent's connection mid-follow and refuses
// new ones while the task goes on printing into the agent's log file. The master holds the follow
// until the agent is back and resumes from the offset it had passed on: every line is printed
// exactly once and in order, and the follow ends when the task does.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createClient, type TaskgridClient } from "../../src/client/index.js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { Cli, expectedLines, gate, numberedLines } from "../helpers/log-follow.js";
import { Proc } from "../helpers/processes.js";
import { TaskEvents, waitUntil } from "../helpers/task-watch.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

interface Ctx {
  m: TestMaster;
  dir: string;
  proxy: TcpProxy;
  agent: Proc;
  client: TaskgridClient;
}

const follow = suite<Ctx>("logs -f across the agent's reconnect");
const REGISTERED = /"message":"registered"/g;
const STREAM_CLOSED = /"message":"master stream closed; reconnecting"/;

follow.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), "taskgrid-follow-"));
  ctx.m = await startTestMaster();
  ctx.proxy = await startTcpProxy(ctx.m.address);
  ctx.agent = new Proc(["agent", "--master", ctx.proxy.address, "--id", "follow-w1", "--tags", "follow", "--state-dir", join(ctx.dir, "agent")]);
  await ctx.agent.waitFor(REGISTERED);
  ctx.client = createClient(ctx.m.address);
});

follow.after(async (ctx) => {
  ctx.client?.close();
  await ctx.agent?.stop();
  await ctx.proxy?.stop();
  await ctx.m?.cleanup();
  rmSync(ctx.dir, { recursive: true, force: true });
});

const registrations = (agent: Proc) => agent.output.match(REGISTERED)?.length ?? 0;

follow("the agent's stream drops mid-follow: every line once, in order, and the follow ends with the task", async ({ m, dir, proxy, agent, client }) => {
  const N = 12;
  const g = gate(dir, "lines");
  try {
    const { task } = await client.submitTask({ command: numberedLines(N, g.path), requiredTags: ["follow"], resources: { cpuMillis: 100, memoryMib: 64 } });
    const events = new TaskEvents(client, [task.id]);
    try {
      await events.state(TaskState.TASK_STATE_RUNNING);
      const logs = new Cli(["logs", "-f", task.id], { TASKGRID_MASTER: m.address });
      await logs.stdoutHasLine("line 1");
      g.open(2);
      await logs.stdoutHasLine("line 3");

      // The agent's stream is cut, and it cannot come back until the proxy resumes.
      const before = registrations(agent);
      proxy.pause();
      proxy.dropAll();
      await agent.waitFor(STREAM_CLOSED);
      const relay = m.master.term!.registry.logs;
      await waitUntil(() => relay.waitingReads === 1, "the follow waits for the agent to come back");
      // The task goes on: lines 4..8 reach the agent's log file while its stream is down.
      g.open(5);
      const attemptId = (await client.getTask(task.id)).attempts[0].id;
      const stdoutFile = join(dir, "agent", "logs", attemptId, "stdout");
      await waitUntil(() => readFileSync(stdoutFile, "utf8").endsWith("line 8\n"), "the task printed line 8");
      assert.is(logs.stdout, expectedLines(3), "nothing more could arrive while the agent was away");
      assert.is(logs.child.exitCode, null, "the follow is still open");

      proxy.resume();
      await waitUntil(() => registrations(agent) > before, "the agent registered again");
      await logs.stdoutHasLine("line 8");
      g.open(N - 8);
      assert.is(await logs.exited, 0, logs.stderr);
      assert.is(logs.stdout, expectedLines(N), "every line exactly once, in order");
      assert.is(logs.stderr, "", "no notice: the whole output was followed");
      await events.state(TaskState.TASK_STATE_SUCCEEDED);
      assert.is(relay.openReads, 0);
      assert.is(relay.waitingReads, 0);
      assert.is(m.logs.filter((l) => l.includes("log follow waits for the agent to reconnect")).length, 1);
      assert.ok(proxy.connectionsForwarded >= 2);
    } finally {
      events.close();
    }
  } finally {
    g.close();
  }
});

follow("the agent does not come back: the follow ends with a notice, repeating nothing", async ({ dir }) => {
  // A master of its own with fast liveness: the worker is OFFLINE (its attempt LOST) 2 s after it went silent.
  const m = await startTestMaster({ suspectAfterMs: 1000, offlineAfterMs: 2000, livenessTickMs: 100, heartbeatIntervalMs: 300 });
  const proxy = await startTcpProxy(m.address);
  const agent = new Proc(["agent", "--master", proxy.address, "--id", "follow-w2", "--tags", "gone", "--state-dir", join(dir, "agent-2")]);
  const client = createClient(m.address);
  const g = gate(dir, "gone");
  try {
    await agent.waitFor(REGISTERED);
    const { task } = await client.submitTask({ command: numberedLines(5, g.path), requiredTags: ["gone"], resources: { cpuMillis: 100, memoryMib: 64 } });
    const logs = new Cli(["logs", "-f", task.id], { TASKGRID_MASTER: m.address });
    await logs.stdoutHasLine("line 1");
    g.open();
    await logs.stdoutHasLine("line 2");
    proxy.pause();
    proxy.dropAll();
    assert.is(await logs.exited, 0, logs.stderr);
    assert.is(logs.stdout, expectedLines(2), "what was followed, once: no stored tail repeated after it");
    assert.match(
      logs.stderr,
      /^\[taskgrid: the agent of worker follow-w2 disconnected.*: the rest of the output cannot be sent; the full log, if any, is on worker follow-w2\]\n$/,
    );
    assert.is(m.master.term!.registry.logs.waitingReads, 0);
  } finally {
    g.close();
    client.close();
    await agent.stop();
    await proxy.stop();
    await m.cleanup();
  }
});

follow.run();
