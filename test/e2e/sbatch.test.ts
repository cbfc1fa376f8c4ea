// Job scripts end to end (issue 17): a Slurm user's script runs unchanged through `taskgrid sbatch`
// on a real master and a real agent process (12 fake GPUs from a fake nvidia-smi first on its PATH):
// it prints "Submitted batch job <id>", each array element writes its own -o file with %A_%a
// expanded, no more elements run at once than %N allows (from the attempts' own start and end
// times), and the submitter's environment and directory reach the script. A --wrap job with -D
// waits for the array (--dependency=afterok), and `taskgrid submit job.sh` reads #TASKGRID lines.
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createClient, type TaskgridClient } from "../../src/client/index.js";
import type { Task } from "../../src/gen/taskgrid/v1/task.js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { cpuCount } from "../../src/config/agent-settings.js";
import { BIN, Proc } from "../helpers/processes.js";
import { cancelActiveTasks, eventually } from "../helpers/task-watch.js";
import { runCli } from "../helpers/run-cli.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

const GPU_COUNT = 12;
const QUERY = "--query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu,pci.bus_id";
const FAKE_NVIDIA_SMI = `#!/bin/sh
[ "$1" = "${QUERY}" ] || { echo "fake nvidia-smi: unexpected arguments: $*" >&2; exit 2; }
cat <<'CSV'
${Array.from({ length: GPU_COUNT }, (_, i) => `${i}, GPU-00000000-0000-4000-8000-${String(i).padStart(12, "0")}, NVIDIA H100 80GB HBM3, 81559, 0, 0, 00000000:${(16 + i).toString(16)}:00.0`).join("\n")}
CSV
`;

// The user's script, as they would hand it to Slurm's sbatch.
const SLURM_SCRIPT = (array: string, sleep: string) => `#!/bin/bash
#SBATCH --array=${array} --gres=gpu:1 -t 10:00
#SBATCH --job-name=sweep
#SBATCH -o out/%A_%a.txt
echo "index=$SLURM_ARRAY_TASK_ID job=$SLURM_ARRAY_JOB_ID var=$MY_VAR dir=$(pwd) gpus=$CUDA_VISIBLE_DEVICES"
sleep ${sleep}
`;

// Each agent offers this machine's CPUs and a task takes one: enough agents that more tasks could
// run than the biggest cap (10), so the cap, not the CPUs, is what holds them back.
const AGENTS = Math.ceil(12 / cpuCount());

const e2e = suite<{ m: TestMaster; agents: Proc[]; client: TaskgridClient; dir: string }>("sbatch e2e");

e2e.before(async (ctx) => {
  ctx.m = await startTestMaster();
  ctx.dir = mkdtempSync(join(tmpdir(), "taskgrid-sbatch-"));
  const bin = join(ctx.dir, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "nvidia-smi"), FAKE_NVIDIA_SMI);
  chmodSync(join(bin, "nvidia-smi"), 0o755);
  ctx.agents = Array.from(
    { length: AGENTS },
    (_, i) => new Proc(["agent", "--master", ctx.m.address, "--id", `sbatch-${i}`], { PATH: `${bin}:${process.env.PATH}` }),
  );
  await Promise.all(ctx.agents.map((a) => a.waitFor(/"registered"/)));
  ctx.client = createClient(ctx.m.address);
});

e2e.after(async (ctx) => {
  await cancelActiveTasks(ctx.client);
  ctx.client.close();
  await Promise.all(ctx.agents.map((a) => a.stop()));
  await ctx.m.cleanup();
  rmSync(ctx.dir, { recursive: true, force: true });
});

