import * as assert from "uvu/assert";
import * as grpc from "@grpc/grpc-js";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { startMaster } from "../../master/master.js";
import type { TaskEvent } from "../../src/gen/taskgrid/v1/task.js";
import { AttemptOutcome, Role, TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { parsePrometheusText } from "../helpers/prom-text.js";
import { call, callError, waitForState } from "../helpers/grpc-clients.js";
import { startTestMaster } from "../helpers/test-master.js";
import {
  usingPostgres,
  advance,
  freeze,
  unfreeze,
  forgiveFailures,
  OK,
  NOT_FOUND,
  DENIED,
  UNAUTH,
  codeOf,
  within,
  mint,
  connect,
  spec,
  running,
  okResult,
  whoAmIWith,
  metadataOf,
  authFailures,
  authSuite,
  Watch,
  as,
  submitAs,
} from "../helpers/auth-cluster.js";

const auth = authSuite("auth: tokens and agents", { withOther: true });

// --- 4. tokens --------------------------------------------------------------------------------------

auth("CreateToken validates its input and names the field; nothing is stored", async (ctx) => {
  const count = async () => (await call(ctx.admin.admin, "listTokens", { includeInactive: true })).tokens.length;
  const before = await count();
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ role: Role.ROLE_VIEWER }, "project"],
    [{ project: "A" }, "role"],
    [{ project: "A", role: 99 }, "role"],
    [{ project: "A", role: Role.ROLE_VIEWER, workerPattern: "gpu-*" }, "worker_pattern"],
    [{ project: "A", role: Role.ROLE_ADMIN, workerPattern: "gpu-*" }, "worker_pattern"],
    [{ project: "A", role: Role.ROLE_AGENT, workerPattern: "gpu 1;rm" }, "worker_pattern"],
    [{ project: "A", role: Role.ROLE_VIEWER, expiresInSeconds: -1 }, "expires_in_seconds"],
    [{ project: "A", role: Role.ROLE_VIEWER, expiresInSeconds: 11 * 365 * 24 * 3600 }, "expires_in_seconds"],
    [{ project: "A", role: Role.ROLE_VIEWER, name: "x".repeat(129) }, "name"],
    [{ project: "p\u0000", role: Role.ROLE_VIEWER }, "project"],
  ];
  for (const [request, field] of cases) {
    const err = await callError(call(ctx.admin.admin, "createToken", request));
    assert.is(err.code, grpc.status.INVALID_ARGUMENT, `${JSON.stringify(request)}: ${err.details}`);
    assert.ok(err.details.startsWith(`${field}: `), `${JSON.stringify(request)}: ${err.details}`);
  }
  assert.is(await count(), before);
  const agent = await mint(ctx.admin, "A", Role.ROLE_AGENT, { workerPattern: "gpu-*" });
  assert.is((await call(as(ctx, agent.secret).admin, "whoAmI", {})).token.workerPattern, "gpu-*");
});

auth("ListTokens never returns secrets; revoked tokens show only with include_inactive", async (ctx) => {
  const revoked = await mint(ctx.admin, "L", Role.ROLE_VIEWER, { name: "to-revoke" });
  const kept = await mint(ctx.admin, "L", Role.ROLE_VIEWER, { name: "kept" });
  await call(ctx.admin.admin, "revokeToken", { tokenId: revoked.id });
  const active = (await call(ctx.admin.admin, "listTokens", { project: "L" })).tokens;
  assert.equal(
    active.map((t: { id: string }) => t.id),
    [kept.id],
  );
  const every = (await call(ctx.admin.admin, "listTokens", { project: "L", includeInactive: true })).tokens;
  assert.equal(every.map((t: { id: string }) => t.id).sort(), [kept.id, revoked.id].sort());
  assert.ok(every.find((t: { id: string }) => t.id === revoked.id).revokedAt instanceof Date);
  // No secret, whole or in part, in any listing.
  const listing = JSON.stringify((await call(ctx.admin.admin, "listTokens", { includeInactive: true })).tokens);
  for (const t of [revoked, kept, ctx.viewer, ctx.submitter, ctx.agent, { secret: ctx.adminToken }])
    assert.not.ok(listing.includes(t.secret.split(".")[2]!), "a secret is listed");
  for (const t of JSON.parse(listing))
    assert.equal(
      Object.keys(t).filter((k) => /secret|hash/i.test(k)),
      [],
      "no secret field",
    );
});

