// Task logs end to end (issue 17): a real master with auth on, a real agent process and the real
// CLI. `logs -f` follows a running task line by line (the task waits at a gate the test opens only
// after it saw the previous line), stderr stays separate, a finished task's log is read whole, a
// log removed for the agent's cap says so, another project's task is NOT_FOUND like a missing one,
// `submit --wait` prints the output while the task runs, and with the agent gone the stored tail
// comes with a line saying where the full log was.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createClient, type TaskgridClient, type TaskSpecInput } from "../../src/client/index.js";
import { Role, TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { Cli, gate } from "../helpers/log-follow.js";
import { Proc, runBin } from "../helpers/processes.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

interface Ctx {
  m: TestMaster;
  dir: string;
  agent: Proc;
  /** Project A's submitter and project B's viewer (CLI environments). */
  envA: Record<string, string>;
  envB: Record<string, string>;
  client: TaskgridClient;
}

const logs = suite<Ctx>("task logs");
const WORKER = "logs-w1";

logs.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), "taskgrid-logs-"));
  ctx.m = await startTestMaster({ auth: true, bootstrapTokenFile: join(ctx.dir, "admin-token") });
  const admin = createClient(ctx.m.address, { token: readFileSync(join(ctx.dir, "admin-token"), "utf8").trim() });
  try {
    const token = async (project: string, role: Role) => (await admin.createToken({ project, role })).secret;
    const [agentToken, submitterA, viewerB] = [await token("A", Role.ROLE_AGENT), await token("A", Role.ROLE_SUBMITTER), await token("B", Role.ROLE_VIEWER)];
    ctx.envA = { TASKGRID_MASTER: ctx.m.address, TASKGRID_TOKEN: submitterA };
    ctx.envB = { TASKGRID_MASTER: ctx.m.address, TASKGRID_TOKEN: viewerB };
    ctx.client = createClient(ctx.m.address, { token: submitterA });
    // Small caps, so that one test can reach them: 200 kB per stream, 300 kB in all.
    ctx.agent = new Proc(
      [
        "agent",
        "--master",
        ctx.m.address,
        "--id",
        WORKER,
        "--tags",
        "logs",
        "--state-dir",
        join(ctx.dir, "agent"),
        "--task-log-max-bytes",
        "200000",
        "--task-log-total-bytes",
        "300000",
      ],
      { TASKGRID_TOKEN: agentToken },
    );
    await ctx.agent.waitFor(/"registered"/);
  } finally {
    admin.close();
  }
});

logs.after(async (ctx) => {
  ctx.client?.close();
  await ctx.agent?.stop();
  await ctx.m?.cleanup();
  rmSync(ctx.dir, { recursive: true, force: true });
});

const spec = (script: string, args: string[] = []): TaskSpecInput => ({
  command: ["sh", "-c", script, "sh", ...args],
  requiredTags: ["logs"],
  resources: { cpuMillis: 100, memoryMib: 64 },
});