/** The real CLI from `cwd` with `env` added to this process's environment, and `input` (or nothing) piped to its stdin. */
function cli(args: string[], cwd: string, env: Record<string, string>, input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  child.stdin.end(input ?? "");
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

/** Every element of the array once all have ended (polled: an array id is no task id to watch). */
async function endedElements(client: TaskgridClient, arrayId: string, count: number, timeoutMs: number): Promise<Task[]> {
  const listed = await eventually(
    async () => {
      const { tasks } = await client.listTasks({ arrayId, pageSize: 1000 });
      const ended = tasks.filter((t) => t.state >= TaskState.TASK_STATE_SUCCEEDED && t.state !== TaskState.TASK_STATE_PAUSED);
      return ended.length === count ? tasks : null;
    },
    `the ${count} elements of ${arrayId} to end`,
    timeoutMs,
  );
  // ListTasks carries the current attempt only; GetTask all of them.
  return Promise.all(listed.map((t) => client.getTask(t.id)));
}

/** The most attempts running at one instant, from their recorded start and end times. */
function mostAtOnce(tasks: Task[]): number {
  const edges = tasks
    .flatMap((t) => t.attempts)
    .flatMap((a) => [
      { at: a.startedAt!.getTime(), delta: 1 },
      { at: a.finishedAt!.getTime(), delta: -1 },
    ])
    .sort((x, y) => x.at - y.at || x.delta - y.delta); // an end and a start at the same ms: not overlapping
  let running = 0;
  let most = 0;
  for (const e of edges) most = Math.max(most, (running += e.delta));
  return most;
}

async function runArray(ctx: { m: TestMaster; client: TaskgridClient; dir: string }, name: string, array: string, count: number, cap: number, sleep: string) {
  const work = join(ctx.dir, name);
  mkdirSync(join(work, "out"), { recursive: true });
  writeFileSync(join(work, "job.sh"), SLURM_SCRIPT(array, sleep));
  const submitted = await cli(["sbatch", "job.sh"], work, { TASKGRID_MASTER: ctx.m.address, MY_VAR: "from the submitter's shell" });
  assert.is(submitted.code, 0, submitted.stderr);
  const id = /^Submitted batch job (\S+)\n$/.exec(submitted.stdout)?.[1];
  assert.ok(id, `sbatch printed ${JSON.stringify(submitted.stdout)}`);
  const tasks = await endedElements(ctx.client, id!, count, 30_000);
  assert.equal(
    tasks.filter((t) => t.state !== TaskState.TASK_STATE_SUCCEEDED).map((t) => [t.arrayIndex, t.result?.outputTail]),
    [],
  );
  assert.ok(
    tasks.every((t) => t.attempts.length === 1),
    "each element ran once",
  );
  const most = mostAtOnce(tasks);
  assert.ok(most <= cap, `at most ${cap} at once (saw ${most})`);
  assert.ok(most > 2, `elements ran side by side (saw ${most})`);
  for (const t of tasks) {
    const file = join(work, "out", `${id}_${t.arrayIndex}.txt`);
    const line = readFileSync(file, "utf8");
    const expected = `index=${t.arrayIndex} job=${id} var=from the submitter's shell dir=${work} gpus=`;
    assert.ok(line.includes(expected), `${file} holds ${JSON.stringify(line)}, not ${JSON.stringify(expected)}`);
    assert.is(t.spec!.resources!.gpuCount, 1);
    assert.is(t.spec!.timeoutMs, 600_000);
    assert.is(t.spec!.name, "sweep");
  }
  return { id: id!, work, tasks };
}

e2e("a Slurm array script runs unchanged: its -o files, its %N cap, the submitter's env and directory; a --wrap -D job after it", async (ctx) => {
  const { id, work, tasks } = await runArray(ctx, "small", "1-12%3", 12, 3, "0.4");
  assert.is(mostAtOnce(tasks), 3, "the first wave filled the cap"); // all queued at once, each runs 0.4 s
  assert.equal(
    tasks.map((t) => t.arrayIndex).sort((a, b) => a - b),
    Array.from({ length: 12 }, (_, i) => i + 1),
  );

  mkdirSync(join(work, "sub"));
  const after = await cli(["sbatch", "--parsable", `--dependency=afterok:${id}`, "-D", "sub", "--wrap", 'pwd > where.txt; echo "$SLURM_JOB_NAME"'], work, {
    TASKGRID_MASTER: ctx.m.address,
  });
  assert.is(after.code, 0, after.stderr);
  const afterId = after.stdout.trim();
  assert.match(afterId, /^[0-9a-f-]{36}$/);
  const done = await eventually(async () => {
    const t = await ctx.client.getTask(afterId);
    return t.state === TaskState.TASK_STATE_SUCCEEDED ? t : null;
  }, "the --wrap job to succeed");
  assert.is(readFileSync(join(work, "sub", "where.txt"), "utf8"), `${join(work, "sub")}\n`);
  assert.is(done.result?.outputTail, "wrap\n");
  const lastElementEnd = Math.max(...tasks.map((t) => t.attempts[0].finishedAt!.getTime()));
  assert.ok(done.attempts[0].startedAt!.getTime() >= lastElementEnd, "the dependent started after the whole array");
});

e2e("the issue's own array, 1-100%10", async (ctx) => {
  await runArray(ctx, "hundred", "1-100%10", 100, 10, "0.2");
});

e2e("taskgrid submit job.sh: #TASKGRID lines are its flags, the command line's replace them, args reach the script", async (ctx) => {
  const work = join(ctx.dir, "submit");
  mkdirSync(work);
  writeFileSync(
    join(work, "job.py"),
    "#!/usr/bin/env python3\n#TASKGRID --gpus 1 --label from=script --name py-job\n#TASKGRID --env GREETING=hi\nimport os, sys\nprint(os.environ['GREETING'], sys.argv[1:], os.environ.get('CUDA_VISIBLE_DEVICES', '') != '')\n",
  );
  const run = await cli(["submit", "--wait", "--name", "renamed", "job.py", "a b", "c"], work, { TASKGRID_MASTER: ctx.m.address });
  assert.is(run.code, 0, run.stderr);
  assert.is(run.stdout, "hi ['a b', 'c'] True\n");
  const id = /task (\S+) submitted/.exec(run.stderr)![1];
  const task = await ctx.client.getTask(id);
  assert.is(task.spec!.name, "renamed");
  assert.equal(task.spec!.labels, { from: "script" });
  assert.is(task.spec!.resources!.gpuCount, 1);

  writeFileSync(join(work, "bad.sh"), "#!/bin/sh\n#TASKGRID --gpus 1\n#TASKGRID --no-such-flag\necho\n");
  const bad = await cli(["submit", "bad.sh"], work, { TASKGRID_MASTER: ctx.m.address });
  assert.is(bad.code, 2);
  assert.match(bad.stderr, "bad.sh:3: unknown flag --no-such-flag");
  const { tasks } = await ctx.client.listTasks({ pageSize: 1000 });
  assert.not.ok(
    tasks.some((t) => t.spec!.command.includes("bad.sh")),
    "nothing submitted",
  );
});

e2e("a script piped to sbatch -W: waits for the whole array and exits with its highest exit code; get hides the env's values", async (ctx) => {
  const work = join(ctx.dir, "piped");
  mkdirSync(work);
  const env = { TASKGRID_MASTER: ctx.m.address, MY_SECRET: "hunter2" };
  const piped = await cli(
    ["sbatch", "-W", "--array=0-2"],
    work,
    env,
    '#!/bin/sh\n#SBATCH -t 1\n[ "$MY_SECRET" = hunter2 ] && echo the secret reached the script\nexit "$SLURM_ARRAY_TASK_ID"\n',
  );
  const id = /^Submitted batch job (\S+)\n$/.exec(piped.stdout)?.[1];
  assert.ok(id, `sbatch printed ${JSON.stringify(piped.stdout)} (stderr ${piped.stderr})`);
  assert.is(piped.code, 2, piped.stderr); // elements exit 0, 1, 2: the highest, known only once all ended
  assert.match(piped.stderr, new RegExp(`^job ${id}\\[1\\] FAILED \\(exit 1[^\\n]*\\)\\njob ${id}\\[2\\] FAILED \\(exit 2[^\\n]*\\)\\n$`));
  const { tasks } = await ctx.client.listTasks({ arrayId: id!, pageSize: 10 });
  assert.equal(tasks.map((t) => [t.arrayIndex, TaskState[t.state], t.spec!.name]).sort(), [
    [0, "TASK_STATE_SUCCEEDED", "sbatch"],
    [1, "TASK_STATE_FAILED", "sbatch"],
    [2, "TASK_STATE_FAILED", "sbatch"],
  ]);

  // One task: its own exit code; a dependent whose dependency can no longer be met ends CANCELED: 130, with why.
  const single = await cli(["sbatch", "--wait", "--wrap", "exit 7"], work, env);
  assert.is(single.code, 7, single.stderr);
  assert.match(single.stdout, /^Submitted batch job \S+\n$/);
  const dependent = await cli(["sbatch", "-W", `--dependency=afterok:${id}`, "--wrap", "true"], work, env);
  assert.is(dependent.code, 130, dependent.stderr);
  assert.match(dependent.stderr, /^job \S+ CANCELED \(.+\)\n$/);

  // get: how many variables and their names, no value; --env and --json: the values.
  const element = tasks.find((t) => t.arrayIndex === 0)!;
  const count = Object.keys(element.spec!.env).length;
  assert.ok(count > 5, `the submitter's environment was exported (${count} variables)`);
  const shown = await runCli(["get", element.id], { TASKGRID_MASTER: ctx.m.address });
  assert.is(shown.code, 0, shown.err);
  assert.match(shown.out, new RegExp(`\\nEnv: +${count} variables \\(values hidden, get --env shows them\\): `));
  assert.not.match(shown.out, "hunter2");
  assert.match(shown.out, "Output (tail):\n  the secret reached the script\n");
  const values = await runCli(["get", "--env", element.id], { TASKGRID_MASTER: ctx.m.address });
  assert.match(values.out, "\n  MY_SECRET=hunter2\n");
  const json = await runCli(["get", "--json", element.id], { TASKGRID_MASTER: ctx.m.address });
  assert.is(JSON.parse(json.out).spec.env.MY_SECRET, "hunter2");
});

e2e.run();
