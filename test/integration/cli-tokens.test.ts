// Tokens through the `taskgrid` CLI against real masters with auth on (DESIGN §10): the bootstrap
// admin token from its file, `token create|ls|revoke|whoami`, the three ways a client presents a
// token, what each role may do (another project's task is NOT_FOUND, a role violation
// PERMISSION_DENIED, a revoked token UNAUTHENTICATED), the History of `get` with its actors, an agent
// with an agent token, and the real `taskgrid master` process with --auth, --bootstrap-token-file
// and mTLS: the client TLS flags against it, and its certificates re-read on SIGHUP.
import { runCli } from "../helpers/run-cli.js";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startAgent, type AgentHandle } from "../../agent/agent.js";
import { agentAuthOptions, agentCommand } from "../../src/cli/commands/agent.js";
import { parseCommandArgs } from "../../src/cli/command.js";
import { makeTestCerts } from "../helpers/certs.js";
import { Proc } from "../helpers/processes.js";
import { createTestDatabase, startTestMaster, type TestMaster } from "../helpers/test-master.js";

const dir = mkdtempSync(join(tmpdir(), "taskgrid-cli-tokens-"));
const certs = makeTestCerts();
const bootstrapFile = join(dir, "admin-token");
const noCredentials = join(dir, "no-credentials-here");
let tm: TestMaster;
let admin = "";
const agents: AgentHandle[] = [];

test.before(async () => {
  tm = await startTestMaster({ auth: true, bootstrapTokenFile: bootstrapFile, authRefreshMs: 200 });
  admin = readFileSync(bootstrapFile, "utf8").trim();
});

test.after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await tm.cleanup();
  certs.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

interface Captured {
  code: number;
  out: string;
  err: string;
}

/** Runs the CLI in-process; no token unless `env` gives one (the default credentials file is pointed away). */
function cli(argv: string[], env: Record<string, string> = {}, address = tm.address): Promise<Captured> {
  return runCli(argv, { TASKGRID_MASTER: address, TASKGRID_CREDENTIALS: noCredentials, ...env });
}

const as = (token: string) => ({ TASKGRID_TOKEN: token });

/** `token create` as admin; returns the secret (stdout) and the token id. */
async function createToken(...flags: string[]): Promise<{ secret: string; id: string }> {
  const r = await cli(["token", "create", ...flags], as(admin));
  assert.is(r.code, 0, r.err);
  const secret = r.out.trim();
  assert.match(secret, /^tg1\.[0-9a-f]{16}\.[A-Za-z0-9_-]{43}$/);
  assert.match(r.err, /shown only this once/);
  return { secret, id: secret.split(".")[1] };
}

test("the bootstrap admin token is in its file, mode 0600, and works from the credentials file", async () => {
  assert.match(admin, /^tg1\./);
  assert.is(statSync(bootstrapFile).mode & 0o777, 0o600);
  const r = await cli(["token", "whoami"], { TASKGRID_CREDENTIALS: bootstrapFile });
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^Role:\s+admin$/m);
  assert.match(r.out, new RegExp(`^From:\\s+${bootstrapFile}$`, "m"));
});

test("no token: UNAUTHENTICATED with a hint naming --token, TASKGRID_TOKEN and the credentials file", async () => {
  const r = await cli(["ls"]);
  assert.is(r.code, 1);
  assert.match(r.err, /^error: UNAUTHENTICATED: /);
  assert.match(r.err, /--token, TASKGRID_TOKEN or ~\/\.config\/taskgrid\/credentials/);
});

test("a credentials file others can read is refused; after chmod 600 it is used", async () => {
  const file = join(dir, "open-credentials");
  writeFileSync(file, `# admin\n${admin}\n`);
  chmodSync(file, 0o644);
  const refused = await cli(["token", "whoami"], { TASKGRID_CREDENTIALS: file });
  assert.is(refused.code, 1);
  assert.match(refused.err, new RegExp(`chmod 600 ${file}`));
  chmodSync(file, 0o600);
  const ok = await cli(["token", "whoami"], { TASKGRID_CREDENTIALS: file });
  assert.is(ok.code, 0, ok.err);
  // --token beats TASKGRID_TOKEN, which beats the file.
  const viewer = await createToken("--project", "prec", "--role", "viewer", "--name", "prec-viewer");
  const byFlag = await cli(["token", "whoami", "--token", viewer.secret], { ...as(admin), TASKGRID_CREDENTIALS: file });
  assert.match(byFlag.out, /^Name:\s+prec-viewer$/m);
  assert.match(byFlag.out, /^From:\s+--token$/m);
  const byEnv = await cli(["token", "whoami"], { ...as(viewer.secret), TASKGRID_CREDENTIALS: file });
  assert.match(byEnv.out, /^Name:\s+prec-viewer$/m);
});

