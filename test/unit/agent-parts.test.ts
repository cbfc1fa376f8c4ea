// Pure parts of the agent: reconnect backoff, the bounded report buffer, option resolution,
// progress-line splitting across chunks, the output tail and the attempt environment.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { AgentConfigError, resolveAgentConfig, sanitizeWorkerId } from "../../agent/agent-config.js";
import { AgentEnv, attemptEnv, flattenEnv } from "../../agent/attempt-env.js";
import { Backoff } from "../../agent/backoff.js";
import { OutputTail } from "../../agent/output-tail.js";
import { parseProgressLine, ProgressLineReader, type ProgressUpdate } from "../../agent/progress-lines.js";
import { ReportLog } from "../../agent/report-log.js";
import { AttemptOutcome } from "../../src/gen/taskgrid/v1/types.js";

test("backoff: full jitter under an exponential ceiling, capped, reset after success", () => {
  const max = new Backoff({ baseMs: 200, capMs: 30_000, random: () => 0.999999 });
  const delays = Array.from({ length: 10 }, () => max.next());
  assert.equal(delays, [199, 399, 799, 1599, 3199, 6399, 12799, 25599, 29999, 29999]);
  max.reset();
  assert.is(max.next(), 199);
  const min = new Backoff({ random: () => 0 });
  assert.is(min.next(), 0);
  const half = new Backoff({ random: () => 0.5 });
  assert.equal([half.next(), half.next(), half.next()], [100, 200, 400]);
});

test("report log: numbers reports, keeps them until acked, drops only progress past its bound", () => {
  const log = new ReportLog(3);
  const finished = (id: string) => ({ seq: 0, body: { $case: "finished" as const, value: { attemptId: id, result: undefined, finishedAt: undefined } } });
  const started = (id: string) => ({ seq: 0, body: { $case: "started" as const, value: { attemptId: id, pid: 1, startedAt: undefined } } });
  const progress = (id: string) => ({ seq: 0, body: { $case: "progress" as const, value: { attemptId: id, percent: 5, message: "" } } });
  const names = () => log.unacked().map((m) => `${m.seq}:${m.body?.$case}:${(m.body?.value as { attemptId: string } | undefined)?.attemptId}`);
  assert.is(log.add(started("a")).seq, 1);
  log.add(progress("a"));
  log.add(finished("a"));
  log.add(started("b"));
  assert.equal(names(), ["1:started:a", "3:finished:a", "4:started:b"], "the progress report went first");
  assert.is(log.dropped, 1);
  log.add(finished("b"));
  assert.is(log.size, 4, "started and finished are never dropped");
  assert.equal(log.finishedAttemptIds(), ["a", "b"]);
  assert.equal(
    log.ack(3).map((r) => r.seq),
    [1, 3],
  );
  assert.equal(names(), ["4:started:b", "5:finished:b"]);
  log.forget("b");
  assert.is(log.size, 0);
  assert.equal(log.ack(99), []);
});

test("config: defaults, sanitised worker id, validation names the option", () => {
  const c = resolveAgentConfig({ master: "127.0.0.1:50051", hostname: "node 1/ä", tags: ["gpu", " gpu ", ""] });
  assert.is(c.workerId, "node-1--");
  assert.equal(c.tags, ["gpu"]);
  assert.ok(c.maxTasks >= 1);
  assert.is(c.cpuMillis, c.maxTasks * 1000);
  assert.is(c.heartbeatIntervalMs, 3000);
  assert.is(sanitizeWorkerId(""), "worker");
  assert.is(sanitizeWorkerId("x".repeat(200)).length, 128);
  assert.throws(
    () => resolveAgentConfig({ master: "" }),
    (e: unknown) => e instanceof AgentConfigError && e.option === "master",
  );
  assert.throws(() => resolveAgentConfig({ master: "h:1", maxTasks: -1 }), /agent option maxTasks/);
  assert.throws(() => resolveAgentConfig({ master: "h:1", workerId: "bad id" }), /agent option workerId/);
  assert.throws(() => resolveAgentConfig({ master: "h:1", heartbeatIntervalMs: 0 }), /heartbeatIntervalMs must be > 0/);
});

