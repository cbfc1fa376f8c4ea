// End to end, things going wrong (DESIGN §9): an agent killed with SIGKILL while its task runs, the
// master restarted under a running task, and the agent's stream dropped by a TCP proxy (with the
// task finishing while the agent is cut off). Real master, real agent processes, real tasks.
//
// No sleeps: every wait is on an agent's output line, a WatchTasks event or a promise. Tasks that
// must still be running at some point wait on a gate file the test creates when it is ready, so
// no step depends on how long anything takes. Each task writes its pid (= its process group, the
// agent starts it with setsid) so cleanup can kill whatever a killed agent left behind.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createClient, type TaskgridClient } from "../../src/client/index.js";
import { AttemptOutcome, TaskState, WorkerStatus } from "../../src/gen/taskgrid/v1/types.js";
import { Proc } from "../helpers/processes.js";
import { TaskEvents } from "../helpers/task-watch.js";
import { freePort, startTcpProxy } from "../helpers/tcp-proxy.js";
import { createTestDatabase, startTestMaster, type TestMaster } from "../helpers/test-master.js";

interface Ctx {
  /** Run in reverse order after each test, whatever happened. */
  cleanups: Array<() => Promise<void> | void>;
  dir: string;
}

const failures = suite<Ctx>("agent failures e2e");

failures.before.each((ctx) => {
  ctx.cleanups = [];
  ctx.dir = mkdtempSync(join(tmpdir(), "taskgrid-failures-"));
  const dir = ctx.dir;
  ctx.cleanups.push(() => {
    // Kill any task process group still alive (a SIGKILLed agent's orphan), then remove the files.
    for (const name of readdirSync(dir).filter((n) => n.endsWith(".pid"))) {
      const pid = Number(readFileSync(join(dir, name), "utf8").trim());
      if (pid > 0) killGroup(pid);
    }
    rmSync(dir, { recursive: true, force: true });
  });
});

