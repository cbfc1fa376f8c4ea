// The Python example (examples/python) against a real master and agent: clients in other
// languages are first-class. Skipped, with the reason printed, where python3 lacks grpc.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync, spawn } from "node:child_process";
import { startAgent } from "../../agent/agent.js";
import { ROOT } from "../helpers/processes.js";
import { startTestMaster } from "../helpers/test-master.js";

const PYTHON = "/usr/bin/python3";
const probe = spawnSync(PYTHON, ["-c", "import grpc, grpc_tools"], { encoding: "utf8" });
const available = probe.status === 0;

function runPython(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(PYTHON, [`${ROOT}examples/python/taskgrid_example.py`, ...args], { stdio: ["ignore", "pipe", "pipe"] });
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
}

test.run();
