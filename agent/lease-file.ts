// The agent's side of the lease guard (lease-guard.mjs, or lease-guard-python.ts): a small file under the state dir that
// says until when the lease runs (wall-clock ms) and which task process groups this agent owns,
// rewritten when either changes (coalesced to one write per event-loop turn). On start the agent
// also kills the groups that a previous agent process on this state dir left behind: they are not
// its children, so it could never report on them, and the master runs them elsewhere.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LEASE_GUARD_PYTHON } from "./lease-guard-python.js";

interface GroupEntry {
  pid: number;
  /** /proc start time, so a reused pid is never signalled. */
  start: string;
}

interface LeaseFileContent {
  agentPid: number;
  expiresAtMs: number | null;
  graceMs: number;
  groups: GroupEntry[];
}

export interface LeaseSnapshot {
  expiresAtWallMs: number | null;
  graceMs: number;
  pids: number[];
}

const GUARD = fileURLToPath(new URL("./lease-guard.mjs", import.meta.url));

/** The guard's command line: the Python guard where a python3 is known (a fifth of the memory), else the JavaScript one. */
export function guardCommand(python: string | null, leaseFile: string, agentPid: number, pollMs: number): [string, string[]] {
  const args = [leaseFile, String(agentPid), String(pollMs)];
  return python ? [python, ["-I", "-S", "-c", LEASE_GUARD_PYTHON, ...args]] : [process.execPath, [GUARD, ...args]];
}

export class LeaseFile {
  private readonly path: string;
  private scheduled = false;
  private readonly starts = new Map<number, string>();

  constructor(
    private readonly stateDir: string,
    private readonly snapshot: () => LeaseSnapshot,
    private readonly log: (msg: string, fields: Record<string, unknown>) => void,
    /** The python3 that runs the guard; null: the JavaScript guard. */
    private readonly python: string | null = null,
  ) {
    this.path = join(stateDir, `lease-${process.pid}.json`);
  }

  /** Kills what dead predecessors left, writes the first lease file and starts the guard. */
  start(pollMs: number): void {
    this.reapOrphans();
    this.write();
    const [file, args] = guardCommand(this.python, this.path, process.pid, pollMs);
    const guard = spawn(file, args, { detached: true, stdio: "ignore" });
    guard.on("error", (err) => this.log("lease guard could not start", { error: err.message }));
    guard.unref();
  }

  /** The lease or the set of running attempts changed. */
  changed(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.write();
    });
  }

  /** Clean stop: no groups left, and the guard exits once this process is gone. */
  remove(): void {
    rmSync(this.path, { force: true });
  }

  private write(): void {
    const s = this.snapshot();
    const groups = s.pids.filter((pid) => pid > 0).map((pid) => ({ pid, start: this.startOf(pid) }));
    for (const pid of this.starts.keys()) if (!s.pids.includes(pid)) this.starts.delete(pid);
    const content: LeaseFileContent = { agentPid: process.pid, expiresAtMs: s.expiresAtWallMs, graceMs: s.graceMs, groups };
    try {
      writeFileSync(`${this.path}.tmp`, JSON.stringify(content));
      renameSync(`${this.path}.tmp`, this.path);
    } catch (err) {
      this.log("could not write the lease file", { error: String(err) });
    }
  }

  private startOf(pid: number): string {
    let start = this.starts.get(pid);
    if (start === undefined) this.starts.set(pid, (start = processStartTime(pid)));
    return start;
  }

  private reapOrphans(): void {
    for (const name of readdirSync(this.stateDir)) {
      if (!/^lease-\d+\.json$/.test(name)) continue;
      const file = join(this.stateDir, name);
      let content: LeaseFileContent;
      try {
        content = JSON.parse(readFileSync(file, "utf8")) as LeaseFileContent;
      } catch {
        rmSync(file, { force: true });
        continue;
      }
      if (content.agentPid === process.pid || processAlive(content.agentPid)) continue;
      let killed = 0;
      for (const group of content.groups) {
        if (group.start && processStartTime(group.pid) !== group.start) continue;
        try {
          process.kill(-group.pid, "SIGKILL");
          killed++;
        } catch {
          // Gone already.
        }
      }
      if (killed > 0) this.log("killed task process groups left by a previous agent process", { groups: killed, agentPid: content.agentPid });
      rmSync(file, { force: true });
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Field 22 of /proc/PID/stat; "" when unknown (no /proc, or the process is gone). */
export function processStartTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  } catch {
    return "";
  }
}
