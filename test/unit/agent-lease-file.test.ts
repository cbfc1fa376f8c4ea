// A restarted agent kills the task process groups its dead predecessor left (listed in that
// process's lease file), but never a process that only reuses one of those pids (the start time
// recorded beside each pid must match). Real processes; no sleeps (waits on exit events).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LeaseFile, processStartTime } from "../../agent/lease-file.js";

function detached(): ChildProcess {
  const child = spawn("sleep", ["60"], { detached: true, stdio: "ignore" });
  return child;
}

const exited = (child: ChildProcess) => new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_code, signal) => resolve(signal)));

async function deadPid(): Promise<number> {
  const child = spawn("true");
  await exited(child);
  return child.pid!;
}

test("on start, groups left by a dead agent process are killed; a reused pid is spared", async () => {
  const dir = mkdtempSync(join(tmpdir(), "taskgrid-lease-"));
  const orphan = detached();
  const bystander = detached();
  try {
    const orphanExit = exited(orphan);
    const previous = await deadPid();
    writeFileSync(
      join(dir, `lease-${previous}.json`),
      JSON.stringify({
        agentPid: previous,
        expiresAtMs: null,
        graceMs: 0,
        groups: [
          { pid: orphan.pid, start: processStartTime(orphan.pid!) },
          { pid: bystander.pid, start: "1" }, // the pid is now someone else's: its start time differs
        ],
      }),
    );
    const logs: string[] = [];
    const file = new LeaseFile(
      dir,
      () => ({ expiresAtWallMs: null, graceMs: 0, pids: [] }),
      (msg) => logs.push(msg),
    );
    file.start(50);
    assert.is(await orphanExit, "SIGKILL");
    assert.is(bystander.exitCode, null);
    assert.is(bystander.signalCode, null, "a process reusing a listed pid is not signalled");
    assert.match(logs.join("\n"), /killed task process groups left by a previous agent process/);
    assert.not.ok(existsSync(join(dir, `lease-${previous}.json`)), "the dead predecessor's file is gone");
    assert.equal(
      readdirSync(dir).filter((n) => n.startsWith("lease-")),
      [`lease-${process.pid}.json`],
    );
    file.remove();
  } finally {
    for (const c of [orphan, bystander]) if (c.exitCode === null && c.signalCode === null) process.kill(-c.pid!, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
