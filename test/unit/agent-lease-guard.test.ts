// The lease guard, both flavours (Python where a python3 exists, JavaScript otherwise), run as the
// agent runs it (guardCommand), on real process groups: an expired lease stops the groups (SIGTERM,
// then SIGKILL after the grace) while the guard goes on; a dead agent's groups are stopped and the
// guard removes the file and exits; a group whose recorded start time no longer matches its pid
// (a reused pid) is never signalled. Waits on exit events, no sleeps.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { guardCommand, leaseText, processStartTime } from "../../agent/lease-file.js";
import { findUsagePython } from "../../agent/rusage.js";

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));

/** A task-like process group: a shell that ignores SIGTERM when asked (so only SIGKILL ends it). */
function group(ignoreTerm = false): ChildProcess {
  return spawn("sh", ["-c", ignoreTerm ? "trap '' TERM; while :; do sleep 1; done" : "sleep 60"], { detached: true, stdio: "ignore" });
}

async function deadPid(): Promise<number> {
  const child = spawn("true");
  await exited(child);
  return child.pid!;
}

const python = findUsagePython();
for (const flavour of ["python", "javascript"] as const) {
  const test = suite(`lease guard (${flavour})`);
  const runGuard = (file: string, agentPid: number) => {
    const [cmd, args] = guardCommand(flavour === "python" ? python : null, file, agentPid, 20);
    return spawn(cmd, args, { stdio: "ignore" });
  };

  test("an expired lease: its groups get SIGTERM, one ignoring it SIGKILL after the grace; the guard stays", async () => {
    if (flavour === "python" && !python) return;
    const dir = mkdtempSync(join(tmpdir(), "guard-"));
    const polite = group();
    const stubborn = group(true);
    const file = join(dir, "lease.json");
    const groups = [polite, stubborn].map((c) => ({ pid: c.pid!, start: processStartTime(c.pid!) }));
    writeFileSync(file, leaseText({ agentPid: process.pid, expiresAtMs: Date.now() - 1, graceMs: 200, groups }));
    const guard = runGuard(file, process.pid);
    const guardEnd = exited(guard);
    try {
      assert.equal((await exited(polite)).signal, "SIGTERM");
      assert.equal((await exited(stubborn)).signal, "SIGKILL");
      assert.ok(guard.exitCode === null && existsSync(file), "the agent lives: the guard and its file stay");
    } finally {
      guard.kill("SIGKILL");
      await guardEnd;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a dead agent: its groups are stopped, a reused pid is spared, and the guard removes the file and exits 0", async () => {
    if (flavour === "python" && !python) return;
    const dir = mkdtempSync(join(tmpdir(), "guard-"));
    const task = group();
    const bystander = group(); // its recorded start time is wrong: a pid the task's group no longer owns
    const file = join(dir, "lease.json");
    const groups = [
      { pid: task.pid!, start: processStartTime(task.pid!) },
      { pid: bystander.pid!, start: "1" },
    ];
    writeFileSync(file, leaseText({ agentPid: await deadPid(), expiresAtMs: null, graceMs: 1000, groups }));
    const guard = runGuard(file, await deadPid());
    try {
      assert.equal((await exited(task)).signal, "SIGTERM");
      assert.equal((await exited(guard)).code, 0);
      assert.not.ok(existsSync(file), "the lease file is removed");
      assert.is(bystander.exitCode, null, "the reused pid was not signalled");
      assert.is(bystander.signalCode, null);
    } finally {
      bystander.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.run();
}
