// NUL (U+0000) against a real master over gRPC. Postgres text and jsonb cannot hold it, so a NUL
// that reached a commit used to fail it (INTERNAL, and the rest of its batch with it). Client input
// is rejected with INVALID_ARGUMENT naming the field, before anything is written; an agent's report
// (output may be binary) is stored with each NUL escaped as `\0`.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import * as grpc from "@grpc/grpc-js";
import { encodePageToken } from "../../src/store/page-token.js";
import { AttemptOutcome, TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { call, callError, rawClients, type RawClients } from "../helpers/grpc-clients.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";
import { NUL, NUL_RULE, NUL_SPEC_CASES } from "../helpers/bad-specs.js";

const nul = suite<{ m: TestMaster; c: RawClients }>("NUL in text");

nul.before(async (ctx) => {
  ctx.m = await startTestMaster();
  ctx.c = rawClients(ctx.m.address);
});
nul.after(async (ctx) => {
  ctx.c.close();
  await ctx.m.cleanup();
});

const spec = (extra: Record<string, unknown> = {}) => ({ command: ["echo", "hi"], name: "nul-test", project: "nul", ...extra });
const countTasks = async (c: RawClients) => (await call(c.tasks, "listTasks", { pageSize: 1000 })).tasks.length;

async function expectInvalid(promise: Promise<unknown>, field: string): Promise<void> {
  const err = await callError(promise);
  assert.is(err.code, grpc.status.INVALID_ARGUMENT, err.details);
  assert.is(err.details, `${field}: ${NUL_RULE}`);
}

nul("a NUL in any spec field is INVALID_ARGUMENT naming the field; nothing is stored", async ({ c }) => {
  const before = await countTasks(c);
  for (const [extra, field] of NUL_SPEC_CASES) await expectInvalid(call(c.tasks, "submitTask", { spec: spec(extra) }), field);
  // A batch is all-or-nothing: one NUL rejects every entry.
  await expectInvalid(call(c.tasks, "submitTasks", { specs: [spec(), spec({ name: NUL })] }), "specs[1].name");
  assert.is(await countTasks(c), before);
  // The master still commits good work afterwards.
  await call(c.tasks, "submitTask", { spec: spec() });
  assert.is(await countTasks(c), before + 1);
});

nul("a NUL in other request strings is INVALID_ARGUMENT, not INTERNAL", async ({ c }) => {
  const { task } = await call(c.tasks, "submitTask", { spec: spec() });
  await expectInvalid(call(c.tasks, "getTask", { taskId: `${task.id.slice(0, 10)}${NUL}` }), "task_id");
  await expectInvalid(call(c.tasks, "cancelTask", { taskId: task.id, reason: `why${NUL}` }), "reason");
  await expectInvalid(call(c.tasks, "pauseTask", { taskId: `x${NUL}` }), "task_id");
  await expectInvalid(call(c.tasks, "listTasks", { project: `p${NUL}` }), "project");
  await expectInvalid(call(c.tasks, "listTasks", { label: `k=v${NUL}` }), "label");
  await expectInvalid(call(c.admin, "getWorker", { workerId: `w${NUL}` }), "worker_id");
  const forged = await callError(call(c.tasks, "listTasks", { pageToken: encodePageToken({ createdAtMs: 1, id: `x${NUL}` }) }));
  assert.is(forged.code, grpc.status.INVALID_ARGUMENT);
  assert.match(forged.details, /^page_token: /);
  assert.is((await call(c.tasks, "getTask", { taskId: task.id })).task.state, TaskState.TASK_STATE_QUEUED, "the cancel with a bad reason did nothing");
});

nul("an agent's result with NUL bytes is stored with each NUL escaped as \\0", async ({ m, c }) => {
  const agent = new RawAgent(m.address);
  agent.register("w-nul", { tags: ["nul"] });
  await agent.next("registered");
  const { task } = await call(c.tasks, "submitTask", { spec: spec({ requiredTags: ["nul"] }) });
  // Tasks queued by the tests above may be assigned to this worker too: find ours.
  let assign = await agent.next("assign");
  while (assign.taskId !== task.id) assign = await agent.next("assign");
  agent.send({ $case: "started", value: { attemptId: assign.attemptId, pid: 1, startedAt: new Date() } });
  const result = {
    outcome: AttemptOutcome.ATTEMPT_OUTCOME_FAILED,
    exitCode: 1,
    signal: "",
    outputTail: `bin${NUL}ary${NUL}\n`,
    durationMs: 3,
    message: `bad${NUL}`,
  };
  agent.send({ $case: "finished", value: { attemptId: assign.attemptId, result, finishedAt: new Date() } });
  let got: any;
  for (let i = 0; i < 200; i++) {
    got = (await call(c.tasks, "getTask", { taskId: task.id })).task;
    if (got.state === TaskState.TASK_STATE_FAILED) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.is(got.state, TaskState.TASK_STATE_FAILED);
  assert.is(got.result.outputTail, "bin\\0ary\\0\n");
  assert.is(got.result.message, "bad\\0");
  agent.close();
});

nul.run();
