import * as assert from "uvu/assert";
import * as grpc from "@grpc/grpc-js";
import { RPC_RULES } from "../../src/core/access.js";
import { ListHistoryRequest, type ListHistoryResponse } from "../../src/gen/taskgrid/v1/history.js";
import { StreamLogsRequest } from "../../src/gen/taskgrid/v1/logs.js";
import { Role, TaskState, WorkerStatus } from "../../src/gen/taskgrid/v1/types.js";
import { call, waitForState, type RawClients } from "../helpers/grpc-clients.js";
import {
  OK,
  NOT_FOUND,
  DENIED,
  UNAUTH,
  codeOf,
  mint,
  connect,
  spec,
  running,
  authSuite,
  Watch,
  as,
  countTasks,
  stateOf,
  submitAs,
} from "../helpers/auth-cluster.js";

const auth = authSuite("auth: role x RPC");

// --- 1. the role x RPC matrix -----------------------------------------------------------------------

const WHO = ["viewer", "submitter", "admin", "agent", "none", "garbage"] as const;
type Who = (typeof WHO)[number];

/** Outcome names as printed: gRPC codes, and "OK, empty" for a list that came back empty. */
const NAMES: Record<number, string> = { [OK]: "OK", [NOT_FOUND]: "NOT_FOUND", [DENIED]: "DENIED", [UNAUTH]: "UNAUTH" };
const name = (code: number) => NAMES[code] ?? grpc.status[code];

