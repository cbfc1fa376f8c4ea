// The token verbs and what they print in the `taskgrid` CLI: `--expires` and `--role`, the token
// table, whoami, the History of `get`, error hints, and the verbs against a small real gRPC server on
// loopback that answers with canned responses and records the metadata it received (no database,
// no master). (Where the token comes from: cli-credentials.test.ts; the master's flags: cli-master-auth.test.ts.)
import { type CliRun, runCli } from "../helpers/run-cli.js";
import * as grpc from "@grpc/grpc-js";
import { chmodSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ClientError, createClient } from "../../src/client/index.js";
import { CredentialsError } from "../../src/cli/client-options.js";
import type { Io } from "../../src/cli/command.js";
import { taskJsonWithEvents } from "../../src/cli/commands/get.js";
import { clientErrorHint } from "../../src/cli/error-text.js";
import { reportError } from "../../src/cli/main.js";
import { MAX_TOKEN_LIFETIME_SECONDS, parseExpiresSeconds, parseRole } from "../../src/cli/parse.js";
import { formatHistory, formatTaskDetail } from "../../src/cli/render-task.js";
import { formatCreatedNote, formatExpiry, formatTokenTable, formatWhoAmI } from "../../src/cli/render-token.js";
import { UsageError } from "../../src/cli/usage-error.js";
import {
  AdminServiceService,
  type ApiToken,
  type CreateTokenRequest,
  type ListTokensRequest,
  type RevokeTokenRequest,
} from "../../src/gen/taskgrid/v1/admin_service.js";
import { Task, TaskEvent } from "../../src/gen/taskgrid/v1/task.js";
import { TaskServiceService } from "../../src/gen/taskgrid/v1/task_service.js";
import { AttemptOutcome, Role, TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { DAY, HOUR, TOKEN, TOKEN2, at, noFileEnv as noFileEnvIn, now, tempDir, throwsWith, writeFile } from "../helpers/cli-token-fixtures.js";

const { dir, remove } = tempDir();
test.after(remove);
/** An environment whose credentials file does not exist, unless a test points somewhere else. */
const noFileEnv = () => noFileEnvIn(dir);

// --- --expires and --role -------------------------------------------------------------------

const lifetimes: [string, number][] = [
  ["30d", 30 * 86_400],
  ["12h", 43_200],
  ["90m", 5400],
  ["1h30m", 5400],
  ["45s", 45],
  ["0", 0],
  ["never", 0],
  ["3650d", MAX_TOKEN_LIFETIME_SECONDS],
];
for (const [text, seconds] of lifetimes) test(`--expires ${text} = ${seconds} s`, () => assert.is(parseExpiresSeconds(text), seconds));
for (const bad of ["", "30", "tomorrow", "-1d", "500ms", "3651d"]) {
  test(`--expires "${bad}" is rejected naming the flag`, () => {
    throwsWith(() => parseExpiresSeconds(bad), UsageError, "--expires");
  });
}

test("--role takes the four roles in any case, with or without ROLE_", () => {
  assert.is(parseRole("viewer"), Role.ROLE_VIEWER);
  assert.is(parseRole("Submitter"), Role.ROLE_SUBMITTER);
  assert.is(parseRole("ROLE_ADMIN"), Role.ROLE_ADMIN);
  assert.is(parseRole("agent"), Role.ROLE_AGENT);
  throwsWith(() => parseRole("root"), UsageError, "--role", "viewer, submitter, admin, agent");
});

// --- rendering ------------------------------------------------------------------------------

const tokenA: ApiToken = {
  id: "0123456789abcdef",
  name: "alice",
  project: "ml",
  role: Role.ROLE_SUBMITTER,
  workerPattern: "",
  createdAt: at(-2 * DAY),
  expiresAt: at(28 * DAY),
  lastUsedAt: at(-5 * 60_000),
  revokedAt: undefined,
  createdBy: "aaaaaaaaaaaaaaaa",
};
const tokenB: ApiToken = {
  id: "fedcba9876543210",
  name: "gpu agents",
  project: "ml",
  role: Role.ROLE_AGENT,
  workerPattern: "gpu-*",
  createdAt: at(-3 * HOUR),
  expiresAt: undefined,
  lastUsedAt: undefined,
  revokedAt: at(-HOUR),
  createdBy: "",
};

test("token ls table: id, name, project, role, workers, created, expires, last used, revoked", () => {
  const out = formatTokenTable([tokenA, tokenB, { ...tokenA, id: "1111111111111111", expiresAt: at(-HOUR), role: Role.ROLE_VIEWER }], now);
  const lines = out.trimEnd().split("\n");
  assert.match(lines[0], /^ID\s+NAME\s+PROJECT\s+ROLE\s+WORKERS\s+CREATED\s+EXPIRES\s+LAST USED\s+REVOKED$/);
  assert.match(lines[1], /^0123456789abcdef\s+alice\s+ml\s+submitter\s+-\s+2d ago\s+in 28d\s+5m ago\s+-$/);
  assert.match(lines[2], /^fedcba9876543210\s+gpu agents\s+ml\s+agent\s+gpu-\*\s+3h ago\s+never\s+never\s+1h ago$/);
  assert.match(lines[3], /viewer\s+-\s+2d ago\s+expired 1h ago/);
  assert.is(formatTokenTable([], now), "ID  NAME  PROJECT  ROLE  WORKERS  CREATED  EXPIRES  LAST USED  REVOKED\n");
  assert.is(formatExpiry(undefined, now), "never");
  assert.is(formatExpiry(at(30 * DAY - 50), now), "in 30d", "a lifetime just begun reads as given");
  assert.is(formatExpiry(at(30 * DAY - 2000), now), "in 29d");
  assert.is(formatExpiry(now, now), "expired 0s ago");
});

test("token create note: what was made, and that the secret is not shown again", () => {
  const note = formatCreatedNote({ token: tokenB, secret: TOKEN }, now);
  assert.match(note, /created token fedcba9876543210 "gpu agents": role agent, project ml, workers gpu-\*, expires never/);
  assert.match(note, /shown only this once/);
  assert.not.ok(note.includes(TOKEN), "the secret goes to stdout alone, never into the note");
  assert.match(formatCreatedNote({ token: tokenA, secret: TOKEN }, now), /expires 2025-01-29T12:00:00.000Z \(in 28d\)/);
});

test("whoami: the token's fields and where the CLI got it; auth off says so", () => {
  const out = formatWhoAmI({ authEnabled: true, token: tokenA }, now, "TASKGRID_TOKEN");
  assert.match(out, /^Token:\s+0123456789abcdef$/m);
  assert.match(out, /^Role:\s+submitter$/m);
  assert.match(out, /^Project:\s+ml$/m);
  assert.match(out, /^From:\s+TASKGRID_TOKEN$/m);
  assert.match(formatWhoAmI({ authEnabled: false, token: undefined }, now, undefined), /auth is off/);
  assert.match(formatWhoAmI({ authEnabled: false, token: undefined }, now, "--token"), /token from --token is not checked/);
});

const history: TaskEvent[] = [
  TaskEvent.fromPartial({ taskId: "t1", state: TaskState.TASK_STATE_QUEUED, time: at(-60_000), actor: "token 0123456789abcdef (alice)" }),
  TaskEvent.fromPartial({ taskId: "t1", state: TaskState.TASK_STATE_ASSIGNED, time: at(-59_000), actor: "master", workerId: "w1", attemptId: "a1" }),
  TaskEvent.fromPartial({ taskId: "t1", state: TaskState.TASK_STATE_RUNNING, time: at(-58_000), actor: "", workerId: "w1" }),
  TaskEvent.fromPartial({
    taskId: "t1",
    state: TaskState.TASK_STATE_FAILED,
    time: at(-1000),
    actor: "token fedcba9876543210 (gpu agents)",
    workerId: "w1",
    result: { outcome: AttemptOutcome.ATTEMPT_OUTCOME_FAILED, exitCode: 3, durationMs: 57_000 },
  }),
];

test("get: History shows time, state, actor ('-' when empty) and detail, oldest first", () => {
  const out = formatHistory(history);
  const lines = out.trimEnd().split("\n");
  assert.is(lines[0], "History:");
  assert.match(lines[1], /^ {2}TIME\s+STATE\s+ACTOR\s+DETAIL$/);
  assert.match(lines[2], /^ {2}2025-01-01T11:59:00.000Z\s+QUEUED\s+token 0123456789abcdef \(alice\)$/);
  assert.match(lines[3], /ASSIGNED\s+master\s+on w1$/);
  assert.match(lines[4], /RUNNING\s+-\s+on w1$/);
  assert.match(lines[5], /FAILED\s+token fedcba9876543210 \(gpu agents\)\s+on w1, exit 3, after 57s$/);
  assert.is(formatHistory([]), "");
  const task = Task.fromPartial({ id: "t1", state: TaskState.TASK_STATE_FAILED, spec: { command: ["false"] } });
  assert.match(formatTaskDetail(task, now, history), /Task:\s+t1\n[\s\S]*History:\n/);
  assert.not.match(formatTaskDetail(task, now), /History/);
});

test("get --json: the task's fields as before, plus its events", () => {
  const task = Task.fromPartial({ id: "t1", state: TaskState.TASK_STATE_FAILED });
  const json = taskJsonWithEvents(task, history) as { id: string; state: string; events: Array<{ state: string; actor?: string }> };
  assert.is(json.id, "t1");
  assert.is(json.state, "TASK_STATE_FAILED");
  assert.equal(
    json.events.map((e) => e.state),
    ["TASK_STATE_QUEUED", "TASK_STATE_ASSIGNED", "TASK_STATE_RUNNING", "TASK_STATE_FAILED"],
  );
  assert.is(json.events[1].actor, "master");
});

test("error hints: UNAUTHENTICATED names the three token sources; PERMISSION_DENIED points at whoami", () => {
  assert.match(clientErrorHint(new ClientError(16, "authorization: required"))!, /--token, TASKGRID_TOKEN or ~\/.config\/taskgrid\/credentials/);
  assert.match(clientErrorHint(new ClientError(7, "role viewer may not call SubmitTask"))!, /token whoami/);
  assert.match(clientErrorHint(new ClientError(14, "connect ECONNREFUSED"))!, /is the master running/);
  assert.is(clientErrorHint(new ClientError(5, "task x not found")), undefined);
  let err = "";
  const io: Io = { out: () => undefined, err: (t) => void (err += t), errIsTTY: false, env: {}, now: () => now };
  assert.is(reportError(new ClientError(16, "authorization: required"), io, "ls"), 1);
  assert.match(err, /^error: UNAUTHENTICATED: authorization: required\n\(the master requires a valid API token/);
  err = "";
  assert.is(reportError(new CredentialsError("credentials file /x is accessible by other users; chmod 600 /x"), io, "ls"), 1);
  assert.is(err, "error: credentials file /x is accessible by other users; chmod 600 /x\n");
});

// --- the verbs against a canned gRPC server -------------------------------------------------

interface Canned {
  server: grpc.Server;
  address: string;
  /** The authorization metadata of every call, by method name. */
  auth: Array<[string, string | undefined]>;
  requests: Array<[string, unknown]>;
}

const unimplemented = (_call: unknown, cb: grpc.sendUnaryData<unknown>) =>
  cb({ code: grpc.status.UNIMPLEMENTED, details: "not in this fake" } as grpc.ServiceError, null);

async function startCanned(): Promise<Canned> {
  const server = new grpc.Server();
  const canned: Canned = { server, address: "", auth: [], requests: [] };
  const record = (name: string, call: { metadata: grpc.Metadata; request?: unknown }) => {
    const value = call.metadata.get("authorization")[0];
    canned.auth.push([name, typeof value === "string" ? value : undefined]);
    canned.requests.push([name, call.request]);
  };
  const unary =
    <Req, Res>(name: string, answer: (req: Req) => Res | grpc.ServiceError) =>
    (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>) => {
      record(name, call);
      const res = answer(call.request);
      if (res && typeof res === "object" && "code" in res && "details" in res) cb(res as grpc.ServiceError, null);
      else cb(null, res as Res);
    };
  server.addService(AdminServiceService, {
    listWorkers: unimplemented,
    getWorker: unimplemented,
    drainWorker: unimplemented,
    undrainWorker: unimplemented,
    getSchedulerInfo: unimplemented,
    createToken: unary("CreateToken", (req: CreateTokenRequest) => ({
      token: {
        ...tokenB,
        name: req.name || "agent@ml",
        project: req.project,
        role: req.role,
        workerPattern: req.workerPattern,
        expiresAt: req.expiresInSeconds ? at(req.expiresInSeconds * 1000) : undefined,
      },
      secret: TOKEN2,
    })),
    listTokens: unary("ListTokens", (_req: ListTokensRequest) => ({ tokens: [tokenA, tokenB] })),
    revokeToken: unary("RevokeToken", (req: RevokeTokenRequest) =>
      req.tokenId === tokenA.id
        ? { token: { ...tokenA, revokedAt: now } }
        : ({ code: grpc.status.NOT_FOUND, details: `token ${req.tokenId} not found` } as grpc.ServiceError),
    ),
    whoAmI: unary("WhoAmI", () => ({ authEnabled: true, token: tokenA })),
  });
  server.addService(TaskServiceService, {
    submitTask: unimplemented,
    submitTasks: unimplemented,
    listTasks: unimplemented,
    cancelTask: unimplemented,
    pauseTask: unimplemented,
    resumeTask: unimplemented,
    getTask: unary("GetTask", (req: { taskId: string }) => ({
      task: Task.fromPartial({ id: req.taskId, state: TaskState.TASK_STATE_FAILED, spec: { command: ["false"] } }),
      events: history,
    })),
    watchTasks: (call: grpc.ServerWritableStream<unknown, unknown>) => {
      record("WatchTasks", call);
      call.write({ event: history[3] });
      call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  canned.address = `127.0.0.1:${port}`;
  return canned;
}

let canned: Canned;
test.before(async () => {
  canned = await startCanned();
});
test.after(() => canned.server.forceShutdown());

function cli(argv: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runCli(argv, { ...noFileEnv(), TASKGRID_MASTER: canned.address, ...env }, () => now);
}

test("client: the token travels as authorization metadata on unary calls and on watches", async () => {
  canned.auth.length = 0;
  const client = createClient(canned.address, { token: TOKEN });
  try {
    await client.whoAmI();
    await client.getTaskWithEvents("t1");
    for await (const _ of client.watchTasks({ taskIds: ["t1"] })) break;
  } finally {
    client.close();
  }
  const plain = createClient(canned.address);
  await plain.whoAmI().finally(() => plain.close());
  assert.equal(canned.auth, [
    ["WhoAmI", `Bearer ${TOKEN}`],
    ["GetTask", `Bearer ${TOKEN}`],
    ["WatchTasks", `Bearer ${TOKEN}`],
    ["WhoAmI", undefined],
  ]);
});

test("token create: the secret alone on stdout, the note on stderr; --json the whole response", async () => {
  canned.requests.length = 0;
  const r = await cli(["token", "create", "--project", "ml", "--role", "agent", "--worker", "gpu-*", "--expires", "12h", "--name", "gpus"], {
    TASKGRID_TOKEN: TOKEN,
  });
  assert.is(r.code, 0, r.err);
  assert.is(r.out, `${TOKEN2}\n`);
  assert.match(r.err, /created token fedcba9876543210 "gpus": role agent, project ml, workers gpu-\*, expires .* \(in 12h\)\n.*shown only this once/);
  assert.equal(canned.requests.at(-1), [
    "CreateToken",
    { project: "ml", role: Role.ROLE_AGENT, name: "gpus", expiresInSeconds: 43_200, workerPattern: "gpu-*" },
  ]);
  assert.equal(canned.auth.at(-1), ["CreateToken", `Bearer ${TOKEN}`]);
  const json = await cli(["token", "create", "--project", "ml", "--role", "viewer", "--json"]);
  assert.is(json.code, 0, json.err);
  const parsed = JSON.parse(json.out);
  assert.is(parsed.secret, TOKEN2);
  assert.is(parsed.token.project, "ml");
  assert.is(json.err, "");
});

test("token create: usage mistakes are caught before any call", async () => {
  const before = canned.requests.length;
  for (const [argv, needle] of [
    [["token", "create", "--role", "viewer"], "--project is required"],
    [["token", "create", "--project", "ml"], "--role is required"],
    [["token", "create", "--project", "ml", "--role", "root"], "--role"],
    [["token", "create", "--project", "ml", "--role", "viewer", "--worker", "gpu-*"], "only agent tokens"],
    [["token", "create", "--project", "ml", "--role", "viewer", "--expires", "soon"], "--expires"],
    [["token", "create", "--project", "ml", "--role", "viewer", "--bogus"], "--bogus"],
    [["token"], "needs a subcommand"],
    [["token", "mint"], 'unknown subcommand "mint"'],
    [["token", "revoke"], "exactly one token id"],
  ] as Array<[string[], string]>) {
    const r = await cli(argv);
    assert.is(r.code, 2, `${argv.join(" ")}: ${r.err}`);
    assert.ok(r.err.includes(needle), `${argv.join(" ")}: ${r.err}`);
  }
  assert.is(canned.requests.length, before);
});

test("token ls, revoke, whoami print tables and lines; --json the messages", async () => {
  const ls = await cli(["token", "ls", "--project", "ml", "--all"]);
  assert.is(ls.code, 0, ls.err);
  assert.match(ls.out, /^ID\s+NAME\s+PROJECT/);
  assert.match(ls.out, /^fedcba9876543210\s+gpu agents\s+ml\s+agent\s+gpu-\*/m);
  assert.equal(canned.requests.at(-1), ["ListTokens", { project: "ml", includeInactive: true }]);
  const lsJson = JSON.parse((await cli(["token", "ls", "--json"])).out);
  assert.equal(
    lsJson.tokens.map((t: { id: string }) => t.id),
    [tokenA.id, tokenB.id],
  );

  const revoked = await cli(["token", "revoke", tokenA.id]);
  assert.is(revoked.code, 0, revoked.err);
  assert.is(revoked.out, "token 0123456789abcdef revoked (alice, submitter, project ml)\n");
  const pasted = await cli(["token", "revoke", `tg1.${tokenA.id}.${"A".repeat(43)}`]);
  assert.is(pasted.code, 0, pasted.err);
  assert.equal(canned.requests.at(-1), ["RevokeToken", { tokenId: tokenA.id }], "a pasted whole token is revoked by its id; the secret is not sent");
  const missing = await cli(["token", "revoke", "ffffffffffffffff"]);
  assert.is(missing.code, 1);
  assert.match(missing.err, /^error: NOT_FOUND: token ffffffffffffffff not found/);

  const who = await cli(["token", "whoami"], { TASKGRID_TOKEN: TOKEN });
  assert.is(who.code, 0, who.err);
  assert.match(who.out, /^Name:\s+alice$/m);
  assert.match(who.out, /^From:\s+TASKGRID_TOKEN$/m);
  assert.is(JSON.parse((await cli(["token", "whoami", "--json"])).out).authEnabled, true);
});

test("token help: the verb lists its subcommands; each subcommand has its own flags", async () => {
  const top = await cli(["token", "--help"]);
  assert.is(top.code, 0);
  for (const sub of ["create", "ls", "revoke", "whoami"]) assert.match(top.out, new RegExp(`^  ${sub} `, "m"));
  const create = await cli(["token", "create", "--help"]);
  assert.is(create.code, 0);
  assert.match(create.out, /Usage: taskgrid token create --project PROJECT --role/);
  assert.match(create.out, /--expires DURATION/);
  assert.match(create.out, /--token TOKEN/);
});

test("get prints the History with actors, and --json carries the events", async () => {
  const r = await cli(["get", "t1"]);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /History:\n {2}TIME\s+STATE\s+ACTOR\s+DETAIL\n/);
  assert.match(r.out, /QUEUED\s+token 0123456789abcdef \(alice\)/);
  assert.match(r.out, /RUNNING\s+-\s+on w1/);
  const json = JSON.parse((await cli(["get", "t1", "--json"])).out);
  assert.is(json.id, "t1");
  assert.is(json.events.length, 4);
});

test("a credentials file that others can read stops a client verb before it calls the master", async () => {
  const open = writeFile(join(dir, "verb-open", "credentials"), `${TOKEN}\n`, 0o644);
  const before = canned.requests.length;
  const r = await cli(["token", "whoami"], { TASKGRID_CREDENTIALS: open });
  assert.is(r.code, 1);
  assert.match(r.err, new RegExp(`^error: credentials file ${open} is accessible by other users \\(mode 0644\\).*chmod 600 ${open}\n$`));
  assert.is(canned.requests.length, before);
  chmodSync(open, 0o600);
  const ok = await cli(["token", "whoami"], { TASKGRID_CREDENTIALS: open });
  assert.is(ok.code, 0, ok.err);
  assert.equal(canned.auth.at(-1), ["WhoAmI", `Bearer ${TOKEN}`]);
});

test.run();
