// A restarted agent kills the task process groups its dead predecessor left (listed in that
// process's lease file), but never a process that only reuses one of those pids (the start time
// recorded beside each pid must match). Real processes; no sleeps (waits on exit events).
// And the file's format: rewritten in place, a read that overlaps a write is never taken for a lease.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LeaseFile, leaseFromText, leaseText, processStartTime, type LeaseFileContent } from "../../agent/lease-file.js";

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

test("on start, groups left by a dead agent process are killed (a file of an older agent, one JSON copy); a reused pid is spared", async () => {
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
      () => ({ expiresAtWallMs: null, graceMs: 0, groups: [] }),
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

const lease = (expiresAtMs: number, pids: number[]): LeaseFileContent => ({
  agentPid: 4242,
  expiresAtMs,
  graceMs: 5000,
  groups: pids.map((pid) => ({ pid, start: String(100_000 + pid) })),
});

test("a read overlapping a write is never taken for a lease: at every point the new text meets the old, it is the old, the new or nothing", () => {
  const pairs: [LeaseFileContent, LeaseFileContent][] = [
    [lease(1_799_999_999_999, [101, 102]), lease(1_800_000_000_000, [101, 102, 103])],
    [lease(1_800_000_000_000, [101, 102, 103]), lease(1_799_999_999_999, [102])], // shorter: padded
    [lease(1_700_000_000_000, []), lease(1_800_000_000_000, [7])],
  ];
  for (const [before, after] of pairs) {
    const oldText = leaseText(before);
    const newText = leaseText(after);
    const size = Math.max(oldText.length, newText.length);
    const [o, n] = [oldText.padEnd(size, " "), newText.padEnd(size, " ")];
    assert.equal(leaseFromText(o), before);
    assert.equal(leaseFromText(n), after);
    for (let cut = 1; cut < size; cut++) {
      for (const torn of [n.slice(0, cut) + o.slice(cut), o.slice(0, cut) + n.slice(cut)]) {
        const read = leaseFromText(torn);
        if (read !== null)
          assert.ok(
            torn === o || torn === n || JSON.stringify(read) === JSON.stringify(before) || JSON.stringify(read) === JSON.stringify(after),
            `cut ${cut}`,
          );
      }
    }
  }
});

test("the agent rewrites its file in place: padded to the longest content, each write read whole", async () => {
  const dir = mkdtempSync(join(tmpdir(), "taskgrid-lease-"));
  let pids = [11, 12, 13];
  // Pid 11's start time as the launcher reports it; the others' are read from /proc.
  const groups = () => pids.map((pid) => ({ pid, start: pid === 11 ? "4242" : null }));
  const file = new LeaseFile(
    dir,
    () => ({ expiresAtWallMs: 1_800_000_000_000, graceMs: 0, groups: groups() }),
    () => {},
  );
  try {
    file.start(50);
    const path = join(dir, `lease-${process.pid}.json`);
    const first = readFileSync(path, "utf8");
    assert.equal(
      leaseFromText(first)?.groups.map((g) => g.pid),
      [11, 12, 13],
    );
    assert.is(leaseFromText(first)?.groups[0].start, "4242", "a start time the launcher reported is written as it is");
    pids = [12];
    file.changed(); // written on the next turn of the event loop
    await new Promise((resolve) => setImmediate(resolve));
    const second = readFileSync(path, "utf8");
    assert.is(second.length, first.length, "a shorter lease is padded, the file never shrinks");
    assert.equal(
      leaseFromText(second)?.groups.map((g) => g.pid),
      [12],
    );
  } finally {
    file.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