test("config: checkpointDir defaults to <stateDir>/checkpoints, else the executor's default", () => {
  assert.is(resolveAgentConfig({ master: "h:1", stateDir: "/var/lib/tg" }).checkpointDir, "/var/lib/tg/checkpoints");
  assert.is(resolveAgentConfig({ master: "h:1", stateDir: "/var/lib/tg", checkpointDir: "/nfs/ckpt" }).checkpointDir, "/nfs/ckpt");
  assert.is(resolveAgentConfig({ master: "h:1" }).checkpointDir, null);
});

test("progress lines: split across chunks, CRLF, malformed and overlong lines", () => {
  const seen: ProgressUpdate[] = [];
  const reader = new ProgressLineReader((u) => seen.push(u));
  reader.push(Buffer.from("out\n::prog"));
  reader.push(Buffer.from("ress 12.5 step 1\r\n::progress -5\n::progress x\n"));
  const message = Buffer.from("::progress 60 héllo\n");
  reader.push(message.subarray(0, 16)); // inside "é"
  reader.push(message.subarray(16));
  reader.push(Buffer.from(`::progress 70 ${"y".repeat(10_000)}\n`));
  reader.push(Buffer.from("::progress 99 last"));
  reader.end();
  assert.equal(seen, [
    { percent: 12.5, message: "step 1" },
    { percent: 0, message: "" },
    { percent: 60, message: "héllo" },
    { percent: 99, message: "last" },
  ]);
  assert.is(parseProgressLine("::progress"), null);
  assert.is(parseProgressLine(" ::progress 5"), null);
  assert.equal(parseProgressLine("::progress 5   "), { percent: 5, message: "" });
});

test("output tail: bounded in bytes across many chunks", () => {
  const tail = new OutputTail(10);
  for (let i = 0; i < 100; i++) tail.append(Buffer.from(`${i % 10}`));
  assert.is(tail.text(), "0123456789");
  const small = new OutputTail(4);
  small.append(Buffer.from("aé€")); // 1 + 2 + 3 bytes: the last 4 bytes start inside "é"
  assert.is(small.text(), "€");
});

test("attempt env: Taskgrid variables win over the task's env", () => {
  const env = flattenEnv(
    attemptEnv(
      {
        taskId: "t",
        attemptId: "a",
        taskEnv: { TASKGRID_TASK_ID: "spoof", X: "1" },
        gpuIndexes: [0, 2],
        gpuUuids: null,
        machineHasGpus: true,
        progressFile: "/p",
        preemptFile: "/tmp/a/preempted",
        checkpointDir: "/ckpt/t",
        restartCount: 0,
      },
      new AgentEnv({ PATH: "/bin", TASKGRID_GPU_UUIDS: "stale" }),
    ),
  );
  assert.equal(env, {
    PATH: "/bin",
    X: "1",
    TASKGRID_TASK_ID: "t",
    TASKGRID_ATTEMPT_ID: "a",
    TASKGRID_PROGRESS_FILE: "/p",
    TASKGRID_PREEMPT_FILE: "/tmp/a/preempted",
    TASKGRID_CHECKPOINT_DIR: "/ckpt/t",
    TASKGRID_RESTART_COUNT: "0",
    CUDA_VISIBLE_DEVICES: "0,2",
  });
  assert.is(AttemptOutcome.ATTEMPT_OUTCOME_LOST, 5);
});

test("attempt env: preempt file, checkpoint dir and restart count win over the task's env and the agent's", () => {
  const env = flattenEnv(
    attemptEnv(
      {
        taskId: "t",
        attemptId: "a",
        taskEnv: { TASKGRID_PREEMPT_FILE: "/spoof", TASKGRID_CHECKPOINT_DIR: "/spoof", TASKGRID_RESTART_COUNT: "9" },
        gpuIndexes: [],
        gpuUuids: null,
        machineHasGpus: false,
        progressFile: "/p",
        preemptFile: "/tmp/a/preempted",
        checkpointDir: "/ckpt/t",
        restartCount: 2,
      },
      new AgentEnv({ TASKGRID_CHECKPOINT_DIR: "/agent-own", TASKGRID_RESTART_COUNT: "7" }),
    ),
  );
  assert.is(env.TASKGRID_PREEMPT_FILE, "/tmp/a/preempted");
  assert.is(env.TASKGRID_CHECKPOINT_DIR, "/ckpt/t");
  assert.is(env.TASKGRID_RESTART_COUNT, "2");
});

test.run();
