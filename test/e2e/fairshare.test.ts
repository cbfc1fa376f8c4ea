// The noisy neighbour (issue 15), end to end with a real agent process and real commands, at a
// small size: project A fills the queue, project B submits a few tasks once A runs. Under the
// multifactor ordering (the default) B's tasks start at the next slots that free up; under
// priority-FIFO they wait behind every queued task of A. Start order is read from the attempts'
// started_at times; what counts is the order, not the seconds.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createClient, type TaskgridClient } from "../../src/client/index.js";
import type { Task } from "../../src/gen/taskgrid/v1/task.js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { Proc } from "../helpers/processes.js";
import { call, rawClients } from "../helpers/grpc-clients.js";
import { eventually } from "../helpers/task-watch.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

const SLOTS = 4;
const A_TASKS = 40;
const B_TASKS = 4;

const nn = suite<{ m: TestMaster; agent: Proc; client: TaskgridClient }>("noisy neighbour e2e");
nn.after.each(async (ctx) => {
  ctx.client?.close();
  await ctx.agent?.stop();
  await ctx.m?.cleanup();
});

async function cluster(ctx: { m: TestMaster; agent: Proc; client: TaskgridClient }, ordering: "multifactor" | "priority"): Promise<void> {
  ctx.m = await startTestMaster({ ordering, usageTickMs: 50 });
  ctx.agent = new Proc(["agent", "--master", ctx.m.address, "--id", `nn-${ordering}`, "--tags", "nn", "--max-tasks", String(SLOTS)]);
  await ctx.agent.waitFor(/"registered"/);
  ctx.client = createClient(ctx.m.address);
}

const spec = (project: string, i: number) => ({
  name: `${project}-${i}`,
  project,
  command: ["sleep", "0.2"],
  requiredTags: ["nn"],
  resources: { cpuMillis: 10 },
});

/** Submits A's flood, waits until A runs and has been charged usage, then submits B's tasks. */
async function scenario(client: TaskgridClient, address: string): Promise<{ a: Task[]; b: Task[]; bSubmittedAt: number }> {
  const aIds = await client.submitTasks(Array.from({ length: A_TASKS }, (_, i) => spec("team-a", i)));
  const running = await eventually(async () => {
    const { tasks } = await client.listTasks({ project: "team-a", states: [TaskState.TASK_STATE_RUNNING] });
    return tasks.length === SLOTS && tasks;
  }, "A fills every slot");
  // ListTasks carries where each one runs (its current attempt): `taskgrid ls` shows the worker.
  assert.ok(
    running.every((t) => t.attempts.length === 1 && t.attempts[0].workerId.startsWith("nn-")),
    "each running task names its worker",
  );
  // A's usage has been charged (ticks every 50 ms), so its fair-share factor is below B's 1.
  const raw = rawClients(address);
  try {
    await eventually(async () => {
      const { projects } = await call(raw.admin, "getShares", {});
      return projects.some((p: { project: string; fairShareFactor: number }) => p.project === "team-a" && p.fairShareFactor < 1);
    }, "A has been charged usage");
  } finally {
    raw.close();
  }
  const bSubmittedAt = Date.now();
  const bIds = await client.submitTasks(Array.from({ length: B_TASKS }, (_, i) => spec("team-b", i)));
  const all = [...aIds, ...bIds];
  await eventually(
    async () => {
      for (const id of all) if ((await client.getTask(id)).state !== TaskState.TASK_STATE_SUCCEEDED) return false;
      return true;
    },
    "every task SUCCEEDED",
    60_000,
  );
  const tasks = await Promise.all(all.map((id) => client.getTask(id)));
  return { a: tasks.slice(0, A_TASKS), b: tasks.slice(A_TASKS), bSubmittedAt };
}

const startedMs = (t: Task) => t.attempts[0].startedAt!.getTime();

/** How many of A's tasks started after B's submission and before B's last task started. */
function aStartsAhead(a: Task[], b: Task[], bSubmittedAt: number): number {
  const lastB = Math.max(...b.map(startedMs));
  return a.filter((t) => startedMs(t) > bSubmittedAt && startedMs(t) < lastB).length;
}

nn("multifactor: B's tasks start at the next free slots, ahead of A's queue", async (ctx) => {
  await cluster(ctx, "multifactor");
  const { a, b, bSubmittedAt } = await scenario(ctx.client, ctx.m.address);
  const ahead = aStartsAhead(a, b, bSubmittedAt);
  const queuedA = a.filter((t) => startedMs(t) > bSubmittedAt).length;
  console.log(`  multifactor: ${ahead} of A's ${queuedA} queued tasks started before B's last one`);
  // B's 4 tasks take the next 4 slots; at most the slots already being refilled when B arrived go to A.
  assert.ok(ahead <= SLOTS, `A started ${ahead} queued tasks before B's last`);
});

nn("priority-FIFO: B waits behind A's whole queue", async (ctx) => {
  await cluster(ctx, "priority");
  const { a, b, bSubmittedAt } = await scenario(ctx.client, ctx.m.address);
  const ahead = aStartsAhead(a, b, bSubmittedAt);
  const queuedA = a.filter((t) => startedMs(t) > bSubmittedAt).length;
  console.log(`  priority: ${ahead} of A's ${queuedA} queued tasks started before B's last one`);
  assert.ok(ahead >= queuedA - SLOTS, `B's last task started after ${ahead} of A's ${queuedA} queued tasks`);
});

nn.run();
