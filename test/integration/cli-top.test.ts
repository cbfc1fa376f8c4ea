// `taskgrid top --once` and `--json` against a real master with a hand-driven agent: one worker with
// a GPU and telemetry, one RUNNING task on it, one task QUEUED in LIVE/HIGH that no worker can take.
import { type CliRun, runCli } from "../helpers/run-cli.js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createClient, type TaskgridClient } from "../../src/client/index.js";
import { Priority, QueueClass, TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { runBin } from "../helpers/processes.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { TaskEvents } from "../helpers/task-watch.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

let tm: TestMaster;
let client: TaskgridClient;
let agent: RawAgent;

test.before(async () => {
  tm = await startTestMaster();
  client = createClient(tm.address);
  agent = new RawAgent(tm.address);
  agent.register("top-gpu-1", {
    tags: ["gpu", "top"],
    capacity: { cpuMillis: 4000, memoryMib: 8192, maxTasks: 3, gpus: [{ index: 0, uuid: "GPU-0", model: "A100", memoryMib: 40960, numaNode: 0 }] },
  });
  await agent.next("registered");
  agent.send({
    $case: "heartbeat",
    value: {
      seq: 0,
      telemetry: {
        cpuLoad: 0.25,
        memoryUsedMib: 1024,
        memoryTotalMib: 8192,
        ioPressure: 0,
        runningAttempts: 0,
        gpus: [{ index: 0, utilizationPercent: 75, memoryUsedMib: 100 }],
        probeErrors: [],
      },
    },
  });

  const { task } = await client.submitTask({ name: "top-run", command: ["sleep", "60"], resources: { cpuMillis: 500 } });
  const events = new TaskEvents(client, [task.id]);
  const assign = await agent.next("assign");
  agent.send({ $case: "started", value: { attemptId: assign.attemptId, pid: 4242, startedAt: new Date() } });
  // The stream is handled in order: once RUNNING is announced, the heartbeat before it was applied too.
  await events.state(TaskState.TASK_STATE_RUNNING);
  events.close();
  await client.submitTask({
    name: "top-stuck",
    command: ["true"],
    requiredTags: ["no-such-tag"],
    queueClass: QueueClass.QUEUE_CLASS_LIVE,
    priority: Priority.PRIORITY_HIGH,
  });
});

test.after(async () => {
  agent.close();
  client.close();
  await tm.cleanup();
});

function cli(...argv: string[]): Promise<CliRun> {
  return runCli(argv, { TASKGRID_MASTER: tm.address });
}

test("taskgrid top --once (the real bin, piped): one plain frame with the header and the worker row", async () => {
  const r = await runBin(["top", "--once", "--master", tm.address]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stderr, "");
  const frame = r.stdout;
  assert.not.match(frame, /\x1b/, "no terminal codes in --once");
  assert.match(frame, new RegExp(`^taskgrid top: master ${tm.address.replace(/\./g, "\\.")} at \\d\\d:\\d\\d:\\d\\d\n`));
  assert.match(frame, /^Scheduler: {2}rts placement, multifactor ordering, weights \S+/m);
  assert.match(frame, /^Tasks: {6}QUEUED 1 {2}ASSIGNED 0 {2}RUNNING 1 {2}PAUSED 0$/m);
  assert.match(frame, /^Queues: {5}LIVE\/HIGH 1$/m);
  assert.match(frame, /^Decisions: {2}[1-9]\d* \(.*\) {2}fallbacks \d+ \(\d+(\.\d)?%\).*deadline misses 0$/m);
  assert.match(frame, /^Workers: {4}1 \(.*ONLINE=1.*\)$/m);
  assert.match(frame, /^WORKER\s+STATUS\s+RUNNING\s+LOAD\s+GPU\s+SEEN\s+TAGS$/m);
  assert.match(frame, /^top-gpu-1\s+ONLINE\s+1\/3\s+0\.25\s+75%\/1\s+\d+s\s+gpu,top$/m);
});

test("taskgrid top --json: one snapshot with the same figures", async () => {
  const r = await cli("top", "--json");
  assert.is(r.code, 0, r.err);
  const v = JSON.parse(r.out);
  assert.is(v.master, tm.address);
  assert.is(v.placement, "rts");
  assert.equal(v.tasks, { QUEUED: 1, ASSIGNED: 0, RUNNING: 1, PAUSED: 0 });
  assert.equal(v.queues, [{ queue: "LIVE", priority: "HIGH", length: 1 }]);
  assert.ok(v.decisions >= 1);
  assert.is(v.deadlineMisses, 0);
  assert.equal(v.workers, [
    {
      id: "top-gpu-1",
      status: "ONLINE",
      running: 1,
      slots: 3,
      cpuLoad: 0.25,
      gpuUtilization: 75,
      gpus: 1,
      tags: ["gpu", "top"],
      lastSeenAt: v.workers[0].lastSeenAt,
    },
  ]);
});

test("taskgrid top against a closed port prints the gRPC status and message, no stack, exit 1", async () => {
  const r = await runBin(["top", "--once", "--master", "127.0.0.1:1"]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /^error: UNAVAILABLE: /);
  assert.match(r.stderr, /is the master running\?/);
  assert.not.match(r.stderr, /\n\s+at /, "no stack trace");
  assert.is(r.stdout, "");
});

test("taskgrid top --interval with a bad value is a usage error naming the flag", async () => {
  const r = await cli("top", "--interval", "5ms");
  assert.is(r.code, 2);
  assert.match(r.err, /^error: --interval: /);
});

test.run();
