// Smoke tests of the installed entry point (bin/taskgrid.js via tsx, no build) and of how the typed
// client reports an unreachable master. No master is needed: the "closed port" is one we just freed.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ClientError, createClient } from "../../src/client/index.js";
import { binNodeFlags } from "../helpers/processes.js";

const bin = fileURLToPath(new URL("../../bin/taskgrid.js", import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node bin/taskgrid.js ARGS`, or with `asExecutable` the file itself (its shebang picks node and its flags). */
function runBin(args: string[], env: Record<string, string> = {}, asExecutable = false): Promise<Run> {
  return new Promise((resolve, reject) => {
    const [file, argv] = asExecutable ? [bin, args] : [process.execPath, [bin, ...args]];
    const child = spawn(file, argv, { env: { ...process.env, TASKGRID_MASTER: "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test("the bin runs as an executable: its shebang gives node the flags the benchmarks use", async () => {
  assert.equal(binNodeFlags(), ["--max-semi-space-size=64"]);
  const r = await runBin(["--help"], {}, true);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /Usage: taskgrid <command>/);
});

test("taskgrid --help lists every verb", async () => {
  const r = await runBin(["--help"]);
  assert.is(r.code, 0, r.stderr);
  for (const verb of [
    "dev",
    "master",
    "agent",
    "submit",
    "get",
    "ls",
    "watch",
    "cancel",
    "pause",
    "resume",
    "workers",
    "info",
    "drain",
    "undrain",
    "token",
    "quota",
    "shares",
  ]) {
    assert.match(r.stdout, new RegExp(`^  ${verb} `, "m"));
  }
});

test("taskgrid submit --help shows the flags", async () => {
  const r = await runBin(["submit", "--help"]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /Usage: taskgrid submit \[flags\] -- COMMAND/);
  for (const flag of ["--wait", "--estimate", "--deadline", "--gpus", "--master", "--json"]) assert.ok(r.stdout.includes(flag), flag);
});

test("ls against a closed port prints a clean UNAVAILABLE error and exits 1", async () => {
  const port = await closedPort();
  const r = await runBin(["ls", "--master", `127.0.0.1:${port}`]);
  assert.is(r.code, 1);
  assert.is(r.stdout, "");
  assert.match(r.stderr, /^error: UNAVAILABLE: /);
  assert.not.match(r.stderr, /\n\s+at /, "no stack trace");
});

test("TASKGRID_MASTER is used when --master is absent", async () => {
  const port = await closedPort();
  const r = await runBin(["info"], { TASKGRID_MASTER: `127.0.0.1:${port}` });
  assert.is(r.code, 1);
  assert.ok(r.stderr.includes(`127.0.0.1:${port}`), r.stderr);
});

test("usage errors exit 2 and name the flag", async () => {
  const r = await runBin(["submit", "--estimate", "soon", "--", "true"]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /^error: --estimate: "soon" is not a duration/);
  const unknown = await runBin(["frobnicate"]);
  assert.is(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
});

test("client calls to a closed port reject with a typed ClientError", async () => {
  const client = createClient(`127.0.0.1:${await closedPort()}`);
  try {
    await client.getTask("x");
    assert.unreachable("should have failed");
  } catch (err) {
    assert.instance(err, ClientError);
    const e = err as ClientError;
    assert.is(e.code, 14);
    assert.is(e.codeName, "UNAVAILABLE");
    assert.ok(e.details.length > 0);
  } finally {
    client.close();
  }
});

test.run();
