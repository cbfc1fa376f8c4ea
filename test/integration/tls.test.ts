// TLS and mTLS end to end with grpc-js' own credentials, against a real master: who gets served
// (a client trusting the CA; with mTLS only one presenting a certificate of the client CA), an
// agent registering and running a task over mTLS, and certificate reloads (handle.reloadTls() and a
// change of the files) that new connections see while streams opened before keep working. Plus the
// agent's token on the Connect call and its backoff when the master refuses it. Every case counts
// what happened (tasks stored, sessions opened, serials served); waits are on events or bounded polls.
import * as grpc from "@grpc/grpc-js";
import type { X509Certificate } from "node:crypto";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { connect as tlsConnect } from "node:tls";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startAgent, type AgentHandle, type AgentPhase } from "../../agent/agent.js";
import { AgentConfigError, resolveAgentConfig } from "../../agent/agent-config.js";
import { createLogger } from "../../master/logger.js";
import { createServerTls } from "../../master/tls.js";
import { ClientError, createClient, type TaskgridClient } from "../../src/client/index.js";
import { channelCredentials, TlsFileError, type ClientTlsOptions } from "../../src/client/tls.js";
import { MasterMessage, Registered, WorkerServiceService, type AgentMessage } from "../../src/gen/taskgrid/v1/worker_service.js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { makeTestCerts, type IssuedCert } from "../helpers/certs.js";
import { TaskEvents, waitUntil } from "../helpers/task-watch.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

const certs = makeTestCerts();
// The mTLS master serves copies, so the reload cases can overwrite them.
const live = { cert: `${certs.dir}/live.pem`, key: `${certs.dir}/live.key` };
copyFileSync(certs.server.cert, live.cert);
copyFileSync(certs.server.key, live.key);

const clients: TaskgridClient[] = [];
const agents: AgentHandle[] = [];
const masters: TestMaster[] = [];
let tlsMaster: TestMaster;
let mtlsMaster: TestMaster;
/** Phases of the mTLS agent: one `registered` means its stream was never dropped. */
const agentPhases: AgentPhase[] = [];

test.before(async () => {
  [tlsMaster, mtlsMaster] = await Promise.all([
    startTestMaster({ tls: { certFile: certs.server.cert, keyFile: certs.server.key } }),
    startTestMaster({ tls: { certFile: live.cert, keyFile: live.key, clientCaFile: certs.ca.cert }, heartbeatIntervalMs: 200 }),
  ]);
  masters.push(tlsMaster, mtlsMaster);
});

test.after(async () => {
  for (const c of clients) c.close();
  await Promise.all(agents.map((a) => a.stop()));
  await Promise.all(masters.map((m) => m.cleanup()));
  certs.cleanup();
});

function client(address: string, tls: ClientTlsOptions | undefined): TaskgridClient {
  const c = createClient(address, { credentials: channelCredentials(tls), deadlineMs: 10_000 });
  clients.push(c);
  return c;
}

const trusting: ClientTlsOptions = { caFile: certs.ca.cert };
const withClientCert: ClientTlsOptions = { caFile: certs.ca.cert, certFile: certs.client.cert, keyFile: certs.client.key };

async function failure(p: Promise<unknown>): Promise<ClientError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, ClientError);
    return err as ClientError;
  }
  throw new Error("expected the call to fail");
}

/** The certificate a fresh TLS connection (ALPN h2, as gRPC) to the master gets. */
function servedCertificate(address: string, extra: { cert?: string; key?: string } = {}): Promise<X509Certificate> {
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      { host, port, ca: readPem(certs.ca.cert), ALPNProtocols: ["h2"], cert: extra.cert && readPem(extra.cert), key: extra.key && readPem(extra.key) },
      () => {
        const cert = socket.getPeerX509Certificate();
        socket.destroy();
        if (cert) resolve(cert);
        else reject(new Error("no peer certificate"));
      },
    );
    socket.once("error", reject);
  });
}

const readPem = (file: string) => readFileSync(file, "utf8");

const servedSerial = async (m: TestMaster) => (await servedCertificate(m.address, { cert: certs.client.cert, key: certs.client.key })).serialNumber;

