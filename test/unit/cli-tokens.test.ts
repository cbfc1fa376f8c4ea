// Tokens and TLS in the `taskgrid` CLI: where the token comes from (flag > env > credentials file,
// which must be private), the TLS and master flags, `--expires`, the token verbs' output and the
// History of `get`. The verbs run against a small real gRPC server on loopback that answers with
// canned responses and records the metadata it received (no database, no master).
import { type CliRun, runCli } from "../helpers/run-cli.js";
import * as grpc from "@grpc/grpc-js";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { authorizationValue, ClientError, createClient } from "../../src/client/index.js";
import { parseArgs } from "../../src/cli/args.js";
import {
  AUTH_CLIENT_FLAGS,
  checkToken,
  clientCredentials,
  clientTls,
  credentialsPath,
  CredentialsError,
  resolveToken,
  tokenLine,
} from "../../src/cli/client-options.js";
import { CLIENT_FLAGS, parseCommandArgs, type Io } from "../../src/cli/command.js";
import { agentAuthOptions, agentCommand } from "../../src/cli/commands/agent.js";
import { masterCommand, tlsReloadMessage } from "../../src/cli/commands/master.js";
import { taskJsonWithEvents } from "../../src/cli/commands/get.js";
import { clientErrorHint } from "../../src/cli/error-text.js";
import { main, reportError } from "../../src/cli/main.js";
import { parseConfigFile, resolveMasterOptions } from "../../src/cli/master-options.js";
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
import { resolveMasterConfig } from "../../master/config.js";

