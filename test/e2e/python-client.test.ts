// The Python example (examples/python) against a real master and agent: clients in other
// languages are first-class. Skipped, with the reason printed, where python3 lacks grpc.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAgent } from "../../agent/agent.js";
import { Role } from "../../src/gen/taskgrid/v1/types.js";
import { call, rawClients } from "../helpers/grpc-clients.js";
import { ROOT } from "../helpers/processes.js";
import { closedPort, FakeMaster, standbyOf } from "../helpers/fake-standby.js";
import { startTestMaster } from "../helpers/test-master.js";

const PYTHON = "/usr/bin/python3";
const probe = spawnSync(PYTHON, ["-c", "import grpc, grpc_tools"], { encoding: "utf8" });
const available = probe.status === 0;

/** Runs the example (or, with `script`, that Python source) without TASKGRID_TOKEN from this environment. */
function runPython(args: string[], script?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { TASKGRID_TOKEN: _, ...env } = process.env;
  const child = spawn(PYTHON, [...(script === undefined ? [`${ROOT}examples/python/taskgrid_example.py`] : ["-c", script]), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

if (!available) {
  console.log(`SKIP python client test: ${PYTHON} cannot import grpc/grpc_tools (apt-get install python3-grpcio python3-grpc-tools)`);
} else {
  test("the Python example submits a task, watches it and exits with its code", async () => {
    const m = await startTestMaster();
    const agent = startAgent({ master: m.address, workerId: "py-agent", tags: ["py"], log: () => {} });
    try {
      await agent.ready;
      const ok = await runPython(["--master", m.address, "--tag", "py", "--", "echo", "hello from python"]);
      assert.is(ok.code, 0, ok.stderr);
      assert.is(ok.stdout, "hello from python\n");
      assert.match(ok.stderr, /TASK_STATE_SUCCEEDED py-agent/);
      const bad = await runPython(["--master", m.address, "--tag", "py", "--", "sh", "-c", "exit 4"]);
      assert.is(bad.code, 4);
      const invalid = await runPython(["--master", m.address, "--", ""]);
      assert.is(invalid.code, 1);
      assert.match(invalid.stderr, /INVALID_ARGUMENT: spec.command\[0\]/);
    } finally {
      await agent.stop();
      await m.cleanup();
    }
  });

  test("with --master standby,leader (or a dead master first) the example follows the leader", async () => {
    const m = await startTestMaster();
    const standby = await FakeMaster.start(standbyOf(m.address));
    const agent = startAgent({ master: m.address, workerId: "py-ha-agent", tags: ["py-ha"], log: () => {} });
    try {
      await agent.ready;
      const viaStandby = await runPython(["--master", `${standby.address},${m.address}`, "--tag", "py-ha", "--", "echo", "via the standby"]);
      assert.is(viaStandby.code, 0, viaStandby.stderr);
      assert.is(viaStandby.stdout, "via the standby\n");
      assert.equal([...standby.calls], [["submitTask", 1]], "after the redirect every call went to the leader");
      const pastDead = await runPython(["--master", `127.0.0.1:${await closedPort()},${m.address}`, "--tag", "py-ha", "--", "echo", "past a dead one"]);
      assert.is(pastDead.code, 0, pastDead.stderr);
      assert.is(pastDead.stdout, "past a dead one\n");
    } finally {
      await agent.stop();
      await standby.stop();
      await m.cleanup();
    }
  });

  // Two `authorization` values, which grpc-js clients refuse to send; Python's sends both.
  const TWO_VALUES = `
import grpc, sys
address, token = sys.argv[1], sys.argv[2]
who_am_i = grpc.insecure_channel(address).unary_unary("/taskgrid.v1.AdminService/WhoAmI")
for name, values in [("garbage,valid", ["Bearer garbage", "Bearer " + token]), ("valid,garbage", ["Bearer " + token, "Bearer garbage"])]:
    try:
        who_am_i(b"", metadata=[("authorization", v) for v in values], timeout=30)
        print(name, "OK")
    except grpc.RpcError as err:
        print(name, err.code().name)
`;

  test("with auth on, the example sends its token as metadata; without one the call is UNAUTHENTICATED", async () => {
    const dir = mkdtempSync(join(tmpdir(), "taskgrid-py-auth-"));
    const m = await startTestMaster({ auth: true, bootstrapTokenFile: join(dir, "admin-token") });
    const admin = rawClients(m.address, readFileSync(join(dir, "admin-token"), "utf8").trim());
    const mint = async (role: Role) => (await call(admin.admin, "createToken", { project: "py", role })).secret as string;
    const agent = startAgent({ master: m.address, workerId: "py-auth-agent", tags: ["py-auth"], token: await mint(Role.ROLE_AGENT), log: () => {} });
    try {
      await agent.ready;
      const submitter = await mint(Role.ROLE_SUBMITTER);
      const ok = await runPython(["--master", m.address, "--token", submitter, "--tag", "py-auth", "--", "echo", "hello with a token"]);
      assert.is(ok.code, 0, ok.stderr);
      assert.is(ok.stdout, "hello with a token\n");
      const none = await runPython(["--master", m.address, "--tag", "py-auth", "--", "echo", "no token"]);
      assert.is(none.code, 1);
      assert.match(none.stderr, /error: UNAUTHENTICATED: authorization: required/);
      const tasks = (await call(admin.tasks, "listTasks", { project: "py" })).tasks;
      assert.is(tasks.length, 1, "the refused submit stored nothing");
      // Node's HTTP/2 server keeps only the first value of `authorization` (a single-value header
      // there), so the guard sees one: a later valid value never rescues a bad first one. Pinned so a
      // change is noticed.
      const two = await runPython([m.address, submitter], TWO_VALUES);
      assert.is(two.stdout, "garbage,valid UNAUTHENTICATED\nvalid,garbage OK\n", two.stderr);
    } finally {
      admin.close();
      await agent.stop();
      await m.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test.run();