test("roles and projects: submitter works in its project; another project's viewer gets NOT_FOUND and PERMISSION_DENIED", async () => {
  const alice = await createToken("--project", "A", "--role", "submitter", "--name", "alice");
  const bob = await createToken("--project", "B", "--role", "viewer", "--name", "bob");

  const submitted = await cli(["submit", "--name", "a-task", "--", "sleep", "30"], as(alice.secret));
  assert.is(submitted.code, 0, submitted.err);
  const id = submitted.out.trim();
  const got = JSON.parse((await cli(["get", id, "--json"], as(alice.secret))).out);
  assert.is(got.spec.project, "A", "a submitter's task lands in its project");

  const hidden = await cli(["get", id], as(bob.secret));
  assert.is(hidden.code, 1);
  assert.match(hidden.err, /^error: NOT_FOUND: /);
  const denied = await cli(["submit", "--", "true"], as(bob.secret));
  assert.is(denied.code, 1);
  assert.match(denied.err, /^error: PERMISSION_DENIED: /);
  assert.match(denied.err, /token whoami/);
  const bobLists = await cli(["ls", "--json"], as(bob.secret));
  assert.is(bobLists.code, 0, bobLists.err);
  assert.not.ok(bobLists.out.includes(id), "another project's tasks are not listed");
  assert.is((await cli(["workers"], as(bob.secret))).code, 0, "viewers may list workers");
  assert.is((await cli(["token", "ls"], as(alice.secret))).code, 1, "only admins list tokens");

  assert.is((await cli(["cancel", id, "--reason", "done"], as(alice.secret))).code, 0);
  // The watch carries the token too: it streams the (already terminal) task and ends.
  const watched = await cli(["watch", id], as(alice.secret));
  assert.is(watched.code, 0, watched.err);
  assert.match(watched.out, /CANCELED/);

  const detail = await cli(["get", id], as(alice.secret));
  assert.is(detail.code, 0, detail.err);
  assert.match(detail.out, /History:\n {2}TIME\s+STATE\s+ACTOR\s+DETAIL\n/);
  assert.match(detail.out, new RegExp(`QUEUED\\s+token ${alice.id} \\(alice\\)`));
  assert.match(detail.out, new RegExp(`CANCELED\\s+token ${alice.id} \\(alice\\)`));
  const json = JSON.parse((await cli(["get", id, "--json"], as(alice.secret))).out);
  assert.equal(json.events.map((e: { state: string }) => e.state).slice(0, 1), ["TASK_STATE_QUEUED"]);
  assert.ok(
    json.events.every((e: { actor?: string }) => e.actor),
    "every event names its actor with auth on",
  );
});

test("token ls, revoke and --all; a revoked token is UNAUTHENTICATED", async () => {
  const carol = await createToken("--project", "C", "--role", "viewer", "--name", "carol", "--expires", "1h");
  const ls = await cli(["token", "ls", "--project", "C"], as(admin));
  assert.is(ls.code, 0, ls.err);
  assert.match(ls.out, new RegExp(`^${carol.id}\\s+carol\\s+C\\s+viewer\\s+-\\s+\\d+s ago\\s+in (59m|1h)\\s+never\\s+-$`, "m"));
  const before = await cli(["token", "whoami"], as(carol.secret));
  assert.is(before.code, 0, before.err);

  const revoked = await cli(["token", "revoke", carol.id], as(admin));
  assert.is(revoked.code, 0, revoked.err);
  assert.is(revoked.out, `token ${carol.id} revoked (carol, viewer, project C)\n`);
  const after = await cli(["token", "whoami"], as(carol.secret));
  assert.is(after.code, 1);
  assert.match(after.err, /^error: UNAUTHENTICATED: /);
  assert.not.match((await cli(["token", "ls", "--project", "C"], as(admin))).out, new RegExp(carol.id), "ls leaves out revoked tokens");
  const all = JSON.parse((await cli(["token", "ls", "--project", "C", "--all", "--json"], as(admin))).out);
  const listed = all.tokens.find((t: { id: string }) => t.id === carol.id);
  assert.ok(listed?.revokedAt, "--all includes it, revoked");
});

