// The shared setup of the auth tests (test/integration/auth-*.test.ts): masters with auth on,
// tokens of two projects, raw clients per token, and a clock the tests move. Its time is real time
// plus a skew the tests move (token expiry, and `forgiveFailures`: every client here is 127.0.0.1,
// so the failures one test makes on purpose would otherwise rate-limit new tokens in the next).
import { suite } from "uvu";
import * as grpc from "@grpc/grpc-js";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Clock } from "../../master/clock.js";
import { WhoAmIRequest } from "../../src/gen/taskgrid/v1/admin_service.js";
import type { TaskEvent } from "../../src/gen/taskgrid/v1/task.js";
import { WatchTasksRequest, type WatchTasksResponse } from "../../src/gen/taskgrid/v1/task_service.js";
import { AttemptOutcome, Role, type TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { parsePrometheusText } from "./prom-text.js";
import { call, rawClients, type RawClients } from "./grpc-clients.js";
import { RawAgent } from "./raw-agent.js";
import { startTestMaster, type TestMaster } from "./test-master.js";

export const usingPostgres = Boolean(process.env.TASKGRID_TEST_PG_URL);

// --- the first master's clock -------------------------------------------------------------------

export let skewMs = 0;
export let frozenAtMs: number | null = null;
export const clock: Clock = { now: () => frozenAtMs ?? Date.now() + skewMs };
export const advance = (ms: number) => (frozenAtMs === null ? (skewMs += ms) : (frozenAtMs += ms));
/** Time stands still until `unfreeze` (the failure limiter refills with time: exact counts need it still). */
export const freeze = () => (frozenAtMs = clock.now());
export const unfreeze = () => {
  if (frozenAtMs !== null) skewMs = frozenAtMs - Date.now();
  frozenAtMs = null;
};
/** The failure limiter forgets this peer's earlier failures (its bucket refills 1 per second, up to 20). */
export const forgiveFailures = () => advance(60_000);

// --- helpers --------------------------------------------------------------------------------------

export const OK = grpc.status.OK;
export const NOT_FOUND = grpc.status.NOT_FOUND;
export const DENIED = grpc.status.PERMISSION_DENIED;
export const UNAUTH = grpc.status.UNAUTHENTICATED;

/** The status code a call ended with (OK when it succeeded). */
export const codeOf = (p: Promise<unknown>): Promise<number> =>
  p.then(
    () => OK,
    (e: grpc.ServiceError) => e.code,
  );

/** Fails, rather than hanging the file, if `p` has not settled in `ms`: a bound on an awaited event, not a sleep. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms)));
  return Promise.race([p, bound]).finally(() => clearTimeout(timer));
}

export interface Minted {
  id: string;
  name: string;
  secret: string;
  /** The audit actor of its calls. */
  actor: string;
}

export async function mint(admin: RawClients, project: string, role: Role, extra: Record<string, unknown> = {}): Promise<Minted> {
  const res = await call(admin.admin, "createToken", { project, role, ...extra });
  return { id: res.token.id, name: res.token.name, secret: res.secret, actor: `token ${res.token.id} (${res.token.name})` };
}

/** A watch stream: its events, the first one's arrival, and the status it ended with. */
export class Watch {
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
export async function connect(
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
export const spec = (project: string, extra: Record<string, unknown> = {}) => ({
  command: ["echo", "hi"],
  name: "auth-test",
  project,
  requiredTags: ["nowhere"],
  ...extra,
});
export const running = (project: string, tag: string) => spec(project, { command: ["sleep", "1000"], requiredTags: [tag] });
export const okResult = { outcome: AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, exitCode: 0, signal: "", outputTail: "", durationMs: 1, message: "" };
export const MISSING_TASK = "0190aaaa-0000-7000-8000-000000000000";

export function whoAmIWith(c: RawClients, metadata: grpc.Metadata): Promise<any> {
  return new Promise((resolve, reject) => c.admin.whoAmI(WhoAmIRequest.fromPartial({}), metadata, (err, res) => (err ? reject(err) : resolve(res))));
}
export const metadataOf = (fill: (m: grpc.Metadata) => void) => {
  const m = new grpc.Metadata();
  fill(m);
  return m;
};

export async function authFailures(m: TestMaster): Promise<Record<string, number>> {
  const text = await (await fetch(`http://${m.master.metricsAddress}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const s of parsePrometheusText(text).samples) if (s.name === "taskgrid_auth_failures_total") out[s.labels.reason!] = s.value;
  return out;
}

// --- the shared masters ---------------------------------------------------------------------------

export interface Ctx {
  m: TestMaster;
  /** With `withOther`: a second master with its own database, listening on 0.0.0.0 with auth on. */
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

/** Clients of a token (cached per token; closed after the suite); null: no token at all. */
export function as(ctx: Ctx, token: string | null, address = ctx.m.address): RawClients {
  const key = `${address} ${token}`;
  let c = ctx.clients.get(key);
  if (!c) ctx.clients.set(key, (c = rawClients(address, token ?? undefined)));
  return c;
}

/**
 * A suite with the shared masters: one with auth on (its clock is `clock`) and project A's and B's
 * tokens minted; `withOther` also starts a second master with its own database on 0.0.0.0.
 */
export function authSuite(name: string, { withOther = false } = {}) {
  const auth = suite<Ctx>(name);
  auth.before(async (ctx) => {
    ctx.dir = mkdtempSync(join(tmpdir(), "taskgrid-auth-"));
    ctx.clients = new Map();
    const livenessOff = { suspectAfterMs: 3_600_000, offlineAfterMs: 3_600_000 }; // the clock jumps; workers must not go SUSPECT
    const main = startTestMaster({
      auth: true,
      bootstrapTokenFile: join(ctx.dir, "admin-token"),
      metrics: "127.0.0.1:0",
      clock,
      authRefreshMs: 200,
      ...livenessOff,
    });
    if (withOther) {
      [ctx.m, ctx.other] = await Promise.all([
        main,
        startTestMaster({ listen: "0.0.0.0:0", auth: true, bootstrapTokenFile: join(ctx.dir, "other-admin-token"), authRefreshMs: 200 }),
      ]);
      ctx.otherAddress = `127.0.0.1:${ctx.other.address.slice(ctx.other.address.lastIndexOf(":") + 1)}`;
      ctx.otherAdmin = readFileSync(join(ctx.dir, "other-admin-token"), "utf8").trim();
    } else {
      ctx.m = await main;
    }
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
  return auth;
}

export const countTasks = async (ctx: Ctx) => (await call(ctx.admin.tasks, "listTasks", { pageSize: 1000 })).tasks.length;
export const stateOf = async (ctx: Ctx, taskId: string) => (await call(ctx.admin.tasks, "getTask", { taskId })).task.state as TaskState;
export const submitAs = async (c: RawClients, s: Record<string, unknown>) => (await call(c.tasks, "submitTask", { spec: s })).task;
