// The real CLI (bin/taskgrid.js) writing megabytes into a pipe: everything must arrive before the
// process exits. process.exit right after a big write used to drop all but what the pipe buffer
// held (64 KiB), so `taskgrid ls --all --json | cat` printed truncated JSON.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createClient } from "../../src/client/index.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

const bin = fileURLToPath(new URL("../../bin/taskgrid.js", import.meta.url));
const TASKS = 3000;

let tm: TestMaster;

test.before(async () => {
  tm = await startTestMaster();
  const client = createClient(tm.address);
  try {
    // One batch: fast, and a long name makes each task's JSON big (several MB in all).
    await client.submitTasks(Array.from({ length: TASKS }, (_, i) => ({ name: `pipe-${i}-${"x".repeat(200)}`, project: "pipe", command: ["true"] })));
  } finally {
    client.close();
  }
});

test.after(async () => {
  await tm.cleanup();
});

function runBin(args: string[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, TASKGRID_MASTER: tm.address }, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

test("ls --all --json into a pipe delivers every task before exiting", async () => {
  const r = await runBin(["ls", "--all", "--json", "--project", "pipe"]);
  assert.is(r.code, 0, r.stderr);
  assert.ok(r.stdout.length > 1024 * 1024, `expected megabytes of JSON, got ${r.stdout.length} bytes`);
  const parsed = JSON.parse(r.stdout.toString("utf8")) as { tasks: Array<{ spec: { name: string } }> };
  assert.is(parsed.tasks.length, TASKS);
  assert.is(new Set(parsed.tasks.map((t) => t.spec.name)).size, TASKS);
});

test.run();
