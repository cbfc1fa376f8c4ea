// TaskService/AdminService against a real master over loopback gRPC: happy paths, every class of
// bad input (with the field named and nothing written), idempotency, health and reflection.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import * as grpc from "@grpc/grpc-js";
import { QueueClass, TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { call, callError, rawClients, type RawClients } from "../helpers/grpc-clients.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";
import { BAD_SPECS } from "../helpers/bad-specs.js";

const api = suite<{ m: TestMaster; c: RawClients }>("master api");

api.before(async (ctx) => {
  ctx.m = await startTestMaster();
  ctx.c = rawClients(ctx.m.address);
});
api.after(async (ctx) => {
  ctx.c.close();
  await ctx.m.cleanup();
});

const spec = (extra: Record<string, unknown> = {}) => ({ command: ["echo", "hi"], name: "hello", ...extra });
const countTasks = async (c: RawClients) => (await call(c.tasks, "listTasks", { pageSize: 1000 })).tasks.length;

api("submit commits a QUEUED task that GetTask returns with defaults applied", async ({ c }) => {
  const res = await call(c.tasks, "submitTask", { spec: spec({ labels: { team: "ml" }, estimateMs: 1000 }) });
  assert.is(res.existing, false);
  assert.match(res.task.id, /^[0-9a-f-]{36}$/);
  assert.is(res.task.state, TaskState.TASK_STATE_QUEUED);
  const got = (await call(c.tasks, "getTask", { taskId: res.task.id })).task;
  assert.equal(got.spec.command, ["echo", "hi"]);
  assert.equal(got.spec.labels, { team: "ml" });
  assert.is(got.spec.resources.cpuMillis, 1000);
  assert.is(got.spec.queueClass, QueueClass.QUEUE_CLASS_DEFAULT);
  assert.ok(got.deadline instanceof Date, "derived deadline from estimate x sla multiplier");
  assert.is(got.deadline.getTime() - got.createdAt.getTime(), 2000);
  assert.is(got.pendingReason, "waiting: no workers connected");
});

for (const [name, extra, field] of BAD_SPECS) {
  api(`bad input: ${name} -> INVALID_ARGUMENT naming ${field}, nothing written`, async ({ c }) => {
    const before = await countTasks(c);
    const err = await callError(call(c.tasks, "submitTask", { spec: spec(extra) }));
    assert.is(err.code, grpc.status.INVALID_ARGUMENT);
    assert.ok(err.details.startsWith(field), err.details);
    assert.is(await countTasks(c), before);
  });
}

api("missing spec is INVALID_ARGUMENT", async ({ c }) => {
  const err = await callError(call(c.tasks, "submitTask", {}));
  assert.is(err.code, grpc.status.INVALID_ARGUMENT);
  assert.match(err.details, /^spec/);
});

api("SubmitTasks is all-or-nothing and names the bad entry", async ({ c }) => {
  const before = await countTasks(c);
  const err = await callError(call(c.tasks, "submitTasks", { specs: [spec(), spec({ command: [] }), spec()] }));
  assert.is(err.code, grpc.status.INVALID_ARGUMENT);
  assert.match(err.details, /^specs\[1\]\.command/);
  assert.is(await countTasks(c), before);
  const ok = await call(c.tasks, "submitTasks", { specs: [spec(), spec(), spec()] });
  assert.is(ok.taskIds.length, 3);
  assert.is(await countTasks(c), before + 3);
});

api("a request over the 64 MiB receive limit is RESOURCE_EXHAUSTED, saying so; nothing is stored", async ({ c }) => {
  const before = await countTasks(c);
  // 70 specs of ~1 MiB of arguments each: every spec is valid, the message is not.
  const big = (i: number) => spec({ command: ["echo", String(i), "x".repeat(1000 * 1024)] });
  const err = await callError(call(c.tasks, "submitTasks", { specs: Array.from({ length: 70 }, (_, i) => big(i)) }));
  assert.is(err.code, grpc.status.RESOURCE_EXHAUSTED);
  assert.match(err.details, /Received message larger than max/);
  assert.is(await countTasks(c), before);
});

api("unknown or empty task ids: NOT_FOUND / INVALID_ARGUMENT", async ({ c }) => {
  const missing = "0190aaaa-0000-7000-8000-000000000000";
  assert.is((await callError(call(c.tasks, "getTask", { taskId: missing }))).code, grpc.status.NOT_FOUND);
  assert.is((await callError(call(c.tasks, "cancelTask", { taskId: missing }))).code, grpc.status.NOT_FOUND);
  const empty = await callError(call(c.tasks, "getTask", { taskId: "" }));
  assert.is(empty.code, grpc.status.INVALID_ARGUMENT);
  assert.match(empty.details, /^task_id/);
});

api("idempotency: same key and spec returns the task; another spec is ALREADY_EXISTS", async ({ c }) => {
  const first = await call(c.tasks, "submitTask", { spec: spec({ idempotencyKey: "k-1" }) });
  const again = await call(c.tasks, "submitTask", { spec: spec({ idempotencyKey: "k-1" }) });
  assert.is(again.existing, true);
  assert.is(again.task.id, first.task.id);
  const err = await callError(call(c.tasks, "submitTask", { spec: spec({ idempotencyKey: "k-1", command: ["echo", "other"] }) }));
  assert.is(err.code, grpc.status.ALREADY_EXISTS);
  assert.match(err.details, /idempotency_key "k-1"/);
});

api("cancel a queued task, then cancelling again is FAILED_PRECONDITION", async ({ c }) => {
  const { task } = await call(c.tasks, "submitTask", { spec: spec() });
  const canceled = await call(c.tasks, "cancelTask", { taskId: task.id, reason: "test" });
  assert.is(canceled.task.state, TaskState.TASK_STATE_CANCELED);
  const err = await callError(call(c.tasks, "cancelTask", { taskId: task.id }));
  assert.is(err.code, grpc.status.FAILED_PRECONDITION);
  assert.match(err.details, /already ended \(CANCELED\)/);
  const pause = await callError(call(c.tasks, "pauseTask", { taskId: task.id }));
  assert.is(pause.code, grpc.status.FAILED_PRECONDITION);
});

api("pause of a queued task is FAILED_PRECONDITION", async ({ c }) => {
  const { task } = await call(c.tasks, "submitTask", { spec: spec() });
  const err = await callError(call(c.tasks, "pauseTask", { taskId: task.id }));
  assert.is(err.code, grpc.status.FAILED_PRECONDITION);
});

api("ListTasks filters by state, project and label and pages without gaps", async ({ c }) => {
  const ids = (await call(c.tasks, "submitTasks", { specs: Array.from({ length: 7 }, (_, i) => spec({ project: "paging", labels: { i: String(i % 2) } })) }))
    .taskIds;
  const seen: string[] = [];
  let pageToken = "";
  do {
    const page = await call(c.tasks, "listTasks", { project: "paging", pageSize: 3, pageToken });
    seen.push(...page.tasks.map((t: { id: string }) => t.id));
    pageToken = page.nextPageToken;
  } while (pageToken);
  assert.equal([...seen].sort(), [...ids].sort());
  const odd = await call(c.tasks, "listTasks", { project: "paging", label: "i=1" });
  assert.is(odd.tasks.length, 3);
  const queued = await call(c.tasks, "listTasks", { project: "paging", states: [TaskState.TASK_STATE_QUEUED] });
  assert.is(queued.tasks.length, 7);
  const none = await call(c.tasks, "listTasks", { project: "paging", states: [TaskState.TASK_STATE_SUCCEEDED] });
  assert.is(none.tasks.length, 0);
  assert.is((await callError(call(c.tasks, "listTasks", { pageSize: 5000 }))).code, grpc.status.INVALID_ARGUMENT);
  assert.is((await callError(call(c.tasks, "listTasks", { states: [99] }))).code, grpc.status.INVALID_ARGUMENT);
});

api("GetSchedulerInfo reports policy, strategy and queue lengths", async ({ c }) => {
  const info = await call(c.admin, "getSchedulerInfo", {});
  assert.is(info.orderingPolicy, "multifactor");
  assert.is(info.placementStrategy, "rts");
  assert.match(info.weightsVersion, /^[0-9a-f]{12}$/, "config/ga_output.json is loaded and versioned by content hash");
  assert.match(info.weightsSource, /config\/ga_output\.json/);
  assert.is(info.weights.wDeadline, 0.35);
  assert.is(info.weightsError, "");
  assert.is(info.queueLengths.length, 9);
  assert.ok(info.queueLengths.some((q: { length: number }) => q.length > 0));
  assert.is((await callError(call(c.admin, "getWorker", { workerId: "nope" }))).code, grpc.status.NOT_FOUND);
});

api("grpc.health.v1 reports SERVING and reflection lists the services", async ({ m }) => {
  const { HealthImplementation, service } = await import("grpc-health-check");
  void HealthImplementation;
  const Health = grpc.makeGenericClientConstructor(service as grpc.ServiceDefinition, "Health");
  const health = new Health(m.address, grpc.credentials.createInsecure()) as any;
  const res = await new Promise<any>((resolve, reject) =>
    health.check({ service: "taskgrid.v1.TaskService" }, (e: unknown, r: unknown) => (e ? reject(e) : resolve(r))),
  );
  assert.is(res.status, "SERVING");
  health.close();

  const protoLoader = await import("@grpc/proto-loader");
  const { createRequire } = await import("node:module");
  const require = createRequire(import.meta.url);
  const reflectionProto = require.resolve("@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto");
  const def = grpc.loadPackageDefinition(protoLoader.loadSync(reflectionProto, { keepCase: true })) as any;
  const client = new def.grpc.reflection.v1.ServerReflection(m.address, grpc.credentials.createInsecure());
  const stream = client.ServerReflectionInfo();
  const answers: any[] = [];
  const got = (n: number) => new Promise<void>((resolve) => stream.on("data", (d: unknown) => (answers.push(d), answers.length === n && resolve())));
  const both = got(2);
  stream.write({ list_services: "" });
  stream.write({ file_containing_symbol: "taskgrid.v1.TaskService" });
  await both;
  const names = answers[0].list_services_response.service.map((s: { name: string }) => s.name);
  // The real files with their real names, dependencies included, so clients can link them.
  const files = answers[1].file_descriptor_response.file_descriptor_proto.map((b: Buffer) => Buffer.from(b).toString("latin1"));
  for (const f of ["google/protobuf/timestamp.proto", "taskgrid/v1/types.proto", "taskgrid/v1/task.proto", "taskgrid/v1/task_service.proto"]) {
    assert.ok(
      files.some((text: string) => text.includes(f)),
      `${f} in reflection answer`,
    );
  }
  stream.end();
  client.close();
  for (const n of ["taskgrid.v1.TaskService", "taskgrid.v1.WorkerService", "taskgrid.v1.AdminService"]) assert.ok(names.includes(n), `${n} in ${names}`);
});

api.run();