failures.after.each(async (ctx) => {
  const errors: unknown[] = [];
  for (const cleanup of ctx.cleanups.reverse()) {
    try {
      await cleanup();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length > 0) throw errors[0];
});

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

/** Fast liveness for tests: SUSPECT after 1 s, OFFLINE after 2 s, checked every 100 ms. */
const FAST_LIVENESS = { suspectAfterMs: 1000, offlineAfterMs: 2000, livenessTickMs: 100, heartbeatIntervalMs: 300 };

async function master(ctx: Ctx, options: Parameters<typeof startTestMaster>[0] = {}, db?: TestMaster["db"]): Promise<TestMaster> {
  const m = await startTestMaster(options, db);
  ctx.cleanups.push(() => (db ? m.stop() : m.cleanup()));
  return m;
}

function agent(ctx: Ctx, address: string, id: string, tag: string): Proc {
  const proc = new Proc(["agent", "--master", address, "--id", id, "--tags", tag]);
  ctx.cleanups.push(async () => void (await proc.stop()));
  return proc;
}

function client(ctx: Ctx, address: string): TaskgridClient {
  const c = createClient(address);
  ctx.cleanups.push(() => c.close());
  return c;
}

/**
 * A task that writes its pid, waits until the gate file exists, then prints `ok`. Opening the gate
 * is the test's decision, so the task is provably still running at every step before it.
 */
function gatedTask(ctx: Ctx, tag: string, maxRetries = 0) {
  const gate = join(ctx.dir, "gate");
  ctx.cleanups.push(() => writeFileSync(gate, "")); // Never leave a task waiting (agents drain on SIGTERM).
  return {
    spec: {
      command: ["sh", "-c", `echo $$ > "${ctx.dir}/$TASKGRID_ATTEMPT_ID.pid"; while [ ! -e "${gate}" ]; do sleep 0.02; done; echo ok`],
      requiredTags: [tag],
      maxRetries,
    },
    open: () => writeFileSync(gate, ""),
  };
}

function watch(ctx: Ctx, c: TaskgridClient, taskId: string): TaskEvents {
  const log = new TaskEvents(c, [taskId]);
  ctx.cleanups.push(() => log.close());
  return log;
}

/** Matches the `n`-th occurrence of `pattern` in a process's output. */
function nth(pattern: RegExp, n: number): RegExp {
  return new RegExp(Array.from({ length: n }, () => `(?:${pattern.source})`).join("[\\s\\S]*"));
}

const REGISTERED = /"message":"registered"/;
const STREAM_CLOSED = /"message":"master stream closed; reconnecting"/;

failures("kill -9 of an agent while its task runs: LOST after the OFFLINE threshold, retried and SUCCEEDED on the other agent", async (ctx) => {
  const m = await master(ctx, FAST_LIVENESS);
  const agents = new Map([
    ["fa-1", agent(ctx, m.address, "fa-1", "fail")],
    ["fa-2", agent(ctx, m.address, "fa-2", "fail")],
  ]);
  await Promise.all([...agents.values()].map((a) => a.waitFor(REGISTERED)));
  const c = client(ctx, m.address);
  const task = gatedTask(ctx, "fail", 1);
  const { task: submitted } = await c.submitTask(task.spec);
  const taskId = submitted!.id;
  const events = watch(ctx, c, taskId);

  await events.state(TaskState.TASK_STATE_RUNNING);
  const running = await c.getTask(taskId);
  const first = running.attempts[0];
  const victimId = first.workerId;
  const survivorId = victimId === "fa-1" ? "fa-2" : "fa-1";
  const victim = agents.get(victimId)!;
  const killedAtMs = Date.now();
  victim.child.kill("SIGKILL");
  await victim.exited;

  // The master only learns of the death from missing heartbeats: LOST at OFFLINE, then requeued.
  const requeued = await events.untilTimed((e) => e.state === TaskState.TASK_STATE_QUEUED && e.attemptId === first.id);
  console.log(
    `  kill -9 -> task requeued: ${requeued.atMs - killedAtMs} ms (offlineAfterMs ${FAST_LIVENESS.offlineAfterMs}, livenessTickMs ${FAST_LIVENESS.livenessTickMs})`,
  );
  const offline = await c.getWorker(victimId);
  assert.is(offline.status, WorkerStatus.WORKER_STATUS_OFFLINE);

  await events.until((e) => e.state === TaskState.TASK_STATE_RUNNING && e.attemptId !== first.id);
  task.open();
  await events.state(TaskState.TASK_STATE_SUCCEEDED);

  const done = await c.getTask(taskId);
  assert.is(done.state, TaskState.TASK_STATE_SUCCEEDED);
  assert.is(done.attempts.length, 2);
  const [a1, a2] = done.attempts;
  assert.is(a1.workerId, victimId);
  assert.is(a1.result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_LOST);
  assert.is(a2.workerId, survivorId);
  assert.is(a2.result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
  assert.is(done.attempts.filter((a) => a.result?.outcome === AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED).length, 1);
  assert.match(done.result!.outputTail, /ok\n/);
  const stored = await m.master.store.getEvents(taskId);
  assert.is(stored.filter((e) => e.state === "SUCCEEDED").length, 1);
});

failures("master restart while a task runs: the agent reconnects, re-adopts it, and its result is stored once", async (ctx) => {
  const listen = `127.0.0.1:${await freePort()}`;
  const db = await createTestDatabase();
  ctx.cleanups.push(() => db.drop()); // After both masters stopped (cleanups run in reverse).
  const a = await master(ctx, { listen }, db);
  const proc = agent(ctx, listen, "fr-1", "restart");
  await proc.waitFor(REGISTERED);
  const ca = client(ctx, listen);
  const task = gatedTask(ctx, "restart");
  const { task: submitted } = await ca.submitTask(task.spec);
  const taskId = submitted!.id;
  const eventsA = watch(ctx, ca, taskId);
  await eventsA.state(TaskState.TASK_STATE_RUNNING);
  const attemptId = (await ca.getTask(taskId)).attempts[0].id;

  await a.stop();
  await proc.waitFor(STREAM_CLOSED);
  const startingAtMs = Date.now();
  const b = await master(ctx, { listen }, db);
  const listeningAtMs = Date.now();
  await proc.waitFor(nth(REGISTERED, 2));
  const reconnectedAtMs = Date.now();
  console.log(`  master B listening -> agent re-registered: ${reconnectedAtMs - listeningAtMs} ms (master B start took ${listeningAtMs - startingAtMs} ms)`);
  assert.ok(
    b.logs.some((l) => /"worker registered".*"worker":"fr-1".*"readopted":1,"lost":0,"killed":0/.test(l)),
    "master B re-adopted the running attempt",
  );

  const cb = client(ctx, listen);
  const eventsB = watch(ctx, cb, taskId);
  task.open();
  await eventsB.state(TaskState.TASK_STATE_SUCCEEDED);

  const done = await cb.getTask(taskId);
  assert.is(done.state, TaskState.TASK_STATE_SUCCEEDED);
  assert.is(done.attempts.length, 1);
  assert.is(done.attempts[0].id, attemptId);
  assert.is(done.attempts[0].result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
  assert.match(done.result!.outputTail, /ok\n/);
  const stored = await b.master.store.getEvents(taskId);
  assert.is(stored.filter((e) => e.state === "SUCCEEDED").length, 1);
  assert.is(stored.filter((e) => e.state === "QUEUED").length, 1, "never requeued");
});

failures("stream dropped while a task runs: the agent reconnects through the proxy and the attempt stays the one current attempt", async (ctx) => {
  const m = await master(ctx, { heartbeatIntervalMs: 300 });
  const proxy = await startTcpProxy(m.address);
  ctx.cleanups.push(() => proxy.stop());
  const proc = agent(ctx, proxy.address, "fd-1", "drop");
  await proc.waitFor(REGISTERED);
  const c = client(ctx, m.address);
  const task = gatedTask(ctx, "drop");
  const { task: submitted } = await c.submitTask(task.spec);
  const taskId = submitted!.id;
  const events = watch(ctx, c, taskId);
  await events.state(TaskState.TASK_STATE_RUNNING);

  proxy.dropAll();
  await proc.waitFor(STREAM_CLOSED);
  await proc.waitFor(nth(REGISTERED, 2));
  assert.ok(
    m.logs.some((l) => /"worker registered".*"worker":"fd-1".*"readopted":1,"lost":0,"killed":0/.test(l)),
    "the master re-adopted the running attempt",
  );
  assert.ok(proxy.connectionsForwarded >= 2);

  task.open();
  await events.state(TaskState.TASK_STATE_SUCCEEDED);
  const done = await c.getTask(taskId);
  assert.is(done.attempts.length, 1);
  assert.is(done.attempts[0].result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
  assert.match(done.result!.outputTail, /ok\n/);
  const worker = await c.getWorker("fd-1");
  assert.is(worker.status, WorkerStatus.WORKER_STATUS_ONLINE);
});

failures("task finishes while the stream is down: the buffered result is delivered after reconnect", async (ctx) => {
  const m = await master(ctx, { heartbeatIntervalMs: 300 });
  const proxy = await startTcpProxy(m.address);
  ctx.cleanups.push(() => proxy.stop());
  const proc = agent(ctx, proxy.address, "fb-1", "buffer");
  await proc.waitFor(REGISTERED);
  const c = client(ctx, m.address);
  const task = gatedTask(ctx, "buffer");
  const { task: submitted } = await c.submitTask(task.spec);
  const taskId = submitted!.id;
  const events = watch(ctx, c, taskId);
  await events.state(TaskState.TASK_STATE_RUNNING);
  const attemptId = (await c.getTask(taskId)).attempts[0].id;

  // Cut the agent off and keep it off (reconnects are refused) until its task has finished.
  proxy.pause();
  proxy.dropAll();
  await proc.waitFor(STREAM_CLOSED);
  task.open();
  await proc.waitFor(new RegExp(`"attempt finished".*"${attemptId}".*SUCCEEDED"`));
  const meanwhile = await c.getTask(taskId);
  assert.is(meanwhile.state, TaskState.TASK_STATE_RUNNING, "the master cannot know yet");
  assert.is(proc.output.match(new RegExp(REGISTERED.source, "g"))!.length, 1, "still cut off");

  proxy.resume();
  await events.state(TaskState.TASK_STATE_SUCCEEDED);
  await proc.waitFor(nth(REGISTERED, 2));
  const done = await c.getTask(taskId);
  assert.is(done.attempts.length, 1);
  assert.is(done.attempts[0].id, attemptId);
  assert.is(done.attempts[0].result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
  assert.match(done.result!.outputTail, /ok\n/);
  const stored = await m.master.store.getEvents(taskId);
  assert.is(stored.filter((e) => e.state === "SUCCEEDED").length, 1);
  assert.ok(
    m.logs.some((l) => /"worker registered".*"worker":"fb-1".*"readopted":1,"lost":0,"killed":0/.test(l)),
    "kept current until the buffered result arrived",
  );
  assert.is((await c.getWorker("fb-1")).status, WorkerStatus.WORKER_STATUS_ONLINE);
});

failures.run();