auth("RevokeToken: the token is UNAUTHENTICATED at once and its open watch ends UNAUTHENTICATED", async (ctx) => {
  const t = await mint(ctx.admin, "A", Role.ROLE_VIEWER, { name: "revoked-soon" });
  const c = as(ctx, t.secret);
  const task = await submitAs(ctx.admin, spec("A"));
  const watch = new Watch(c, { taskIds: [task.id] });
  await watch.until(() => true);
  await call(ctx.admin.admin, "revokeToken", { tokenId: t.id });
  const ended = await within(watch.ended, 10_000, "the revoked token's watch");
  assert.is(ended.code, UNAUTH);
  assert.match(ended.details, /revoked/);
  const err = await callError(call(c.admin, "whoAmI", {}));
  assert.is(err.code, UNAUTH);
  assert.match(err.details, /revoked/);
  assert.is((await callError(call(ctx.admin.admin, "revokeToken", { tokenId: "0123456789abcdef" }))).code, NOT_FOUND);
  assert.is((await callError(call(ctx.admin.admin, "revokeToken", { tokenId: "nope" }))).code, grpc.status.INVALID_ARGUMENT);
});

auth("an expired token is UNAUTHENTICATED (cached or not) and its open watch ends", async (ctx) => {
  const used = await mint(ctx.admin, "A", Role.ROLE_VIEWER, { name: "short-lived", expiresInSeconds: 1 });
  const unused = await mint(ctx.admin, "A", Role.ROLE_VIEWER, { name: "short-lived-unused", expiresInSeconds: 1 });
  const c = as(ctx, used.secret);
  assert.ok((await call(c.admin, "whoAmI", {})).token.expiresAt instanceof Date);
  const task = await submitAs(ctx.admin, spec("A"));
  const watch = new Watch(c, { taskIds: [task.id] });
  await watch.until(() => true);
  advance(2_000);
  for (const token of [used, unused]) {
    const err = await callError(call(as(ctx, token.secret).admin, "whoAmI", {}));
    assert.is(err.code, UNAUTH);
    assert.match(err.details, /expired at/);
  }
  const ended = await within(watch.ended, 10_000, "the expired token's watch");
  assert.is(ended.code, UNAUTH);
  assert.match(ended.details, /expired/);
  const active = (await call(ctx.admin.admin, "listTokens", { project: "A" })).tokens.map((t: { id: string }) => t.id);
  assert.not.ok(active.includes(used.id), "an expired token is not active");
});

auth("a token of another master (its own database) is UNAUTHENTICATED, both ways", async (ctx) => {
  const err = await callError(call(as(ctx, ctx.otherAdmin).admin, "whoAmI", {}));
  assert.is(err.code, UNAUTH);
  assert.match(err.details, /not valid \(unknown, or of another master\)/);
  const back = await callError(call(as(ctx, ctx.adminToken, ctx.otherAddress).admin, "whoAmI", {}));
  assert.is(back.code, UNAUTH);
  assert.is((await call(as(ctx, ctx.otherAdmin, ctx.otherAddress).admin, "whoAmI", {})).token.role, Role.ROLE_ADMIN);
});

