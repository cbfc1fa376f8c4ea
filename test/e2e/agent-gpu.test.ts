// GPUs end to end without a GPU: a fake `nvidia-smi` (a shell script printing a fixed 2-GPU CSV)
// first on the PATH of a real agent process. The worker registers both GPUs; two 1-GPU tasks run
// at once on different GPUs (CUDA_VISIBLE_DEVICES and TASKGRID_GPU_UUIDS set to exactly the
// allocated GPU), a third waits QUEUED until one of them frees its GPU.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type TaskgridClient } from "../../src/client/index.js";
import type { Task } from "../../src/gen/taskgrid/v1/task.js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { Proc } from "../helpers/processes.js";
import { cancelActiveTasks, TaskEvents } from "../helpers/task-watch.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

const GPUS = [
  { index: 0, uuid: "GPU-8d7f3e2a-1c4b-4e6f-9a0d-2b5c7e9f1a3d", model: "NVIDIA H100 80GB HBM3", memoryMib: 81559, busId: "00000000:18:00.0" },
  { index: 1, uuid: "GPU-1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d", model: "NVIDIA H100 80GB HBM3", memoryMib: 81559, busId: "00000000:2A:00.0" },
];

// What the agent's probe asks for (agent/probes/gpu.ts): 7 columns, pci.bus_id last. Any other
// query is answered like a real nvidia-smi answers a bad field: an error and exit code 2.
const QUERY = "--query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu,pci.bus_id";
const FAKE_NVIDIA_SMI = `#!/bin/sh
if [ "$1" != "${QUERY}" ] || [ "$2" != "--format=csv,noheader,nounits" ]; then
  echo "fake nvidia-smi: unexpected arguments: $*" >&2
  exit 2
fi
cat <<'CSV'
${GPUS.map((g) => `${g.index}, ${g.uuid}, ${g.model}, ${g.memoryMib}, 0, 0, ${g.busId}`).join("\n")}
CSV
`;

const e2e = suite<{ m: TestMaster; agent: Proc; client: TaskgridClient; dir: string }>("agent GPU e2e");

e2e.before(async (ctx) => {
  ctx.m = await startTestMaster();
  ctx.dir = mkdtempSync(join(tmpdir(), "taskgrid-gpu-"));
  const bin = join(ctx.dir, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "nvidia-smi"), FAKE_NVIDIA_SMI);
  chmodSync(join(bin, "nvidia-smi"), 0o755);
  ctx.agent = new Proc(["agent", "--master", ctx.m.address, "--id", "gpu-a", "--tags", "gpu-e2e", "--max-tasks", "4"], { PATH: `${bin}:${process.env.PATH}` });
  await ctx.agent.waitFor(/"registered"/);
  ctx.client = createClient(ctx.m.address);
});

e2e.after(async (ctx) => {
  writeFileSync(join(ctx.dir, "release"), ""); // lets any task a failed test left running end
  await cancelActiveTasks(ctx.client);
  ctx.client.close();
  await ctx.agent.stop();
  await ctx.m.cleanup();
  rmSync(ctx.dir, { recursive: true, force: true });
});

e2e("the worker registers the fake nvidia-smi's 2 GPUs", async ({ client }) => {
  const worker = await client.getWorker("gpu-a");
  const gpus = worker.capacity!.gpus.map((g) => ({ index: g.index, uuid: g.uuid, model: g.model, memoryMib: g.memoryMib }));
  assert.equal(
    gpus,
    GPUS.map(({ busId: _, ...g }) => g),
  );
});

e2e("two 1-GPU tasks get different GPUs, a third waits for one to be freed", async ({ client, dir }) => {
  const release = join(dir, "release");
  const script = 'echo "gpu=$CUDA_VISIBLE_DEVICES uuids=$TASKGRID_GPU_UUIDS"; while [ ! -f "$1" ]; do sleep 0.05; done';
  const ids = await client.submitTasks(
    [1, 2, 3].map((n) => ({
      name: `gpu-${n}`,
      command: ["sh", "-c", script, "sh", release],
      requiredTags: ["gpu-e2e"],
      resources: { gpuCount: 1, cpuMillis: 100, memoryMib: 64 },
    })),
  );
  const events = new TaskEvents(client, ids);
  try {
    // Wait until two run; then the third must be waiting for a GPU.
    const latest = new Map<string, TaskState>();
    await events.until((e) => {
      latest.set(e.taskId, e.state);
      return [...latest.values()].filter((s) => s === TaskState.TASK_STATE_RUNNING).length === 2;
    });
    const running = ids.filter((id) => latest.get(id) === TaskState.TASK_STATE_RUNNING);
    const [waitingId] = ids.filter((id) => !running.includes(id));
    const waiting = await client.getTask(waitingId);
    assert.is(waiting.state, TaskState.TASK_STATE_QUEUED);
    assert.match(waiting.pendingReason, /^(waiting|reserved)/); // reserved: backfill easy, the default
    const first = await Promise.all(running.map((id) => client.getTask(id)));
    assert.equal(first.map((t) => t.attempts[0].gpuIndexes).sort(), [[0], [1]]);
    const worker = await client.getWorker("gpu-a");
    assert.equal([...worker.allocatedGpuIndexes].sort(), [0, 1]);

    writeFileSync(release, "");
    const done = new Set<string>();
    await events.until((e) => {
      if (e.state === TaskState.TASK_STATE_SUCCEEDED) done.add(e.taskId);
      return done.size === 3;
    });
    const tasks = await Promise.all(ids.map((id) => client.getTask(id)));
    for (const t of tasks) assertRanOnItsGpu(t);
    const byId = new Map(tasks.map((t) => [t.id, t]));
    // The third got a GPU only once the task that held that GPU had finished.
    const third = byId.get(waitingId)!.attempts[0];
    const previous = running.map((id) => byId.get(id)!.attempts[0]).find((a) => a.gpuIndexes[0] === third.gpuIndexes[0])!;
    assert.ok(previous, "the third task's GPU was one of the first two tasks' GPUs");
    assert.ok(third.assignedAt!.getTime() >= previous.finishedAt!.getTime(), "assigned after the previous holder finished");
  } finally {
    events.close();
  }
});

/** SUCCEEDED on one GPU, and the process saw exactly that GPU (index and UUID). */
function assertRanOnItsGpu(task: Task): void {
  assert.is(task.state, TaskState.TASK_STATE_SUCCEEDED, task.spec!.name);
  assert.is(task.attempts.length, 1);
  const [index] = task.attempts[0].gpuIndexes;
  assert.equal(task.attempts[0].gpuIndexes, [index]);
  assert.is(task.result!.outputTail, `gpu=${index} uuids=${GPUS[index].uuid}\n`);
}

e2e.run();