async function rejects(p: Promise<unknown>, expected: RegExp | ((e: unknown) => boolean)): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e ?? new Error("rejected without a reason"),
  );
  assert.ok(err, "expected a rejection");
  assert.ok(typeof expected === "function" ? expected(err) : expected.test(String((err as Error).message)), String((err as Error).message));
}

const logEntries = (m: TestMaster) => m.logs.map((l) => JSON.parse(l) as Record<string, unknown>);

test("files that are missing or not PEM fail at start, naming the file", async () => {
  const log = createLogger({ write: () => {} });
  const missing = `${certs.dir}/missing.pem`;
  await rejects(
    createServerTls({ certFile: missing, keyFile: certs.server.key }, log),
    (e: unknown) => e instanceof TlsFileError && e.file === missing && /tls_cert .*missing\.pem: cannot be read \(no such file\)/.test(e.message),
  );
  const notPem = `${certs.dir}/server.csr.txt`;
  writeFileSync(notPem, "hello\n");
  await rejects(createServerTls({ certFile: certs.server.cert, keyFile: notPem }, log), /tls_key .*server\.csr\.txt: not a PEM private key/);
  await rejects(createServerTls({ certFile: notPem, keyFile: certs.server.key }, log), /tls_cert .*server\.csr\.txt: not a PEM certificate/);
  await rejects(
    createServerTls({ certFile: certs.server.cert, keyFile: certs.client.key }, log),
    /tls_cert .*server\.pem: does not match the private key in .*client\.key/,
  );
  await rejects(
    createServerTls({ certFile: certs.server.cert, keyFile: certs.server.key, clientCaFile: certs.server.key }, log),
    /tls_client_ca .*server\.key: not a PEM certificate/,
  );
  writeFileSync(`${certs.dir}/broken.pem`, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  await rejects(
    createServerTls({ certFile: `${certs.dir}/broken.pem`, keyFile: certs.server.key }, log),
    /tls_cert .*broken\.pem: certificate 1 is not valid PEM/,
  );

  assert.throws(() => channelCredentials({ caFile: missing }), /tls_ca .*missing\.pem: cannot be read/);
  assert.throws(() => channelCredentials({ caFile: certs.ca.cert, certFile: certs.client.cert }), /tls_cert .*client\.pem: needs a private key too/);
  assert.throws(
    () => resolveAgentConfig({ master: "127.0.0.1:1", tls: { caFile: missing } }),
    (e: unknown) => e instanceof AgentConfigError && e.option === "tls.caFile" && e.message.includes(missing),
  );
  assert.throws(
    () => resolveAgentConfig({ master: "127.0.0.1:1", token: "not-a-token" }),
    (e: unknown) => e instanceof AgentConfigError && e.option === "token" && !e.message.includes("not-a-token"),
  );
});

test("TLS: a client trusting the CA is served; an insecure client and one trusting another CA get UNAVAILABLE and nothing is stored", async () => {
  const m = tlsMaster;
  const good = client(m.address, trusting);
  const info = await good.getSchedulerInfo();
  assert.ok(info, "GetSchedulerInfo answered over TLS");
  await good.submitTask({ command: ["true"], requiredTags: ["nobody-has-this"] });

  const refused = [client(m.address, undefined), client(m.address, { caFile: certs.otherCa.cert })];
  for (const c of refused) {
    assert.is((await failure(c.getSchedulerInfo())).codeName, "UNAVAILABLE");
    assert.is((await failure(c.submitTask({ command: ["true"] }))).codeName, "UNAVAILABLE");
  }
  const stored = await good.listTasks({});
  assert.is(stored.tasks.length, 1, "only the trusted client's task exists");
  assert.is((await servedCertificate(m.address)).serialNumber, certs.server.serial);
  // A name check against a name the certificate does not carry fails; one it carries passes.
  assert.is((await failure(client(m.address, { ...trusting, serverName: "elsewhere.example" }).getSchedulerInfo())).codeName, "UNAVAILABLE");
  assert.ok(await client(m.address, { ...trusting, serverName: "localhost" }).getSchedulerInfo());
});

test("mTLS: no client certificate, or one from another CA, is refused; a certificate of the client CA is served", async () => {
  const m = mtlsMaster;
  const good = client(m.address, withClientCert);
  assert.ok(await good.getSchedulerInfo());
  const before = (await good.listTasks({})).tasks.length;
  const refused = [client(m.address, trusting), client(m.address, { caFile: certs.ca.cert, certFile: certs.otherClient.cert, keyFile: certs.otherClient.key })];
  for (const c of refused) {
    const err = await failure(c.submitTask({ command: ["true"] }));
    assert.is(err.codeName, "UNAVAILABLE", err.message);
  }
  assert.is((await good.listTasks({})).tasks.length, before, "nothing was stored for the refused clients");
});

test("mTLS: an agent with a client certificate registers and runs a task to SUCCEEDED; one without is never registered and backs off", async () => {
  const m = mtlsMaster;
  const phases = agentPhases;
  const agent = startAgent({
    master: m.address,
    workerId: "tls-agent",
    tags: ["tls"],
    maxTasks: 2,
    tls: withClientCert,
    backoff: { baseMs: 50, capMs: 500 },
    stopGraceMs: 1_000,
    log: () => {},
    onPhase: (p) => phases.push(p),
  });
  agents.push(agent);
  await agent.ready;

  const refusedPhases: AgentPhase[] = [];
  const refusedLogs: Array<Record<string, unknown>> = [];
  const noCert = startAgent({
    master: m.address,
    workerId: "no-cert-agent",
    tags: ["tls"],
    tls: trusting,
    backoff: { baseMs: 20, capMs: 200 },
    log: (l) => refusedLogs.push(JSON.parse(l)),
    onPhase: (p) => refusedPhases.push(p),
  });

  const c = client(m.address, withClientCert);
  const { task } = await c.submitTask({ command: ["true"], requiredTags: ["tls"] });
  const events = new TaskEvents(c, [task.id]);
  const done = await events.state(TaskState.TASK_STATE_SUCCEEDED);
  events.close();
  assert.is(done.workerId, "tls-agent");
  assert.equal(phases.filter((p) => p === "registered").length, 1);

  await waitUntil(() => refusedPhases.filter((p) => p === "backoff").length >= 3, "three refused connection attempts");
  await noCert.stop();
  assert.not.ok(refusedPhases.includes("registered"), "never registered without a client certificate");
  const workers = (await c.listWorkers()).map((w) => w.id);
  assert.ok(workers.includes("tls-agent"));
  assert.not.ok(workers.includes("no-cert-agent"), "the master never saw it");
  assert.ok(refusedLogs.some((l) => l.message === "master stream closed; reconnecting"));
});

async function rotate(next: IssuedCert): Promise<void> {
  copyFileSync(next.key, live.key);
  copyFileSync(next.cert, live.cert);
}

test("reload: after reloadTls() and after the files change, new connections get the new certificate; older streams keep receiving events", async () => {
  const m = mtlsMaster;
  const c = client(m.address, withClientCert);
  const watch = new TaskEvents(c, []); // opened before any reload, on its connection
  assert.is(agents[0]!.phase(), "registered");
  const runOne = async (through: TaskgridClient) => {
    const { task } = await through.submitTask({ command: ["true"], requiredTags: ["tls"] });
    await watch.until((e) => e.taskId === task.id && e.state === TaskState.TASK_STATE_SUCCEEDED);
  };
  await runOne(c);
  assert.is(await servedSerial(m), certs.server.serial);

  // 1. Explicit reload (what SIGHUP does).
  const second = certs.issueServer("server-2");
  await rotate(second);
  assert.ok(await m.master.reloadTls(), "reloadTls() accepts the new pair");
  assert.is(await servedSerial(m), second.serial, "a new connection gets the new certificate");
  assert.ok(await client(m.address, withClientCert).getSchedulerInfo(), "a new gRPC channel verifies it against the CA");
  await runOne(client(m.address, withClientCert));
  assert.ok(await c.getSchedulerInfo(), "the old connection still serves unary calls");

  // 2. Unusable files: refused, the previous certificate stays, an error is logged.
  writeFileSync(live.cert, "not a certificate\n");
  assert.is(await m.master.reloadTls(), false);
  const failed = logEntries(m).filter((l) => l.level === "error" && String(l.message).includes("tls reload failed"));
  assert.ok(failed.length >= 1 && String(failed[0]!.error).includes("live.pem"), JSON.stringify(failed));
  assert.is(await servedSerial(m), second.serial, "the previous certificate is still served");
  await rotate(second);

  // 3. Just change the files: the watcher reloads (wait for its log line, then look).
  const third = certs.issueServer("server-3");
  const reloadsBefore = logEntries(m).filter((l) => String(l.message) === "tls certificates reloaded").length;
  await rotate(third);
  await waitUntil(
    () => logEntries(m).some((l) => String(l.message) === "tls certificates reloaded" && l.serial === third.serial),
    "the file watcher reloads the new certificate",
    15_000,
  );
  assert.is(await servedSerial(m), third.serial);
  await runOne(client(m.address, withClientCert));
  assert.is(logEntries(m).filter((l) => String(l.message) === "tls certificates reloaded").length, reloadsBefore + 1, "one reload for the rotation");

  // The stream opened first saw every task's events; the agent's stream was never dropped.
  assert.is(watch.all.filter((e) => e.state === TaskState.TASK_STATE_SUCCEEDED).length >= 3, true);
  assert.equal(agentPhases.filter((p) => p === "registered").length, 1, "the agent registered once: its stream survived the reloads");
  assert.is(agents[0]!.phase(), "registered");
  watch.close();
});

test("agent token: sent as `authorization: Bearer` over TLS; UNAUTHENTICATED / PERMISSION_DENIED are logged as errors and retried with a growing backoff", async () => {
  const serverLogs: string[] = [];
  const serverTls = await createServerTls({ certFile: certs.server.cert, keyFile: certs.server.key }, createLogger({ write: (l) => serverLogs.push(l) }));
  const seen: string[][] = [];
  let accept = false;
  const server = new grpc.Server();
  server.addService(WorkerServiceService, {
    connect: (call: grpc.ServerDuplexStream<AgentMessage, MasterMessage>) => {
      seen.push(call.metadata.get("authorization").map(String));
      if (!accept) {
        const code = seen.length % 2 === 1 ? grpc.status.UNAUTHENTICATED : grpc.status.PERMISSION_DENIED;
        call.emit("error", { code, details: "token refused by the test" });
        return;
      }
      call.on("data", (m: AgentMessage) => {
        if (m.body?.$case === "register")
          call.write(
            MasterMessage.fromPartial({
              body: { $case: "registered", value: Registered.fromPartial({ workerId: "token-agent", heartbeatIntervalMs: 60_000 }) },
            }),
          );
      });
      call.on("end", () => call.end());
    },
  } as unknown as grpc.UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", serverTls.credentials, (e, p) => (e ? reject(e) : resolve(p))));

  const token = `tg1.0123456789abcdef.${"A".repeat(43)}`;
  const logs: Array<Record<string, unknown>> = [];
  const agent = startAgent({
    master: `127.0.0.1:${port}`,
    workerId: "token-agent",
    tls: trusting,
    token,
    backoff: { baseMs: 20, capMs: 10_000, random: () => 0.5 },
    log: (l) => logs.push(JSON.parse(l)),
  });
  const refusals = () => logs.filter((l) => l.level === "error" && String(l.message).includes("master refused the agent"));
  await waitUntil(() => refusals().length >= 4, "four refusals");
  accept = true;
  await agent.ready;
  await agent.stop();
  server.forceShutdown();
  serverTls.close();

  assert.ok(seen.length >= 5);
  for (const values of seen) assert.equal(values, [`Bearer ${token}`], "every Connect carries the token");
  const delays = refusals().map((l) => Number(l.delayMs));
  assert.equal(delays.slice(0, 4), [10, 20, 40, 80], "backoff doubles with each refusal (random() = 0.5)");
  const reasons = refusals()
    .slice(0, 2)
    .map((l) => String(l.reason));
  assert.ok(reasons[0]!.startsWith("UNAUTHENTICATED") && reasons[1]!.startsWith("PERMISSION_DENIED"), reasons.join(" | "));
  assert.not.ok(JSON.stringify(logs).includes(token.split(".")[2]!), "the secret is never logged");
});

test.run();