test("token create --json: the whole response; --expires sets the lifetime", async () => {
  const r = await cli(["token", "create", "--project", "J", "--role", "admin", "--expires", "12h", "--json"], as(admin));
  assert.is(r.code, 0, r.err);
  const res = JSON.parse(r.out);
  assert.match(res.secret, /^tg1\./);
  assert.is(res.token.role, "ROLE_ADMIN");
  const lifetime = Date.parse(res.token.expiresAt) - Date.parse(res.token.createdAt);
  assert.is(lifetime, 12 * 3600 * 1000);
  const bad = await cli(["token", "create", "--project", "J", "--role", "viewer", "--worker", "x"], as(admin));
  assert.is(bad.code, 2);
});

test("an agent with an agent token, resolved the way `taskgrid agent` does, registers and runs a task", async () => {
  const agentToken = await createToken("--project", "ops", "--role", "agent", "--worker", "cli-agent-*");
  const options = agentAuthOptions(parseCommandArgs(agentCommand, ["--token", agentToken.secret]), { TASKGRID_CREDENTIALS: noCredentials });
  assert.equal(options, { token: agentToken.secret });
  const agent = startAgent({ master: tm.address, workerId: "cli-agent-1", maxTasks: 1, logLevel: "error", log: () => undefined, ...options });
  agents.push(agent);
  await agent.ready;
  const r = await cli(["submit", "--wait", "--", "echo", "from-agent"], as(admin));
  assert.is(r.code, 0, r.err);
  assert.is(r.out, "from-agent\n");
});

test("taskgrid master --auth --bootstrap-token-file with mTLS: the client TLS flags reach it; SIGHUP re-reads the certificates", async () => {
  const db = await createTestDatabase();
  const boot = join(dir, "proc-admin-token");
  const { databaseUrl, dataDir } = db.options;
  const proc = new Proc([
    "master",
    "--listen",
    "127.0.0.1:0",
    "--metrics",
    "127.0.0.1:0",
    ...(databaseUrl ? ["--database-url", databaseUrl] : ["--data-dir", dataDir!]),
    "--auth",
    "--bootstrap-token-file",
    boot,
    "--log-format",
    "json",
    "--tls-cert",
    certs.server.cert,
    "--tls-key",
    certs.server.key,
    "--tls-client-ca",
    certs.ca.cert,
  ]);
  try {
    const [, address] = await proc.waitFor(/master listening on (\S+) \(mTLS, auth on\)/);
    assert.is(statSync(boot).mode & 0o777, 0o600);
    // The certificate names localhost, not 127.0.0.1.
    const byName = address.replace(/^127\.0\.0\.1/, "localhost");
    const mtls = ["--tls-ca", certs.ca.cert, "--tls-cert", certs.client.cert, "--tls-key", certs.client.key];
    const ok = await cli(["token", "whoami", ...mtls], { TASKGRID_CREDENTIALS: boot }, byName);
    assert.is(ok.code, 0, ok.err);
    assert.match(ok.out, /^Role:\s+admin$/m);
    const byEnv = await cli(
      ["info"],
      { TASKGRID_CREDENTIALS: boot, TASKGRID_TLS_CA: certs.ca.cert, TASKGRID_TLS_CERT: certs.client.cert, TASKGRID_TLS_KEY: certs.client.key },
      byName,
    );
    assert.is(byEnv.code, 0, byEnv.err);
    const noClientCert = await cli(["token", "whoami", "--tls-ca", certs.ca.cert], { TASKGRID_CREDENTIALS: boot }, byName);
    assert.is(noClientCert.code, 1);
    assert.match(noClientCert.err, /^error: UNAVAILABLE: [\s\S]*\(TLS problem: check --tls-ca/);
    const plaintext = await cli(["token", "whoami"], { TASKGRID_CREDENTIALS: boot }, address);
    assert.is(plaintext.code, 1);
    assert.match(plaintext.err, /^error: UNAVAILABLE: /);
    const missing = await cli(["token", "whoami", "--tls-ca", join(dir, "nope.pem")], { TASKGRID_CREDENTIALS: boot }, byName);
    assert.is(missing.code, 1);
    assert.match(missing.err, /^error: --tls-ca .*nope\.pem: cannot be read \(no such file\)/);

    proc.child.kill("SIGHUP");
    await proc.waitFor(/received SIGHUP; TLS certificate files re-read/);
    assert.is(proc.child.exitCode, null, "SIGHUP does not stop the master");
    const after = await cli(["token", "whoami", ...mtls], { TASKGRID_CREDENTIALS: boot }, byName);
    assert.is(after.code, 0, after.err);
  } finally {
    await proc.stop();
    await db.drop();
  }
  assert.match(proc.output, /shutting down/);
});

test.run();