/** A FIFO the task blocks on (`read go < gate`) until the test writes a line: no sleeps on either side. */
async function waitState(client: TaskgridClient, taskId: string, state: TaskState): Promise<void> {
  for await (const e of client.watchTasks({ taskIds: [taskId] })) if (e.state === state) return;
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

logs("logs -f follows a running task line by line; stderr is separate; the finished log reads whole", async ({ client, dir, envA }) => {
  const one = gate(dir, "follow-1");
  const two = gate(dir, "follow-2");
  try {
    const script = 'echo line1; echo warn1 >&2; read go < "$1"; echo line2; read go < "$2"; echo line3; echo warn2 >&2';
    const { task } = await client.submitTask(spec(script, [one.path, two.path]));
    await waitState(client, task.id, TaskState.TASK_STATE_RUNNING);
    const follow = new Cli(["logs", "-f", task.id], envA);
    await follow.stdoutMatches(/line1\n/);
    assert.not.match(follow.stdout, /line2/, "line2 cannot exist before its gate opened");
    one.open();
    await follow.stdoutMatches(/line2\n/);
    assert.not.match(follow.stdout, /line3/);
    two.open();
    assert.is(await follow.exited, 0, follow.stderr);
    assert.is(follow.stdout, "line1\nline2\nline3\n", "stdout only, each line once");
    assert.not.match(follow.stderr, /warn/);

    // Finished: the whole log, each stream on its own or both (stderr data on stderr).
    await waitState(client, task.id, TaskState.TASK_STATE_SUCCEEDED);
    const out = await runBin(["logs", task.id], envA);
    assert.is(out.code, 0, out.stderr);
    assert.is(out.stdout, "line1\nline2\nline3\n");
    const err = await runBin(["logs", "--stderr", task.id], envA);
    assert.is(err.stdout, "warn1\nwarn2\n");
    const all = await runBin(["logs", "--all", "--attempt", "1", task.id], envA);
    assert.is(all.stdout, "line1\nline2\nline3\n");
    assert.is(all.stderr, "warn1\nwarn2\n");
    const tail = await runBin(["logs", "--tail", "2", task.id], envA);
    assert.is(tail.stdout, "line2\nline3\n");
    // The result says where the full log is.
    const done = await client.getTask(task.id);
    assert.ok(done.result?.logLocation?.startsWith(`${WORKER}:`), done.result?.logLocation);
    assert.ok(done.result?.logLocation?.endsWith(done.attempts[0]?.id ?? "?"), done.result?.logLocation);
  } finally {
    one.close();
    two.close();
  }
});

logs("submit --wait prints the output while the task runs, stdout to stdout and stderr to stderr", async ({ dir, envA }) => {
  const g = gate(dir, "submit");
  try {
    const submit = new Cli(
      [
        "submit",
        "--wait",
        "--tags",
        "logs",
        "--cpu",
        "100m",
        "--mem",
        "64",
        "--",
        "sh",
        "-c",
        'echo first; echo oops >&2; read go < "$1"; echo second',
        "sh",
        g.path,
      ],
      envA,
    );
    await submit.stdoutMatches(/first\n/);
    assert.not.match(submit.stdout, /second/, "printed before the task could print more");
    g.open();
    assert.is(await submit.exited, 0, submit.stderr);
    assert.is(submit.stdout, "first\nsecond\n", "live output, not repeated as a tail at the end");
    assert.is(count(submit.stderr, "oops\n"), 1);
  } finally {
    g.close();
  }
});

logs("another project's task is NOT_FOUND, exactly like a missing one", async ({ client, envB }) => {
  const { task } = await client.submitTask(spec("echo secret"));
  await waitState(client, task.id, TaskState.TASK_STATE_SUCCEEDED);
  const theirs = await runBin(["logs", task.id], envB);
  const missingId = "0190aaaa-0000-7000-8000-000000000000";
  const missing = await runBin(["logs", missingId], envB);
  assert.is.not(theirs.code, 0);
  assert.is(theirs.stdout, "");
  assert.match(theirs.stderr, /NOT_FOUND|not found/);
  assert.is(theirs.stderr, missing.stderr.replace(missingId, task.id));
});

logs("the per-attempt cap cuts with a marker; the per-agent cap removes the oldest log and a read says so", async ({ client, envA }) => {
  const big = (bytes: number) => spec(`${JSON.stringify(process.execPath)} -e 'process.stdout.write("x".repeat(${bytes}) + "\\n")'`);
  const { task: first } = await client.submitTask(big(150_000));
  await waitState(client, first.id, TaskState.TASK_STATE_SUCCEEDED);
  const whole = await runBin(["logs", first.id], envA);
  assert.is(whole.stdout.length, 150_001);
  const { task: second } = await client.submitTask(big(250_000));
  await waitState(client, second.id, TaskState.TASK_STATE_SUCCEEDED);
  const cut = await runBin(["logs", "--tail", "1", second.id], envA);
  assert.is(cut.stdout, "[taskgrid: output cut at 200000 bytes]\n");
  // 150 kB + 200 kB > 300 kB: the older attempt's files were removed (once the second one ended).
  const gone = await runBin(["logs", first.id], envA);
  assert.is.not(gone.code, 0);
  assert.match(gone.stderr, /was removed: this agent keeps at most 300000 bytes of logs/);
});

logs("with the agent gone: the stored tail and where the full log was", async (ctx) => {
  const { task } = await ctx.client.submitTask(spec("echo kept in the tail"));
  await waitState(ctx.client, task.id, TaskState.TASK_STATE_SUCCEEDED);
  const location = (await ctx.client.getTask(task.id)).result?.logLocation ?? "";
  assert.match(location, new RegExp(`^${WORKER}:`));
  await ctx.agent.stop();
  const r = await runBin(["logs", task.id], ctx.envA);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, "kept in the tail\n");
  assert.ok(r.stderr.includes(`the full log is at ${location}`), r.stderr);
});

logs.run();
