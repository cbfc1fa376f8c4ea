// Tokens and TLS on the `taskgrid` CLI's client side: where the token comes from (flag > env >
// credentials file, which must be private), the client's and the agent's TLS flags, and that every
// client verb takes them. (The master's flags: cli-master-auth.test.ts; the token verbs: cli-tokens.test.ts.)
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { authorizationValue } from "../../src/client/index.js";
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
import { CLIENT_FLAGS, parseCommandArgs } from "../../src/cli/command.js";
import { agentAuthOptions, agentCommand } from "../../src/cli/commands/agent.js";
import { UsageError } from "../../src/cli/usage-error.js";
import { TOKEN, TOKEN2, noFileEnv as noFileEnvIn, tempDir, throwsWith, writeFile } from "../helpers/cli-token-fixtures.js";

const { dir, remove } = tempDir();
test.after(remove);
const clientArgs = (...argv: string[]) => parseArgs(argv, CLIENT_FLAGS);
/** An environment whose credentials file does not exist, unless a test points somewhere else. */
const noFileEnv = () => noFileEnvIn(dir);

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

test.run();