if (usingPostgres) {
  auth(
    "two masters on one database: the standby sends a revocation to the leader; one committed elsewhere ends the token's streams on the leader",
    async (ctx) => {
      // The second master shares the other master's database: it is that master's standby.
      const peer = await startTestMaster({ auth: true, authRefreshMs: 200 }, ctx.other.db);
      try {
        const first = as(ctx, ctx.otherAdmin, ctx.otherAddress);
        const t = await mint(first, "P", Role.ROLE_VIEWER, { name: "revoked-elsewhere" });
        const task = await submitAs(first, spec("P"));
        const watch = new Watch(as(ctx, t.secret, ctx.otherAddress), { taskIds: [task.id] });
        await watch.until(() => true);
        const redirected = await callError(call(as(ctx, ctx.otherAdmin, peer.address).admin, "revokeToken", { tokenId: t.id }));
        assert.is(redirected.code, grpc.status.UNAVAILABLE, "a standby takes no writes");
        assert.match(redirected.details, /standby; the leader is at/);
        // Committed by another master (here: straight into the shared database), the revocation
        // reaches the leader's token cache within its refresh period and ends the stream.
        await peer.master.store.tokens.revoke(t.id, Date.now());
        const ended = await within(watch.ended, 10_000, "the watch on the leader");
        assert.is(ended.code, UNAUTH);
        assert.match(ended.details, /revoked/);
        assert.is((await callError(call(as(ctx, t.secret, ctx.otherAddress).admin, "whoAmI", {}))).code, UNAUTH);
        assert.is((await callError(call(as(ctx, t.secret, peer.address).admin, "whoAmI", {}))).code, UNAUTH, "the standby refuses it too");
      } finally {
        await peer.stop(); // not cleanup: the database is the other master's
      }
    },
  );
}

// --- 5. malformed credentials and the brute-force brake ---------------------------------------------

auth("malformed credentials are UNAUTHENTICATED (or refused by HTTP/2) and the master keeps serving", async (ctx) => {
  const c = as(ctx, null);
  const token = ctx.submitter.secret;
  const cases: Array<[string, grpc.Metadata, RegExp]> = [
    ["none", metadataOf(() => {}), /^authorization: required/],
    ["300 characters", metadataOf((md) => md.set("authorization", `Bearer ${"x".repeat(300)}`)), /at most 256 characters/],
    ["truncated token", metadataOf((md) => md.set("authorization", `Bearer ${token.slice(0, -1)}`)), /not a Taskgrid token/],
    ["right id, wrong secret", metadataOf((md) => md.set("authorization", `Bearer ${token.slice(0, -4)}AAAA`)), /not valid \(unknown, or of another master\)/],
    ["two values folded into one", metadataOf((md) => md.set("authorization", `Bearer ${token}, Bearer ${token}`)), /must be "Bearer <token>"/],
    ["binary authorization-bin", metadataOf((md) => md.set("authorization-bin", Buffer.from(`Bearer ${token}`))), /^authorization: required/],
    ["Basic scheme", metadataOf((md) => md.set("authorization", `Basic ${token}`)), /must be "Bearer <token>"/],
    ["Token scheme", metadataOf((md) => md.set("authorization", `Token ${token}`)), /must be "Bearer <token>"/],
    ["no scheme", metadataOf((md) => md.set("authorization", token)), /must be "Bearer <token>"/],
    ["empty bearer", metadataOf((md) => md.set("authorization", "Bearer ")), /must be "Bearer <token>"|required/],
  ];
  for (const [what, md, details] of cases) {
    const err = await callError(whoAmIWith(c, md));
    assert.is(err.code, UNAUTH, `${what}: ${err.code} ${err.details}`);
    assert.match(err.details, details, what);
  }
  // 100 KB is over the HTTP/2 header list limit: refused before any handler runs (the client sees
  // the stream reset), never OK.
  const huge = await callError(
    whoAmIWith(
      c,
      metadataOf((md) => md.set("authorization", `Bearer ${"x".repeat(100 * 1024)}`)),
    ),
  );
  assert.ok([UNAUTH, grpc.status.INTERNAL, grpc.status.RESOURCE_EXHAUSTED].includes(huge.code), `huge: ${huge.code} ${huge.details}`);
  // Two separate values cannot even be sent by grpc-js (see the Python test for a client that can).
  const two = metadataOf((md) => (md.add("authorization", `Bearer ${token}`), md.add("authorization", "Bearer x")));
  assert.is((await callError(whoAmIWith(c, two))).code, grpc.status.INTERNAL);
  assert.is(
    (
      await whoAmIWith(
        c,
        metadataOf((md) => md.set("authorization", `Bearer ${token}`)),
      )
    ).token.id,
    ctx.submitter.id,
  );
  assert.is((await call(as(ctx, token).tasks, "listTasks", {})).tasks.length > 0, true, "the master keeps serving");
  // The scheme is case-insensitive.
  assert.is(
    (
      await whoAmIWith(
        c,
        metadataOf((md) => md.set("authorization", `bearer ${token}`)),
      )
    ).token.id,
    ctx.submitter.id,
  );
});