const TOKEN = `tg1.0123456789abcdef.${"A".repeat(42)}x`;
const TOKEN2 = `tg1.fedcba9876543210.${"b".repeat(43)}`;
const now = new Date("2025-01-01T12:00:00Z");
const at = (offsetMs: number) => new Date(now.getTime() + offsetMs);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const dir = mkdtempSync(join(tmpdir(), "taskgrid-cli-tokens-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a file with the given mode (chmod after writing: the umask must not decide it). */
function writeFile(path: string, text: string, mode: number): string {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

function throwsWith(fn: () => unknown, type: new (...a: never[]) => Error, ...parts: string[]): string {
  try {
    fn();
  } catch (err) {
    assert.instance(err, type);
    const message = (err as Error).message;
    for (const p of parts) assert.ok(message.includes(p), `"${message}" should mention "${p}"`);
    return message;
  }
  return assert.unreachable(`expected a ${type.name} mentioning ${parts.join(", ")}`) as never;
}

const clientArgs = (...argv: string[]) => parseArgs(argv, CLIENT_FLAGS);
/** An environment whose credentials file does not exist, unless a test points somewhere else. */
const noFileEnv = () => ({ TASKGRID_CREDENTIALS: join(dir, "does-not-exist") });

// --- token resolution -------------------------------------------------------------------------

test("token precedence: --token, then TASKGRID_TOKEN, then the credentials file", () => {
  const file = writeFile(join(dir, "prec", "credentials"), `${TOKEN2}\n`, 0o600);
  const env = { TASKGRID_TOKEN: TOKEN, TASKGRID_CREDENTIALS: file };
  assert.equal(resolveToken(clientArgs("--token", TOKEN2), { ...env, TASKGRID_TOKEN: TOKEN }), { token: TOKEN2, source: "--token" });
  assert.equal(resolveToken(clientArgs(), env), { token: TOKEN, source: "TASKGRID_TOKEN" });
  assert.equal(resolveToken(clientArgs(), { ...env, TASKGRID_TOKEN: "" }), { token: TOKEN2, source: file }, "an empty variable counts as unset");
  assert.equal(resolveToken(clientArgs(), { TASKGRID_CREDENTIALS: file }), { token: TOKEN2, source: file });
  assert.is(resolveToken(clientArgs(), noFileEnv()), undefined, "a missing file means no token");
});

test("a higher-precedence token means the credentials file is not read at all", () => {
  const open = writeFile(join(dir, "open", "credentials"), `${TOKEN2}\n`, 0o644);
  assert.is(resolveToken(clientArgs("--token", TOKEN), { TASKGRID_CREDENTIALS: open })?.token, TOKEN);
  assert.is(resolveToken(clientArgs(), { TASKGRID_TOKEN: TOKEN, TASKGRID_CREDENTIALS: open })?.token, TOKEN);
});

test("credentials path: TASKGRID_CREDENTIALS, else $XDG_CONFIG_HOME/taskgrid, else ~/.config/taskgrid", () => {
  assert.is(credentialsPath({ TASKGRID_CREDENTIALS: "/x/creds", XDG_CONFIG_HOME: "/xdg", HOME: "/home/u" }), "/x/creds");
  assert.is(credentialsPath({ XDG_CONFIG_HOME: "/xdg", HOME: "/home/u" }), "/xdg/taskgrid/credentials");
  assert.is(credentialsPath({ HOME: "/home/u" }), "/home/u/.config/taskgrid/credentials");
  assert.is(
    credentialsPath({ XDG_CONFIG_HOME: "relative/dir", HOME: "/home/u" }),
    "/home/u/.config/taskgrid/credentials",
    "a relative XDG_CONFIG_HOME is ignored",
  );
});

test("the credentials file under XDG_CONFIG_HOME: first non-blank, non-# line; surrounding space trimmed", () => {
  const xdg = join(dir, "xdg");
  writeFile(join(xdg, "taskgrid", "credentials"), `# made by taskgrid token create\n\n   ${TOKEN}   \n${TOKEN2}\n`, 0o600);
  assert.equal(resolveToken(clientArgs(), { XDG_CONFIG_HOME: xdg }), { token: TOKEN, source: join(xdg, "taskgrid", "credentials") });
  assert.is(tokenLine("\r\n# c\r\n  x  \r\ny"), "x");
  assert.is(tokenLine("# only a comment\n\n"), undefined);
});

for (const mode of [0o644, 0o640, 0o604, 0o660, 0o666, 0o601, 0o610]) {
  test(`a credentials file with mode 0${mode.toString(8)} is refused, saying chmod 600`, () => {
    const file = writeFile(join(dir, `mode-${mode.toString(8)}`, "credentials"), `${TOKEN}\n`, mode);
    const message = throwsWith(() => resolveToken(clientArgs(), { TASKGRID_CREDENTIALS: file }), CredentialsError, `chmod 600 ${file}`, `0${mode.toString(8)}`);
    assert.not.ok(message.includes(TOKEN), "the message never shows the secret");
  });
}

test("modes 0600, 0400 and 0700 are accepted; on Windows the mode is not checked", () => {
  for (const mode of [0o600, 0o400, 0o700]) {
    const file = writeFile(join(dir, `ok-${mode.toString(8)}`, "credentials"), TOKEN, mode);
    assert.is(resolveToken(clientArgs(), { TASKGRID_CREDENTIALS: file })?.token, TOKEN);
  }
  const open = writeFile(join(dir, "win", "credentials"), TOKEN, 0o644);
  assert.is(resolveToken(clientArgs(), { TASKGRID_CREDENTIALS: open }, "win32")?.token, TOKEN);
});

test("an empty credentials file, a directory, or a malformed token is an error naming where it came from", () => {
  const empty = writeFile(join(dir, "empty", "credentials"), "# nothing yet\n\n", 0o600);
  throwsWith(() => resolveToken(clientArgs(), { TASKGRID_CREDENTIALS: empty }), CredentialsError, empty, "has no token");
  mkdirSync(join(dir, "adir"), { recursive: true });
  throwsWith(() => resolveToken(clientArgs(), { TASKGRID_CREDENTIALS: join(dir, "adir") }), CredentialsError, "not a regular file");
  const bad = writeFile(join(dir, "bad", "credentials"), "hunter2-secret\n", 0o600);
  const m = throwsWith(() => resolveToken(clientArgs(), { TASKGRID_CREDENTIALS: bad }), CredentialsError, bad, "tg1.");
  assert.not.ok(m.includes("hunter2"), "a malformed token is not echoed");
  throwsWith(() => resolveToken(clientArgs(), { TASKGRID_TOKEN: "tg1.short.x" }), CredentialsError, "TASKGRID_TOKEN");
  throwsWith(() => resolveToken(clientArgs("--token", "nope"), {}), CredentialsError, "--token");
  throwsWith(() => resolveToken(clientArgs("--token", " "), {}), UsageError, "--token");
});

test('a token given as "Bearer <token>" is taken without the prefix', () => {
  assert.is(checkToken(`Bearer ${TOKEN}`, "x"), TOKEN);
  assert.is(resolveToken(clientArgs(), { TASKGRID_TOKEN: `bearer ${TOKEN}` })?.token, TOKEN);
});

test("client authorization metadata: Bearer <token>; nothing for no token; unsendable values rejected", () => {
  assert.is(authorizationValue(TOKEN), `Bearer ${TOKEN}`);
  assert.is(authorizationValue(`Bearer ${TOKEN}`), `Bearer ${TOKEN}`);
  assert.is(authorizationValue(undefined), undefined);
  assert.is(authorizationValue("  "), undefined);
  assert.throws(() => authorizationValue("tg1.a b"), /printable ASCII/);
  assert.throws(() => authorizationValue("tg1.a\nb"), /printable ASCII/);
});

// --- TLS flags ------------------------------------------------------------------------------

test("TLS client flags: off by default; any of --tls-ca/--tls-cert+--tls-key/--tls turns it on; flags beat env", () => {
  assert.is(clientTls(clientArgs(), {}), undefined);
  assert.equal(clientTls(clientArgs("--tls-ca", "ca.pem"), {}), { caFile: "ca.pem" });
  assert.equal(clientTls(clientArgs("--tls"), {}), {});
  assert.equal(clientTls(clientArgs(), { TASKGRID_TLS: "1" }), {});
  assert.is(clientTls(clientArgs(), { TASKGRID_TLS: "0" }), undefined);
  assert.equal(
    clientTls(clientArgs("--tls-cert", "c.pem", "--tls-key", "c.key"), {
      TASKGRID_TLS_CA: "envca.pem",
      TASKGRID_TLS_CERT: "env.pem",
      TASKGRID_TLS_KEY: "env.key",
    }),
    { caFile: "envca.pem", certFile: "c.pem", keyFile: "c.key" },
  );
  assert.equal(clientTls(clientArgs("--tls-server-name", "master.internal"), {}), { serverName: "master.internal" });
  throwsWith(() => clientTls(clientArgs("--tls-cert", "c.pem"), {}), UsageError, "--tls-cert needs --tls-key");
  throwsWith(() => clientTls(clientArgs(), { TASKGRID_TLS_KEY: "k.pem" }), UsageError, "--tls-key needs --tls-cert");
  throwsWith(() => clientTls(clientArgs(), { TASKGRID_TLS: "maybe" }), UsageError, "TASKGRID_TLS");
});

test("an unusable TLS file is reported under its flag's name", () => {
  throwsWith(() => clientCredentials({ caFile: join(dir, "missing-ca.pem") }), CredentialsError, "--tls-ca", "missing-ca.pem", "no such file");
  const notPem = writeFile(join(dir, "not.pem"), "hello\n", 0o600);
  throwsWith(() => clientCredentials({ caFile: notPem }), CredentialsError, "--tls-ca", "not a PEM certificate");
  assert.ok(clientCredentials(undefined), "plaintext without TLS options");
});

test("every client verb and the agent take --token and the TLS flags; dev does not", async () => {
  for (const flag of Object.keys(AUTH_CLIENT_FLAGS)) assert.ok(flag in CLIENT_FLAGS, flag);
  const { COMMANDS, loadCommand } = await import("../../src/cli/main.js");
  for (const verb of ["submit", "get", "ls", "watch", "cancel", "pause", "resume", "workers", "drain", "undrain", "info", "top", "shares"]) {
    const cmd = (await loadCommand(verb))!;
    for (const flag of ["token", "tls-ca", "tls-cert", "tls-key"]) assert.ok(flag in cmd.flags, `${verb} --${flag}`);
  }
  // Verbs with subcommands: each subcommand takes them.
  const { TOKEN_SUBCOMMANDS } = await import("../../src/cli/commands/token.js");
  const { QUOTA_SUBCOMMANDS } = await import("../../src/cli/commands/quota.js");
  for (const [verb, subs] of [
    ["token", TOKEN_SUBCOMMANDS],
    ["quota", QUOTA_SUBCOMMANDS],
  ] as const) {
    assert.ok(
      COMMANDS.some((c) => c.name === verb),
      verb,
    );
    for (const sub of subs) for (const flag of ["token", "tls-ca", "tls-cert", "tls-key"]) assert.ok(flag in sub.flags, `${verb} ${sub.name} --${flag}`);
  }
  const args = parseCommandArgs(agentCommand, ["--master", "h:1", "--token", TOKEN, "--tls-ca", "ca.pem"]);
  assert.is(args.flags.token, TOKEN);
  const dev = (await loadCommand("dev"))!;
  assert.not.ok("token" in dev.flags);
  assert.not.ok("auth" in dev.flags);
});

test("agent: token and TLS resolve like a client's and become AgentOptions.token / .tls", () => {
  const args = parseCommandArgs(agentCommand, ["--token", TOKEN]);
  assert.equal(agentAuthOptions(args, noFileEnv()), { token: TOKEN });
  assert.equal(agentAuthOptions(parseCommandArgs(agentCommand, []), { ...noFileEnv(), TASKGRID_TOKEN: TOKEN2 }), { token: TOKEN2 });
  assert.equal(agentAuthOptions(parseCommandArgs(agentCommand, []), noFileEnv()), {});
  assert.equal(agentAuthOptions(parseCommandArgs(agentCommand, ["--tls"]), noFileEnv()), { tls: {} });
  throwsWith(() => agentAuthOptions(parseCommandArgs(agentCommand, ["--tls-ca", join(dir, "nope.pem")]), noFileEnv()), CredentialsError, "--tls-ca");
});

// --- master flags ---------------------------------------------------------------------------

const masterArgs = (...argv: string[]) => parseCommandArgs(masterCommand, argv);
const noFile = (path: string): string => {
  throw Object.assign(new Error("no"), { code: `ENOENT ${path}` });
};

test("master: --auth, --insecure-allow-anyone, --bootstrap-token-file and TLS flags", () => {
  const opts = resolveMasterOptions(
    masterArgs("--auth", "--bootstrap-token-file", "/run/boot", "--tls-cert", "s.pem", "--tls-key", "s.key", "--tls-client-ca", "ca.pem"),
    {},
    noFile,
  );
  assert.equal(opts, { auth: true, bootstrapTokenFile: "/run/boot", tls: { certFile: "s.pem", keyFile: "s.key", clientCaFile: "ca.pem" } });
  assert.equal(resolveMasterOptions(masterArgs("--insecure-allow-anyone"), {}, noFile), { insecureAllowAnyone: true });
  assert.equal(resolveMasterOptions(masterArgs(), {}, noFile), {}, "nothing given, nothing set (the master's defaults apply)");
});

test("master: the same settings from the environment; the client's TASKGRID_TLS_CERT/KEY are not the master's", () => {
  const env = {
    TASKGRID_AUTH: "true",
    TASKGRID_INSECURE_ALLOW_ANYONE: "0",
    TASKGRID_BOOTSTRAP_TOKEN_FILE: "/b",
    TASKGRID_TLS_SERVER_CERT: "s.pem",
    TASKGRID_TLS_SERVER_KEY: "s.key",
    TASKGRID_TLS_CLIENT_CA: "ca.pem",
    TASKGRID_TLS_CERT: "client.pem",
    TASKGRID_TLS_KEY: "client.key",
  };
  assert.equal(resolveMasterOptions(masterArgs(), env, noFile), {
    auth: true,
    insecureAllowAnyone: false,
    bootstrapTokenFile: "/b",
    tls: { certFile: "s.pem", keyFile: "s.key", clientCaFile: "ca.pem" },
  });
  throwsWith(() => resolveMasterOptions(masterArgs(), { TASKGRID_AUTH: "yes please" }, noFile), UsageError, "TASKGRID_AUTH");
});

test("master: the config file's keys, flat (YAML) or as a tls object (JSON); flags and env override each path", () => {
  const yaml = "auth: true\ninsecure_allow_anyone: false\nbootstrap_token_file: /var/lib/taskgrid/admin-token\ntls_cert: f.pem\ntls_key: f.key\n";
  assert.equal(parseConfigFile(yaml, "m.yaml"), {
    auth: true,
    insecureAllowAnyone: false,
    bootstrapTokenFile: "/var/lib/taskgrid/admin-token",
    tls: { certFile: "f.pem", keyFile: "f.key" },
  });
  const json = '{"auth": true, "tls": {"cert_file": "j.pem", "key_file": "j.key", "client_ca_file": "jca.pem"}, "authRefreshMs": 500}';
  assert.equal(parseConfigFile(json, "m.json"), { auth: true, authRefreshMs: 500, tls: { certFile: "j.pem", keyFile: "j.key", clientCaFile: "jca.pem" } });
  const read = (p: string) => (p === "m.yaml" ? yaml : json);
  assert.equal(resolveMasterOptions(masterArgs("--config", "m.yaml", "--tls-key", "flag.key"), { TASKGRID_TLS_CLIENT_CA: "env-ca.pem" }, read).tls, {
    certFile: "f.pem",
    keyFile: "flag.key",
    clientCaFile: "env-ca.pem",
  });
  throwsWith(() => parseConfigFile("auth: maybe\n", "m.yaml"), UsageError, "m.yaml", "auth");
  throwsWith(() => parseConfigFile("tls_cert: only.pem\n", "m.yaml"), UsageError, "m.yaml: tls_cert needs m.yaml: tls_key");
  throwsWith(() => parseConfigFile('{"tls": {"cert": "x"}}', "m.json"), UsageError, "tls.cert", "cert_file");
  throwsWith(() => resolveMasterOptions(masterArgs("--tls-cert", "s.pem"), {}, noFile), UsageError, "--tls-cert", "--tls-key");
  throwsWith(() => resolveMasterOptions(masterArgs("--tls-client-ca", "ca.pem"), {}, noFile), UsageError, "--tls-client-ca", "--tls-cert");
});

test("master: what the CLI resolves is what resolveMasterConfig takes", () => {
  const opts = resolveMasterOptions(masterArgs("--auth", "--listen", "0.0.0.0:50051", "--tls-cert", "s.pem", "--tls-key", "s.key"), {}, noFile);
  const config = resolveMasterConfig(opts as never);
  assert.is(config.auth.enabled, true);
  assert.equal(config.tls, { certFile: "s.pem", keyFile: "s.key" });
  assert.throws(() => resolveMasterConfig(resolveMasterOptions(masterArgs("--listen", "0.0.0.0:1"), {}, noFile) as never), /--auth/);
  const anyone = resolveMasterConfig(resolveMasterOptions(masterArgs("--listen", "0.0.0.0:1", "--insecure-allow-anyone"), {}, noFile) as never);
  assert.is(anyone.auth.insecureAllowAnyone, true);
});

test("master: the help no longer says the API has no auth; SIGHUP outcomes read clearly", async () => {
  let out = "";
  const io: Io = { out: (t) => void (out += t), err: () => undefined, errIsTTY: false, env: {}, now: () => now };
  assert.is(await main(["master", "--help"], io), 0);
  assert.not.match(out, /no auth yet/);
  for (const flag of ["--auth", "--insecure-allow-anyone", "--bootstrap-token-file", "--tls-cert", "--tls-key", "--tls-client-ca"])
    assert.ok(out.includes(flag), flag);
  assert.match(tlsReloadMessage(true), /re-read/);
  assert.match(tlsReloadMessage(false), /keeping the previous/);
  assert.match(tlsReloadMessage(new Error("boom")), /failed: boom/);
});

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
