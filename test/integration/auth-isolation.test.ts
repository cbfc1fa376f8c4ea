import * as assert from "uvu/assert";
import * as grpc from "@grpc/grpc-js";
import type { TaskEvent } from "../../src/gen/taskgrid/v1/task.js";
import { AttemptOutcome, Role, TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { BAD_SPECS, NUL_RULE, NUL_SPEC_CASES } from "../helpers/bad-specs.js";
import { call, callError, waitForState, type RawClients } from "../helpers/grpc-clients.js";
import {
  OK,
  NOT_FOUND,
  DENIED,
  UNAUTH,
  mint,
  connect,
  spec,
  running,
  okResult,
  MISSING_TASK,
  authSuite,
  Watch,
  as,
  countTasks,
  stateOf,
  submitAs,
} from "../helpers/auth-cluster.js";

const auth = authSuite("auth: isolation and audit");

// --- 2. project isolation ---------------------------------------------------------------------------

auth("project isolation: another project's task reads as a missing one; lists and watches never show it; admin sees all", async (ctx) => {
  const a = as(ctx, ctx.submitter.secret);
  const bView = as(ctx, ctx.viewerB.secret);
  const bSubmit = as(ctx, ctx.submitterB.secret);

  const mine = await submitAs(a, spec(""));
  assert.is(mine.spec.project, "A", "an empty project is the token's own");
  const before = await countTasks(ctx);
  const denied = await callError(call(a.tasks, "submitTask", { spec: spec("B") }));
  assert.is(denied.code, DENIED);
  assert.match(denied.details, /^spec\.project: a token of project "A" may not submit to project "B"/);
  assert.is(await countTasks(ctx), before);

  // B's tokens learn nothing about A's task: the answer is the one for an id that never existed.
  const unknown = await callError(call(bView.tasks, "getTask", { taskId: MISSING_TASK }));
  const sameAsMissing = (err: grpc.ServiceError) => {
    assert.is(err.code, NOT_FOUND);
    assert.is(err.details, unknown.details.replace(MISSING_TASK, mine.id));
  };
  sameAsMissing(await callError(call(bView.tasks, "getTask", { taskId: mine.id })));
  sameAsMissing(await callError(call(bSubmit.tasks, "getTask", { taskId: mine.id })));
  for (const method of ["cancelTask", "pauseTask", "resumeTask"] as const) {
    sameAsMissing(await callError(call(bSubmit.tasks, method, { taskId: mine.id })));
    assert.is((await callError(call(bSubmit.tasks, method, { taskId: MISSING_TASK }))).details, unknown.details);
  }
  assert.is(await stateOf(ctx, mine.id), TaskState.TASK_STATE_QUEUED);

  const projectsIn = async (c: RawClients, project: string) =>
    new Set((await call(c.tasks, "listTasks", { project, pageSize: 1000 })).tasks.map((t: { spec: { project: string } }) => t.spec.project));
  const theirs = await submitAs(bSubmit, spec(""));
  assert.equal([...(await projectsIn(bView, ""))], ["B"]);
  assert.equal([...(await projectsIn(bView, "A"))], []);
  assert.equal([...(await projectsIn(a, ""))], ["A"]);
  const all = await projectsIn(ctx.admin, "");
  assert.ok(all.has("A") && all.has("B"), "admin lists every project");
  assert.is((await call(ctx.admin.tasks, "getTask", { taskId: mine.id })).task.spec.project, "A");
  assert.is((await call(ctx.admin.tasks, "getTask", { taskId: theirs.id })).task.spec.project, "B");

  // Watches: A's task id is NOT_FOUND; a filter on project A matches nothing (the stream just ends).
  const byId = await new Watch(bView, { taskIds: [mine.id] }).ended;
  assert.is(byId.code, NOT_FOUND);
  assert.is(byId.details, unknown.details.replace(MISSING_TASK, mine.id));
  const filtered = new Watch(bView, { project: "A" });
  assert.is((await filtered.ended).code, OK);
  assert.equal(filtered.events, []);

  // A watch of everything B may see: B's own events arrive, A's never do.
  const watch = new Watch(bView, {});
  const subscribed = watch.until(() => true);
  let seen = false;
  void subscribed.then(
    () => (seen = true),
    () => {},
  );
  // The subscription is made when the call reaches the master: submit until its first event shows.
  for (let i = 0; i < 200 && !seen; i++) await submitAs(bSubmit, spec(""));
  await subscribed;
  const leaked = [(await submitAs(a, spec(""))).id, (await submitAs(a, spec("A"))).id];
  await call(a.tasks, "submitTasks", { specs: [spec(""), spec("")] });
  await call(a.tasks, "cancelTask", { taskId: leaked[0] });
  const last = await submitAs(bSubmit, spec(""));
  // Events reach a stream in commit order: once B's last one is here, any of A's would be too.
  await watch.until((e) => e.taskId === last.id);
  const aIds = new Set((await call(ctx.admin.tasks, "listTasks", { project: "A", pageSize: 1000 })).tasks.map((t: { id: string }) => t.id));
  assert.equal(
    watch.events.filter((e) => aIds.has(e.taskId)),
    [],
    "no event of project A reached project B's watch",
  );
  watch.cancel();
});

// --- 3. audit ---------------------------------------------------------------------------------------

auth("audit: events name the token that caused them; the master's own are 'master'", async (ctx) => {
  const a = as(ctx, ctx.submitter.secret);
  const agentToken = await mint(ctx.admin, "A", Role.ROLE_AGENT, { name: "audit-agent" });
  const r = await connect(ctx.m.address, agentToken.secret, "w-audit", { tags: ["audit"] });
  assert.is(r.code, OK, r.details);
  const task = await submitAs(a, running("", "audit"));
  const assign = await r.agent.next("assign");
  assert.is(assign.taskId, task.id);
  r.agent.send({ $case: "started", value: { attemptId: assign.attemptId, pid: 1, startedAt: new Date() } });
  await waitForState(a, task.id, TaskState.TASK_STATE_RUNNING);
  await call(a.tasks, "cancelTask", { taskId: task.id, reason: "audit" });
  assert.is((await r.agent.next("cancel")).attemptId, assign.attemptId);
  r.agent.send({
    $case: "finished",
    value: { attemptId: assign.attemptId, result: { ...okResult, outcome: AttemptOutcome.ATTEMPT_OUTCOME_CANCELED }, finishedAt: new Date() },
  });

  const { events } = await call(a.tasks, "getTask", { taskId: task.id });
  const actorOf = (state: TaskState) => events.find((e: TaskEvent) => e.state === state)?.actor;
  assert.is(actorOf(TaskState.TASK_STATE_QUEUED), ctx.submitter.actor);
  assert.is(actorOf(TaskState.TASK_STATE_QUEUED), `token ${ctx.submitter.id} (submitter-a)`);
  assert.is(actorOf(TaskState.TASK_STATE_ASSIGNED), "master");
  assert.is(actorOf(TaskState.TASK_STATE_RUNNING), agentToken.actor);
  assert.is(actorOf(TaskState.TASK_STATE_CANCELED), ctx.submitter.actor);
  for (const e of events) assert.ok(e.actor !== "", `event ${TaskState[e.state]} has an actor`);
  r.agent.close();
});

// --- 8. the malformed-spec tables with auth on ------------------------------------------------------

auth("malformed specs with a valid submitter token: INVALID_ARGUMENT naming the field, nothing stored; without a token: UNAUTHENTICATED first", async (ctx) => {
  const a = as(ctx, ctx.submitter.secret);
  const anonymous = as(ctx, null);
  const base = (extra: Record<string, unknown>) => ({ command: ["echo", "hi"], name: "fuzz", requiredTags: ["nowhere"], ...extra });
  const before = await countTasks(ctx);
  for (const [what, extra, field] of BAD_SPECS) {
    const err = await callError(call(a.tasks, "submitTask", { spec: base(extra) }));
    assert.is(err.code, grpc.status.INVALID_ARGUMENT, `${what}: ${err.details}`);
    assert.ok(err.details.startsWith(field), `${what}: ${err.details}`);
    assert.is((await callError(call(anonymous.tasks, "submitTask", { spec: base(extra) }))).code, UNAUTH, what);
  }
  for (const [extra, field] of NUL_SPEC_CASES) {
    const err = await callError(call(a.tasks, "submitTask", { spec: base(extra) }));
    assert.is(err.code, grpc.status.INVALID_ARGUMENT, err.details);
    assert.is(err.details, `${field}: ${NUL_RULE}`);
    assert.is((await callError(call(anonymous.tasks, "submitTask", { spec: base(extra) }))).code, UNAUTH, field);
  }
  const batch = await callError(call(a.tasks, "submitTasks", { specs: [base({}), base({ name: "\u0000" })] }));
  assert.is(batch.details, `specs[1].name: ${NUL_RULE}`);
  assert.is(await countTasks(ctx), before);
  assert.is((await submitAs(a, base({}))).spec.project, "A");
  assert.is(await countTasks(ctx), before + 1);
});

auth.run();