auth("brute force: after 20 failures a peer is rate-limited (saying when to retry); a token it already used still works; counted by reason", async (ctx) => {
  const before = await authFailures(ctx.m);
  const fresh = await mint(ctx.admin, "A", Role.ROLE_VIEWER, { name: "never-used" });
  const c = as(ctx, null);
  const guess = () => metadataOf((md) => md.set("authorization", `Bearer tg1.${randomBytes(8).toString("hex")}.${randomBytes(32).toString("base64url")}`));
  freeze(); // the bucket refills with time: frozen, the count is exact
  const details: string[] = [];
  for (let i = 0; i < 25; i++) {
    const err = await callError(whoAmIWith(c, guess()));
    assert.is(err.code, UNAUTH);
    details.push(err.details);
  }
  assert.equal(details.slice(0, 20), Array(20).fill("authorization: the token is not valid (unknown, or of another master)"));
  for (const d of details.slice(20)) assert.match(d, /^too many failed authentications from this address; retry in 1 s$/);
  // A token this peer already used is served from the cache; a valid one it never used is refused too.
  assert.is((await call(as(ctx, ctx.submitter.secret).admin, "whoAmI", {})).token.id, ctx.submitter.id);
  assert.is((await call(as(ctx, ctx.submitter.secret).tasks, "submitTask", { spec: spec("") })).task.spec.project, "A");
  const refused = await callError(call(as(ctx, fresh.secret).admin, "whoAmI", {}));
  assert.is(refused.code, UNAUTH);
  assert.match(refused.details, /retry in/);
  const after = await authFailures(ctx.m);
  assert.is(after.unknown! - before.unknown!, 20);
  assert.is(after.rate_limited! - before.rate_limited!, 6);
  forgiveFailures();
  assert.is((await call(as(ctx, fresh.secret).admin, "whoAmI", {})).token.id, fresh.id, "works once the bucket refilled");
  unfreeze();
  assert.ok(after.missing! >= 1 && after.malformed! >= 1 && after.expired! >= 1 && after.revoked! >= 1, JSON.stringify(after));
});

// --- 6. agent tokens and worker ids -----------------------------------------------------------------