// Written out, not derived from RPC_RULES, so that this test checks the rules. The viewer, submitter
// and agent tokens are of project A; "own" is a task (or filter) of project A, "other" of project B.
const EXPECTED: Record<string, Record<Who, string>> = {
  "SubmitTask (own project)": { viewer: "DENIED", submitter: "OK", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "SubmitTask (other project)": { viewer: "DENIED", submitter: "DENIED", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "SubmitTasks (own project)": { viewer: "DENIED", submitter: "OK", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "SubmitTasks (other project)": { viewer: "DENIED", submitter: "DENIED", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "GetTask (own project)": { viewer: "OK", submitter: "OK", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "GetTask (other project)": { viewer: "NOT_FOUND", submitter: "NOT_FOUND", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "ListTasks (no filter)": { viewer: "OK", submitter: "OK", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "ListTasks (other project)": { viewer: "OK, empty", submitter: "OK, empty", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "WatchTasks (own project)": { viewer: "OK", submitter: "OK", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "WatchTasks (other project)": { viewer: "NOT_FOUND", submitter: "NOT_FOUND", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  // Past the guard, a queued task has no attempt (no log) yet: FAILED_PRECONDITION is the handler's answer.
  "StreamLogs (own project)": {
    viewer: "FAILED_PRECONDITION",
    submitter: "FAILED_PRECONDITION",
    admin: "FAILED_PRECONDITION",
    agent: "DENIED",
    none: "UNAUTH",
    garbage: "UNAUTH",
  },
  "StreamLogs (other project)": {
    viewer: "NOT_FOUND",
    submitter: "NOT_FOUND",
    admin: "FAILED_PRECONDITION",
    agent: "DENIED",
    none: "UNAUTH",
    garbage: "UNAUTH",
  },
  "CancelTask (own project)": { viewer: "DENIED", submitter: "OK", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "CancelTask (other project)": { viewer: "DENIED", submitter: "NOT_FOUND", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "PauseTask (own project)": { viewer: "DENIED", submitter: "OK", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "PauseTask (other project)": { viewer: "DENIED", submitter: "NOT_FOUND", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "ResumeTask (own project)": { viewer: "DENIED", submitter: "OK", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "ResumeTask (other project)": { viewer: "DENIED", submitter: "NOT_FOUND", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "HoldTask (own project)": { viewer: "DENIED", submitter: "OK", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "HoldTask (other project)": { viewer: "DENIED", submitter: "NOT_FOUND", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "ReleaseTask (own project)": { viewer: "DENIED", submitter: "OK", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "ReleaseTask (other project)": { viewer: "DENIED", submitter: "NOT_FOUND", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  // Evaluated after the cancel rows, which leave finished (canceled) tasks in both projects.
  "ListHistory (no filter)": { viewer: "OK", submitter: "OK", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "ListHistory (other project)": { viewer: "OK, empty", submitter: "OK, empty", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  ListWorkers: { viewer: "OK", submitter: "OK", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  GetWorker: { viewer: "OK", submitter: "OK", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  GetSchedulerInfo: { viewer: "OK", submitter: "OK", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  DrainWorker: { viewer: "DENIED", submitter: "DENIED", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  UndrainWorker: { viewer: "DENIED", submitter: "DENIED", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  CreateToken: { viewer: "DENIED", submitter: "DENIED", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  ListTokens: { viewer: "DENIED", submitter: "DENIED", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  RevokeToken: { viewer: "DENIED", submitter: "DENIED", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  WhoAmI: { viewer: "OK", submitter: "OK", admin: "OK", agent: "OK", none: "UNAUTH", garbage: "UNAUTH" },
  SetQuota: { viewer: "DENIED", submitter: "DENIED", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  ListQuotas: { viewer: "OK", submitter: "OK", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  DeleteQuota: { viewer: "DENIED", submitter: "DENIED", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  GetShares: { viewer: "OK", submitter: "OK", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "WorkerService.Connect": { viewer: "DENIED", submitter: "DENIED", admin: "OK", agent: "OK", none: "UNAUTH", garbage: "UNAUTH" },
};

auth("role x RPC matrix: every guarded RPC, every role, own and other project; refused calls change nothing", async (ctx) => {
  const { m, admin } = ctx;
  const tokenOf: Record<Who, string | null> = {
    viewer: ctx.viewer.secret,
    submitter: ctx.submitter.secret,
    admin: ctx.adminToken,
    agent: ctx.agent.secret,
    none: null,
    garbage: "garbage",
  };
  const clientOf = (who: Who) => as(ctx, tokenOf[who]);

  // Fixtures: a queued task per project, a running one per project (on a raw agent), a worker to drain.
  const runner = await connect(m.address, (await mint(admin, "A", Role.ROLE_AGENT, { name: "matrix-runner" })).secret, "w-matrix", { tags: ["matrix"] });
  assert.is(runner.code, OK, runner.details);
  const queued = { own: (await submitAs(admin, spec("A"))).id as string, other: (await submitAs(admin, spec("B"))).id as string };
  const run = { own: (await submitAs(admin, running("A", "matrix"))).id as string, other: (await submitAs(admin, running("B", "matrix"))).id as string };
  for (let i = 0; i < 2; i++) {
    const a = await runner.agent.next("assign");
    runner.agent.send({ $case: "started", value: { attemptId: a.attemptId, pid: 1, startedAt: new Date() } });
  }
  for (const id of Object.values(run)) await waitForState(admin, id, TaskState.TASK_STATE_RUNNING);
  const drainTarget = await connect(m.address, ctx.agent.secret, "w-drain-target");
  assert.is(drainTarget.code, OK, drainTarget.details);
  /** Brings a running task to `state` as admin (pause and resume cells need a precondition). */
  const ensure = async (taskId: string, state: TaskState) => {
    if ((await stateOf(ctx, taskId)) === state) return;
    await call(admin.tasks, state === TaskState.TASK_STATE_PAUSED ? "pauseTask" : "resumeTask", { taskId });
    assert.is(await stateOf(ctx, taskId), state);
  };
  const tokenCount = async () => (await call(admin.admin, "listTokens", { includeInactive: true })).tokens.length;
  const workerStatus = async (workerId: string) => (await call(admin.admin, "getWorker", { workerId })).worker.status as WorkerStatus;
  const failures: string[] = [];
  const expectThat = (ok: boolean, what: string) => ok || failures.push(what);

  type Cell = (who: Who, c: RawClients) => Promise<string>;
  const submitCell =
    (project: string, batch: boolean): Cell =>
    async (who, c) => {
      const before = await countTasks(ctx);
      const code = await codeOf(
        batch ? call(c.tasks, "submitTasks", { specs: [spec(project), spec(project)] }) : call(c.tasks, "submitTask", { spec: spec(project) }),
      );
      expectThat(
        (await countTasks(ctx)) === before + (code === OK ? (batch ? 2 : 1) : 0),
        `${who}: SubmitTask${batch ? "s" : ""} ${project} (${name(code)}) changed the task count wrongly`,
      );
      return name(code);
    };
  const controlCell =
    (side: "own" | "other", method: "cancelTask" | "pauseTask" | "resumeTask"): Cell =>
    async (who, c) => {
      let taskId: string;
      let before: TaskState;
      let after: TaskState;
      if (method === "cancelTask") {
        taskId = (await submitAs(admin, spec(side === "own" ? "A" : "B"))).id;
        [before, after] = [TaskState.TASK_STATE_QUEUED, TaskState.TASK_STATE_CANCELED];
      } else {
        taskId = run[side];
        [before, after] =
          method === "pauseTask" ? [TaskState.TASK_STATE_RUNNING, TaskState.TASK_STATE_PAUSED] : [TaskState.TASK_STATE_PAUSED, TaskState.TASK_STATE_RUNNING];
        await ensure(taskId, before);
      }
      const code = await codeOf(call(c.tasks, method, { taskId, reason: "matrix" }));
      const state = await stateOf(ctx, taskId);
      expectThat(state === (code === OK ? after : before), `${who}: ${method} ${side} (${name(code)}) left the task ${TaskState[state]}`);
      return name(code);
    };
  /** HoldTask / ReleaseTask of a fresh queued task: its hold changes exactly when the call is OK. */
  const holdCell =
    (side: "own" | "other", method: "holdTask" | "releaseTask"): Cell =>
    async (who, c) => {
      const heldBefore = method === "releaseTask";
      const taskId = (await submitAs(admin, spec(side === "own" ? "A" : "B", heldBefore ? { hold: true } : {}))).id;
      const code = await codeOf(call(c.tasks, method, { taskId }));
      const held = (await call(ctx.admin.tasks, "getTask", { taskId })).task.spec.hold as boolean;
      expectThat(held === (code === OK ? !heldBefore : heldBefore), `${who}: ${method} ${side} (${name(code)}) left hold ${held}`);
      return name(code);
    };
  const listCell =
    (project: string): Cell =>
    async (who, c) => {
      try {
        const { tasks } = await call(c.tasks, "listTasks", { project, pageSize: 1000 });
        const projects = new Set(tasks.map((t: { spec: { project: string } }) => t.spec.project));
        if (who !== "admin")
          expectThat(
            [...projects].every((p) => p === "A"),
            `${who}: ListTasks ${JSON.stringify(project)} showed projects ${[...projects]}`,
          );
        else
          expectThat(
            project === "" ? projects.has("A") && projects.has("B") : [...projects].every((p) => p === project),
            `admin: ListTasks ${JSON.stringify(project)} showed projects ${[...projects]}`,
          );
        return tasks.length === 0 ? "OK, empty" : "OK";
      } catch (err) {
        return name((err as grpc.ServiceError).code);
      }
    };
  const historyCell =
    (project: string): Cell =>
    async (who, c) => {
      try {
        // Straight on the raw client: call() finds request types in task_service/admin_service only.
        const { rows } = await new Promise<ListHistoryResponse>((resolve, reject) =>
          c.tasks.listHistory(ListHistoryRequest.fromPartial({ project, pageSize: 1000 }), (err, res) => (err ? reject(err) : resolve(res!))),
        );
        const projects = new Set(rows.map((r) => r.project));
        const allowed =
          who !== "admin"
            ? [...projects].every((p) => p === "A")
            : project === ""
              ? projects.has("A") && projects.has("B")
              : [...projects].every((p) => p === project);
        expectThat(allowed, `${who}: ListHistory ${JSON.stringify(project)} showed projects ${[...projects]}`);
        return rows.length === 0 ? "OK, empty" : "OK";
      } catch (err) {
        return name((err as grpc.ServiceError).code);
      }
    };
  const codeCell =
    (f: (c: RawClients) => Promise<unknown>): Cell =>
    async (_who, c) =>
      name(await codeOf(f(c)));

  const ROWS: Record<string, Cell> = {
    "SubmitTask (own project)": submitCell("A", false),
    "SubmitTask (other project)": submitCell("B", false),
    "SubmitTasks (own project)": submitCell("A", true),
    "SubmitTasks (other project)": submitCell("B", true),
    "GetTask (own project)": codeCell((c) => call(c.tasks, "getTask", { taskId: queued.own })),
    "GetTask (other project)": codeCell((c) => call(c.tasks, "getTask", { taskId: queued.other })),
    "ListTasks (no filter)": listCell(""),
    "ListTasks (other project)": listCell("B"),
    "WatchTasks (own project)": async (_who, c) => name(await new Watch(c, { taskIds: [queued.own] }).outcome()),
    "WatchTasks (other project)": async (_who, c) => name(await new Watch(c, { taskIds: [queued.other] }).outcome()),
    "StreamLogs (own project)": async (_who, c) => name(await streamLogsCode(c, queued.own)),
    "StreamLogs (other project)": async (_who, c) => name(await streamLogsCode(c, queued.other)),
    "CancelTask (own project)": controlCell("own", "cancelTask"),
    "CancelTask (other project)": controlCell("other", "cancelTask"),
    "PauseTask (own project)": controlCell("own", "pauseTask"),
    "PauseTask (other project)": controlCell("other", "pauseTask"),
    "ResumeTask (own project)": controlCell("own", "resumeTask"),
    "ResumeTask (other project)": controlCell("other", "resumeTask"),
    "HoldTask (own project)": holdCell("own", "holdTask"),
    "HoldTask (other project)": holdCell("other", "holdTask"),
    "ReleaseTask (own project)": holdCell("own", "releaseTask"),
    "ReleaseTask (other project)": holdCell("other", "releaseTask"),
    "ListHistory (no filter)": historyCell(""),
    "ListHistory (other project)": historyCell("B"),
    ListWorkers: codeCell((c) => call(c.admin, "listWorkers", {})),
    GetWorker: codeCell((c) => call(c.admin, "getWorker", { workerId: "w-matrix" })),
    GetSchedulerInfo: codeCell((c) => call(c.admin, "getSchedulerInfo", {})),
    DrainWorker: async (who, c) => {
      const before = await workerStatus("w-drain-target");
      const code = await codeOf(call(c.admin, "drainWorker", { workerId: "w-drain-target", reason: "matrix" }));
      const after = await workerStatus("w-drain-target");
      expectThat(
        after === (code === OK ? WorkerStatus.WORKER_STATUS_DRAINING : before),
        `${who}: DrainWorker (${name(code)}) left the worker ${WorkerStatus[after]}`,
      );
      return name(code);
    },
    UndrainWorker: async (who, c) => {
      const code = await codeOf(call(c.admin, "undrainWorker", { workerId: "w-drain-target" }));
      const after = await workerStatus("w-drain-target");
      expectThat(code !== OK || after === WorkerStatus.WORKER_STATUS_ONLINE, `${who}: UndrainWorker (${name(code)}) left the worker ${WorkerStatus[after]}`);
      return name(code);
    },
    SetQuota: async (who, c) => {
      const project = `quota-by-${who}`;
      const code = await codeOf(call(c.admin, "setQuota", { quota: { project, nominal: { gpu: 1 } } }));
      const stored = (await call(admin.admin, "listQuotas", {})).quotas.some((q: { quota: { project: string } }) => q.quota.project === project);
      expectThat(stored === (code === OK), `${who}: SetQuota (${name(code)}) ${stored ? "stored" : "did not store"} the quota`);
      return name(code);
    },
    ListQuotas: codeCell((c) => call(c.admin, "listQuotas", {})),
    DeleteQuota: async (who, c) => {
      const project = `quota-target-${who}`;
      await call(admin.admin, "setQuota", { quota: { project, nominal: { gpu: 1 } } });
      const code = await codeOf(call(c.admin, "deleteQuota", { project }));
      const stored = (await call(admin.admin, "listQuotas", {})).quotas.some((q: { quota: { project: string } }) => q.quota.project === project);
      expectThat(stored === (code !== OK), `${who}: DeleteQuota (${name(code)}) left the quota ${stored ? "in place" : "gone"}`);
      return name(code);
    },
    GetShares: codeCell((c) => call(c.admin, "getShares", {})),
    CreateToken: async (who, c) => {
      const before = await tokenCount();
      const code = await codeOf(call(c.admin, "createToken", { project: "A", role: Role.ROLE_ADMIN, name: `made-by-${who}` }));
      expectThat((await tokenCount()) === before + (code === OK ? 1 : 0), `${who}: CreateToken (${name(code)}) changed the token count wrongly`);
      return name(code);
    },
    ListTokens: codeCell((c) => call(c.admin, "listTokens", {})),
    RevokeToken: async (who, c) => {
      const target = await mint(admin, "A", Role.ROLE_VIEWER, { name: `revoke-target-${who}` });
      const code = await codeOf(call(c.admin, "revokeToken", { tokenId: target.id }));
      const [stored] = (await call(admin.admin, "listTokens", { includeInactive: true })).tokens.filter((t: { id: string }) => t.id === target.id);
      expectThat((stored.revokedAt !== undefined) === (code === OK), `${who}: RevokeToken (${name(code)}) left revoked_at ${stored.revokedAt}`);
      return name(code);
    },
    WhoAmI: codeCell((c) => call(c.admin, "whoAmI", {})),
    "WorkerService.Connect": async (who) => {
      const r = await connect(m.address, tokenOf[who], `w-connect-${who}`);
      if (r.code === OK) r.agent.close();
      else
        expectThat(
          (await codeOf(call(admin.admin, "getWorker", { workerId: `w-connect-${who}` }))) === NOT_FOUND,
          `${who}: a refused Connect registered the worker`,
        );
      return name(r.code);
    },
  };
  assert.equal(Object.keys(ROWS).sort(), Object.keys(EXPECTED).sort());

  const actual: Record<string, Record<Who, string>> = {};
  for (const [rpc, cell] of Object.entries(ROWS)) {
    actual[rpc] = {} as Record<Who, string>;
    for (const who of WHO) actual[rpc][who] = await cell(who, clientOf(who));
  }
  // Every RPC of the guarded services is in the matrix (health and reflection are public).
  const guarded = Object.entries(RPC_RULES)
    .filter(([, rule]) => rule !== "public")
    .map(([path]) => path.slice(path.lastIndexOf("/") + 1));
  for (const method of guarded)
    assert.ok(
      Object.keys(EXPECTED).some((rpc) => rpc.split(" ")[0]!.replace("WorkerService.", "") === method),
      `${method} is missing from the matrix`,
    );

  printMatrix(actual);
  const wrong = Object.keys(EXPECTED).flatMap((rpc) =>
    WHO.filter((who) => actual[rpc]![who] !== EXPECTED[rpc]![who]).map((who) => `${rpc} as ${who}: ${actual[rpc]![who]}, expected ${EXPECTED[rpc]![who]}`),
  );
  assert.equal(wrong, [], wrong.join("\n"));
  assert.equal(failures, [], failures.join("\n"));

  for (const id of Object.values(run)) await call(admin.tasks, "cancelTask", { taskId: id });
  runner.agent.close();
  drainTarget.agent.close();
});

function printMatrix(actual: Record<string, Record<Who, string>>): void {
  const rows = Object.keys(EXPECTED);
  const width = Math.max(...rows.map((r) => r.length));
  const col = Math.max(...WHO.map((w) => w.length), ...rows.flatMap((r) => WHO.map((w) => actual[r]![w].length))) + 2;
  const line = (first: string, cells: string[]) => `${first.padEnd(width + 2)}${cells.map((c) => c.padEnd(col)).join("")}`.trimEnd();
  const out = [
    "role x RPC (auth on; viewer/submitter/agent tokens of project A; own = project A's task or filter, other = project B's;",
    "DENIED = PERMISSION_DENIED, UNAUTH = UNAUTHENTICATED; a cell that differs from the expectation is marked with !)",
    line("RPC", [...WHO]),
    ...rows.map((r) =>
      line(
        r,
        WHO.map((w) => (actual[r]![w] === EXPECTED[r]![w] ? actual[r]![w] : `!${actual[r]![w]}`)),
      ),
    ),
  ];
  console.log(`\n${out.join("\n")}\n`);
}

auth.run();

/** The status a StreamLogs call (no follow) ended with. */
function streamLogsCode(c: RawClients, taskId: string): Promise<number> {
  return new Promise((resolve) => {
    const stream = c.tasks.streamLogs(StreamLogsRequest.fromPartial({ taskId }));
    stream.on("data", () => {});
    stream.on("error", () => {});
    stream.on("status", (s: grpc.StatusObject) => resolve(s.code));
  });
}
