// The access rules of the pure core (src/core/access.ts) and the token format: roles, the RPC rule
// table, project visibility and the worker-id patterns agents are bound to.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  actorOf,
  allows,
  authorize,
  type Caller,
  OPEN_ACCESS,
  ROLES,
  RPC_RULES,
  seesProject,
  submitProject,
  visibleProjectFilter,
  workerIdAllowed,
} from "../../src/core/access.js";
import { PermissionDeniedError, UnauthenticatedError } from "../../src/core/errors.js";
import { formatToken, MAX_AUTHORIZATION_LENGTH, parseAuthorization } from "../../src/core/token-format.js";
import { AdminServiceService } from "../../src/gen/taskgrid/v1/admin_service.js";
import { TaskServiceService } from "../../src/gen/taskgrid/v1/task_service.js";
import { WorkerServiceService } from "../../src/gen/taskgrid/v1/worker_service.js";

const caller = (role: Caller["role"], project: string | null = "A"): Caller => ({ tokenId: "t", role, project, workerPattern: "", actor: "token t (x)" });

test("every served Taskgrid method has a rule, and every rule names a served or standard method", () => {
  const served = [TaskServiceService, WorkerServiceService, AdminServiceService].flatMap((s) => Object.values(s).map((m) => m.path));
  for (const path of served) assert.ok(RPC_RULES[path], `no rule for ${path}`);
  for (const path of Object.keys(RPC_RULES)) assert.ok(served.includes(path) || /^\/grpc\./.test(path), `rule for unknown ${path}`);
});

test("role grants: viewer reads, submitter writes tasks, agent only connects, admin everything", () => {
  assert.equal(
    ROLES.map((r) => [r, ["tasks.read", "tasks.write", "cluster.read", "cluster.write", "tokens", "worker.connect"].filter((p) => allows(r, p as never))]),
    [
      ["viewer", ["tasks.read", "cluster.read"]],
      ["submitter", ["tasks.read", "tasks.write", "cluster.read"]],
      ["admin", ["tasks.read", "tasks.write", "cluster.read", "cluster.write", "tokens", "worker.connect"]],
      ["agent", ["worker.connect"]],
    ],
  );
});

test("authorize throws PermissionDeniedError naming the role and the RPC; public rules admit anyone", () => {
  authorize(caller("viewer"), "/taskgrid.v1.TaskService/GetTask", "tasks.read");
  authorize(caller("agent"), "/grpc.health.v1.Health/Check", "public");
  try {
    authorize(caller("viewer"), "/taskgrid.v1.TaskService/CancelTask", "tasks.write");
    assert.unreachable();
  } catch (err) {
    assert.instance(err, PermissionDeniedError);
    assert.is((err as Error).message, "role viewer may not call CancelTask");
  }
});

test("projects: a project's caller sees only it, admins and open access see all", () => {
  assert.ok(seesProject(caller("viewer"), "A"));
  assert.not.ok(seesProject(caller("viewer"), "B"));
  assert.ok(seesProject(caller("admin", null), "B"));
  assert.ok(seesProject(OPEN_ACCESS, "anything"));
  assert.equal(visibleProjectFilter(caller("viewer"), ""), { project: "A", empty: false });
  assert.equal(visibleProjectFilter(caller("viewer"), "B"), { project: "B", empty: true });
  assert.equal(visibleProjectFilter(OPEN_ACCESS, ""), { project: "", empty: false });
});

test("submitProject fills the caller's project and refuses another one", () => {
  assert.is(submitProject(caller("submitter"), "", "spec.project"), "A");
  assert.is(submitProject(caller("submitter"), "A", "spec.project"), "A");
  assert.is(submitProject(OPEN_ACCESS, "", "spec.project"), "");
  assert.is(submitProject(caller("admin", null), "B", "spec.project"), "B");
  assert.throws(
    () => submitProject(caller("submitter"), "B", "specs[2].project"),
    (err: Error) => err instanceof PermissionDeniedError && err.message.startsWith("specs[2].project: "),
  );
});

test("worker-id patterns: * is any run, everything else literal (regex characters too)", () => {
  assert.ok(workerIdAllowed("", "anything"));
  assert.ok(workerIdAllowed("gpu-*", "gpu-1"));
  assert.ok(workerIdAllowed("gpu-*", "gpu-"));
  assert.not.ok(workerIdAllowed("gpu-*", "cpu-1"));
  assert.not.ok(workerIdAllowed("gpu-*", "xgpu-1"));
  assert.ok(workerIdAllowed("node.1", "node.1"));
  assert.not.ok(workerIdAllowed("node.1", "nodeX1"));
  assert.ok(workerIdAllowed("*-a-*", "x-a-y"));
  assert.not.ok(workerIdAllowed("exact", "exact\nmore"));
});

test("actorOf names the token id and its name", () => {
  assert.is(actorOf({ id: "0123456789abcdef", name: "ci" }), "token 0123456789abcdef (ci)");
});

test("parseAuthorization: Bearer + tg1.<id>.<secret>, everything else UNAUTHENTICATED with a reason", () => {
  const secret = "A".repeat(43);
  const token = formatToken("0123456789abcdef", secret);
  assert.equal(parseAuthorization(`Bearer ${token}`), { id: "0123456789abcdef", secret });
  assert.equal(parseAuthorization(`bearer   ${token}`), { id: "0123456789abcdef", secret });
  const reason = (value: string | undefined) => {
    try {
      parseAuthorization(value);
      return "ok";
    } catch (err) {
      assert.instance(err, UnauthenticatedError);
      return (err as UnauthenticatedError).reason;
    }
  };
  assert.is(reason(undefined), "missing");
  assert.is(reason(""), "missing");
  assert.is(reason(token), "malformed"); // no scheme
  assert.is(reason(`Basic ${token}`), "malformed");
  assert.is(reason(`Bearer ${token.slice(0, -1)}`), "malformed"); // truncated
  assert.is(reason(`Bearer tg2.0123456789abcdef.${secret}`), "malformed");
  assert.is(reason(`Bearer tg1.0123456789ABCDEF.${secret}`), "malformed");
  assert.is(reason(`Bearer ${token} extra`), "malformed");
  assert.is(reason(`Bearer ${"x".repeat(MAX_AUTHORIZATION_LENGTH)}`), "malformed");
  assert.is(reason(`Bearer ${token}\u0000`), "malformed");
});

test.run();