auth("agent tokens: bound to their worker-id pattern; no takeover with another token; foreign reports change nothing", async (ctx) => {
  const { m, admin } = ctx;
  const gpu = await mint(admin, "A", Role.ROLE_AGENT, { name: "gpu-agents", workerPattern: "gpu-*" });
  const other = await mint(admin, "A", Role.ROLE_AGENT, { name: "other-gpu-agents", workerPattern: "gpu-*" });
  const wrongId = await connect(m.address, gpu.secret, "cpu-1");
  assert.is(wrongId.code, DENIED);
  assert.match(wrongId.details, /may register only worker ids matching "gpu-\*", not "cpu-1"/);
  assert.is(await codeOf(call(admin.admin, "getWorker", { workerId: "cpu-1" })), NOT_FOUND);

  const first = await connect(m.address, gpu.secret, "gpu-1", { tags: ["imp"], instanceId: "inst-gpu-1" });
  assert.is(first.code, OK, first.details);
  for (const [token, instanceId] of [
    [other.secret, "inst-gpu-1"],
    [gpu.secret, "inst-other"],
    [ctx.adminToken, "inst-gpu-1"],
  ] as const) {
    const second = await connect(m.address, token, "gpu-1", { tags: ["imp"], instanceId });
    assert.is(second.code, grpc.status.ALREADY_EXISTS, `${instanceId}: ${second.details}`);
    assert.match(second.details, /"gpu-1" is already connected/);
  }

  // Reports about gpu-1's attempt from another worker (gpu-2) are fenced: nothing is applied.
  const intruder = await connect(m.address, other.secret, "gpu-2", { tags: ["imp-2"] });
  assert.is(intruder.code, OK, intruder.details);
  const task = await submitAs(admin, running("A", "imp"));
  const assign = await first.agent.next("assign");
  assert.is(assign.taskId, task.id);
  const intrude = intruder.agent;
  intrude.send({ $case: "started", value: { attemptId: assign.attemptId, pid: 66, startedAt: new Date() } }, 1);
  intrude.send({ $case: "progress", value: { attemptId: assign.attemptId, percent: 50, message: "owned" } }, 2);
  intrude.send({ $case: "finished", value: { attemptId: assign.attemptId, result: okResult, finishedAt: new Date() } }, 3);
  intrude.send(
    {
      $case: "finished",
      value: { attemptId: assign.attemptId, result: { ...okResult, outcome: AttemptOutcome.ATTEMPT_OUTCOME_FAILED, exitCode: 1 }, finishedAt: new Date() },
    },
    4,
  );
  for (let ack = 0; ack < 4; ) ack = (await intrude.next("ack")).seq;
  assert.is((await intrude.next("cancel")).attemptId, assign.attemptId, "the intruder is told the attempt is not its own");
  const untouched = (await call(admin.tasks, "getTask", { taskId: task.id })).task;
  assert.is(untouched.state, TaskState.TASK_STATE_ASSIGNED);
  assert.is(untouched.progress, 0);
  assert.is(untouched.result, undefined);
  assert.is(untouched.attempts.length, 1);
  assert.is(untouched.attempts[0].startedAt, undefined);
  assert.is(untouched.attempts[0].workerId, "gpu-1");
  const rejected = parsePrometheusText(await (await fetch(`http://${m.master.metricsAddress}/metrics`)).text()).samples.find(
    (x) => x.name === "taskgrid_reports_rejected_total" && x.labels.reason === "foreign",
  );
  assert.is(rejected?.value, 4, "the four foreign reports are counted");

  // The owner's reports do apply, with its token as the actor.
  first.agent.send({ $case: "started", value: { attemptId: assign.attemptId, pid: 1, startedAt: new Date() } });
  first.agent.send({ $case: "finished", value: { attemptId: assign.attemptId, result: okResult, finishedAt: new Date() } });
  await waitForState(admin, task.id, TaskState.TASK_STATE_SUCCEEDED);
  const { events } = await call(admin.tasks, "getTask", { taskId: task.id });
  assert.is(events.find((e: TaskEvent) => e.state === TaskState.TASK_STATE_SUCCEEDED).actor, gpu.actor);

  // The same agent process (same token and instance id) may replace its own session.
  const again = await connect(m.address, gpu.secret, "gpu-1", { tags: ["imp"], instanceId: "inst-gpu-1" });
  assert.is(again.code, OK, again.details);
  await within(first.agent.ended, 10_000, "the replaced session");
  for (const a of [first.agent, intrude, again.agent]) a.close();
});

// --- 7. safe defaults --------------------------------------------------------------------------------

auth("safe defaults: 0.0.0.0 without auth is refused at start; with --insecure-allow-anyone it warns; with auth it starts", async (ctx) => {
  const err = await startMaster({ listen: "0.0.0.0:0", dataDir: join(ctx.dir, "never") }).then(
    () => null,
    (e: Error) => e,
  );
  assert.ok(err, "refused");
  assert.match(err!.message, /--insecure-allow-anyone/);
  assert.match(err!.message, /--auth/);

  // The other master listens on 0.0.0.0 with auth on: it started, without the insecure warning.
  assert.match(ctx.other.address, /^0\.0\.0\.0:\d+$/);
  assert.not.ok(ctx.other.logs.some((l) => l.includes("serving without auth")));
  assert.ok(ctx.other.logs.some((l) => l.includes("auth is on but TLS is off")));

  const open = await startTestMaster({ listen: "0.0.0.0:0", insecureAllowAnyone: true });
  try {
    assert.ok(
      open.logs.some((l) => l.includes("serving without auth on a non-loopback address")),
      "warned",
    );
    // Auth off: calls without a token work as before.
    const c = as(ctx, null, `127.0.0.1:${open.address.slice(open.address.lastIndexOf(":") + 1)}`);
    assert.is((await call(c.admin, "whoAmI", {})).authEnabled, false);
    assert.is((await submitAs(c, spec("anyone"))).spec.project, "anyone");
  } finally {
    await open.cleanup();
  }
});

auth.run();
