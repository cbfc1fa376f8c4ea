// Tenants and trust (DESIGN §10) against real masters over loopback gRPC: the role x RPC matrix
// (every guarded RPC, every role, no token and a garbage token, the caller's own and another
// project), checked against an expectation table written out here and printed at the end; project
// isolation (another project's task reads as a missing one, lists and watches never show it); audit
// actors; token administration, revocation (also by another master on the same database), expiry
// and tokens of another master; malformed credentials and the brute-force brake; agent tokens bound
// to worker ids; the safe listen defaults; and the malformed-spec tables with auth on.
//
// One master serves most tests. Its clock is real time plus a skew the tests move (token expiry,
// and `forgiveFailures`: every client here is 127.0.0.1, so the failures one test makes on purpose
// would otherwise rate-limit new tokens in the next). Nothing sleeps: tests wait on stream events
// or poll a condition in a bounded loop.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import * as grpc from "@grpc/grpc-js";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMaster } from "../../master/master.js";
import { RPC_RULES } from "../../src/core/access.js";
import type { Clock } from "../../master/clock.js";
import { WhoAmIRequest } from "../../src/gen/taskgrid/v1/admin_service.js";
import type { TaskEvent } from "../../src/gen/taskgrid/v1/task.js";
import { WatchTasksRequest, type WatchTasksResponse } from "../../src/gen/taskgrid/v1/task_service.js";
import { AttemptOutcome, Role, TaskState, WorkerStatus } from "../../src/gen/taskgrid/v1/types.js";
import { parsePrometheusText } from "../helpers/prom-text.js";
import { BAD_SPECS, NUL_RULE, NUL_SPEC_CASES } from "../helpers/bad-specs.js";
import { call, callError, rawClients, waitForState, type RawClients } from "../helpers/grpc-clients.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

const usingPostgres = Boolean(process.env.TASKGRID_TEST_PG_URL);

// --- the first master's clock -------------------------------------------------------------------

let skewMs = 0;
let frozenAtMs: number | null = null;
const clock: Clock = { now: () => frozenAtMs ?? Date.now() + skewMs };
const advance = (ms: number) => (frozenAtMs === null ? (skewMs += ms) : (frozenAtMs += ms));
/** Time stands still until `unfreeze` (the failure limiter refills with time: exact counts need it still). */
const freeze = () => (frozenAtMs = clock.now());
const unfreeze = () => {
  if (frozenAtMs !== null) skewMs = frozenAtMs - Date.now();
  frozenAtMs = null;
};
/** The failure limiter forgets this peer's earlier failures (its bucket refills 1 per second, up to 20). */
const forgiveFailures = () => advance(60_000);

// --- helpers --------------------------------------------------------------------------------------

const OK = grpc.status.OK;
const NOT_FOUND = grpc.status.NOT_FOUND;
const DENIED = grpc.status.PERMISSION_DENIED;
const UNAUTH = grpc.status.UNAUTHENTICATED;

/** The status code a call ended with (OK when it succeeded). */
const codeOf = (p: Promise<unknown>): Promise<number> =>
  p.then(
    () => OK,
    (e: grpc.ServiceError) => e.code,
  );

/** Fails, rather than hanging the file, if `p` has not settled in `ms`: a bound on an awaited event, not a sleep. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms)));
  return Promise.race([p, bound]).finally(() => clearTimeout(timer));
}

interface Minted {
  id: string;
  name: string;
  secret: string;
  /** The audit actor of its calls. */
  actor: string;
}

async function mint(admin: RawClients, project: string, role: Role, extra: Record<string, unknown> = {}): Promise<Minted> {
  const res = await call(admin.admin, "createToken", { project, role, ...extra });
  return { id: res.token.id, name: res.token.name, secret: res.secret, actor: `token ${res.token.id} (${res.token.name})` };
}

/** A watch stream: its events, the first one's arrival, and the status it ended with. */
class Watch {
  readonly events: TaskEvent[] = [];
  readonly ended: Promise<grpc.StatusObject>;
  /** Set once the stream ended. */
  status: grpc.StatusObject | null = null;
  private readonly stream: grpc.ClientReadableStream<WatchTasksResponse>;
  private waiters: Array<() => void> = [];

  constructor(c: RawClients, request: Partial<WatchTasksRequest>) {
    this.stream = c.tasks.watchTasks(WatchTasksRequest.fromPartial(request));
    this.stream.on("data", (m: WatchTasksResponse) => {
      if (m.event) this.events.push(m.event);
      this.wake();
    });
    this.stream.on("error", () => {});
    this.ended = new Promise((resolve) =>
      this.stream.on("status", (s: grpc.StatusObject) => {
        this.status = s;
        resolve(s);
        this.wake();
      }),
    );
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves with the first event matching `pred` (past or future); rejects if the stream ends first. */
  async until(pred: (e: TaskEvent) => boolean): Promise<TaskEvent> {
    for (;;) {
      const hit = this.events.find(pred);
      if (hit) return hit;
      if (this.status) throw new Error(`watch ended (${this.status.code}: ${this.status.details}) before the event`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** OK once the first event arrives (the stream is then cancelled), else the code it ended with. */
  async outcome(): Promise<number> {
    const first = this.until(() => true).then(
      () => OK,
      () => null,
    );
    const code = await Promise.race([first, this.ended.then((s) => s.code)]);
    this.cancel();
    return code ?? (await this.ended).code;
  }

  cancel(): void {
    this.stream.cancel();
  }
}

/** Connects a raw agent and registers it: OK when registered (the agent is returned open), else the code the stream ended with. */
async function connect(
  address: string,
  token: string | null,
  workerId: string,
  extra: Parameters<RawAgent["register"]>[1] = {},
): Promise<{ code: number; details: string; agent: RawAgent }> {
  const agent = new RawAgent(address, token === null ? {} : { token });
  agent.register(workerId, { tags: ["auth-test-none"], ...extra });
  try {
    await agent.next("registered");
    return { code: OK, details: "", agent };
  } catch {
    const s = await agent.ended;
    agent.close();
    return { code: s.code, details: s.details, agent };
  }
}

/** Every task here needs a tag no worker has (stays QUEUED) unless a test gives it one. */
const spec = (project: string, extra: Record<string, unknown> = {}) => ({
  command: ["echo", "hi"],
  name: "auth-test",
  project,
  requiredTags: ["nowhere"],
  ...extra,
});
const running = (project: string, tag: string) => spec(project, { command: ["sleep", "1000"], requiredTags: [tag] });
const okResult = { outcome: AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, exitCode: 0, signal: "", outputTail: "", durationMs: 1, message: "" };
const MISSING_TASK = "0190aaaa-0000-7000-8000-000000000000";

function whoAmIWith(c: RawClients, metadata: grpc.Metadata): Promise<any> {
  return new Promise((resolve, reject) => c.admin.whoAmI(WhoAmIRequest.fromPartial({}), metadata, (err, res) => (err ? reject(err) : resolve(res))));
}
const metadataOf = (fill: (m: grpc.Metadata) => void) => {
  const m = new grpc.Metadata();
  fill(m);
  return m;
};

async function authFailures(m: TestMaster): Promise<Record<string, number>> {
  const text = await (await fetch(`http://${m.master.metricsAddress}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const s of parsePrometheusText(text).samples) if (s.name === "taskgrid_auth_failures_total") out[s.labels.reason!] = s.value;
  return out;
}

// --- the shared masters ---------------------------------------------------------------------------

interface Ctx {
  m: TestMaster;
  /** A second master with its own database, listening on 0.0.0.0 with auth on. */
  other: TestMaster;
  otherAddress: string;
  otherAdmin: string;
  dir: string;
  admin: RawClients;
  adminToken: string;
  /** Project A's tokens, and project B's. */
  viewer: Minted;
  submitter: Minted;
  agent: Minted;
  viewerB: Minted;
  submitterB: Minted;
  clients: Map<string, RawClients>;
}

const auth = suite<Ctx>("auth");

/** Clients of a token (cached per token; closed after the suite); null: no token at all. */
function as(ctx: Ctx, token: string | null, address = ctx.m.address): RawClients {
  const key = `${address} ${token}`;
  let c = ctx.clients.get(key);
  if (!c) ctx.clients.set(key, (c = rawClients(address, token ?? undefined)));
  return c;
}

auth.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), "taskgrid-auth-"));
  ctx.clients = new Map();
  const livenessOff = { suspectAfterMs: 3_600_000, offlineAfterMs: 3_600_000 }; // the clock jumps; workers must not go SUSPECT
  [ctx.m, ctx.other] = await Promise.all([
    startTestMaster({ auth: true, bootstrapTokenFile: join(ctx.dir, "admin-token"), metrics: "127.0.0.1:0", clock, authRefreshMs: 200, ...livenessOff }),
    startTestMaster({ listen: "0.0.0.0:0", auth: true, bootstrapTokenFile: join(ctx.dir, "other-admin-token"), authRefreshMs: 200 }),
  ]);
  ctx.otherAddress = `127.0.0.1:${ctx.other.address.slice(ctx.other.address.lastIndexOf(":") + 1)}`;
  ctx.otherAdmin = readFileSync(join(ctx.dir, "other-admin-token"), "utf8").trim();
  ctx.adminToken = readFileSync(join(ctx.dir, "admin-token"), "utf8").trim();
  ctx.admin = as(ctx, ctx.adminToken);
  ctx.viewer = await mint(ctx.admin, "A", Role.ROLE_VIEWER, { name: "viewer-a" });
  ctx.submitter = await mint(ctx.admin, "A", Role.ROLE_SUBMITTER, { name: "submitter-a" });
  ctx.agent = await mint(ctx.admin, "A", Role.ROLE_AGENT, { name: "agent-a" });
  ctx.viewerB = await mint(ctx.admin, "B", Role.ROLE_VIEWER, { name: "viewer-b" });
  ctx.submitterB = await mint(ctx.admin, "B", Role.ROLE_SUBMITTER, { name: "submitter-b" });
  // Verified once now, so the failures tests cause on purpose never rate-limit them.
  for (const t of [ctx.viewer, ctx.submitter, ctx.agent, ctx.viewerB, ctx.submitterB]) await call(as(ctx, t.secret).admin, "whoAmI", {});
});

auth.after(async (ctx) => {
  for (const c of ctx.clients.values()) c.close();
  await ctx.m?.cleanup();
  await ctx.other?.cleanup();
  rmSync(ctx.dir, { recursive: true, force: true });
});

auth.before.each(() => {
  unfreeze();
  forgiveFailures();
});

const countTasks = async (ctx: Ctx) => (await call(ctx.admin.tasks, "listTasks", { pageSize: 1000 })).tasks.length;
const stateOf = async (ctx: Ctx, taskId: string) => (await call(ctx.admin.tasks, "getTask", { taskId })).task.state as TaskState;
const submitAs = async (c: RawClients, s: Record<string, unknown>) => (await call(c.tasks, "submitTask", { spec: s })).task;

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
  "CancelTask (own project)": { viewer: "DENIED", submitter: "OK", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "CancelTask (other project)": { viewer: "DENIED", submitter: "NOT_FOUND", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "PauseTask (own project)": { viewer: "DENIED", submitter: "OK", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "PauseTask (other project)": { viewer: "DENIED", submitter: "NOT_FOUND", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "ResumeTask (own project)": { viewer: "DENIED", submitter: "OK", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  "ResumeTask (other project)": { viewer: "DENIED", submitter: "NOT_FOUND", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  ListWorkers: { viewer: "OK", submitter: "OK", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  GetWorker: { viewer: "OK", submitter: "OK", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  GetSchedulerInfo: { viewer: "OK", submitter: "OK", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  DrainWorker: { viewer: "DENIED", submitter: "DENIED", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  CreateToken: { viewer: "DENIED", submitter: "DENIED", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  ListTokens: { viewer: "DENIED", submitter: "DENIED", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  RevokeToken: { viewer: "DENIED", submitter: "DENIED", admin: "OK", agent: "DENIED", none: "UNAUTH", garbage: "UNAUTH" },
  WhoAmI: { viewer: "OK", submitter: "OK", admin: "OK", agent: "OK", none: "UNAUTH", garbage: "UNAUTH" },
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
    "CancelTask (own project)": controlCell("own", "cancelTask"),
    "CancelTask (other project)": controlCell("other", "cancelTask"),
    "PauseTask (own project)": controlCell("own", "pauseTask"),
    "PauseTask (other project)": controlCell("other", "pauseTask"),
    "ResumeTask (own project)": controlCell("own", "resumeTask"),
    "ResumeTask (other project)": controlCell("other", "resumeTask"),
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
  auth("two masters on one database: a revocation through one ends the token's streams on the other", async (ctx) => {
    // The second master shares the other master's database (no tasks or workers there to fight over).
    const peer = await startTestMaster({ auth: true, authRefreshMs: 200 }, ctx.other.db);
    try {
      const first = as(ctx, ctx.otherAdmin, ctx.otherAddress);
      const t = await mint(first, "P", Role.ROLE_VIEWER, { name: "revoked-elsewhere" });
      const task = await submitAs(first, spec("P"));
      const watch = new Watch(as(ctx, t.secret, ctx.otherAddress), { taskIds: [task.id] });
      await watch.until(() => true);
      await call(as(ctx, ctx.otherAdmin, peer.address).admin, "revokeToken", { tokenId: t.id });
      const ended = await within(watch.ended, 10_000, "the watch on the first master");
      assert.is(ended.code, UNAUTH);
      assert.match(ended.details, /revoked/);
      assert.is((await callError(call(as(ctx, t.secret, ctx.otherAddress).admin, "whoAmI", {}))).code, UNAUTH);
    } finally {
      await peer.stop(); // not cleanup: the database is the other master's
    }
  });
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
