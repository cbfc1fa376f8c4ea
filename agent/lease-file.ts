// The agent's side of the lease guard (lease-guard.mjs, or lease-guard-python.ts): a small file under the state dir that
// says until when the lease runs (wall-clock ms) and which task process groups this agent owns,
// rewritten when either changes (coalesced to one write per event-loop turn). On start the agent
// also kills the groups that a previous agent process on this state dir left behind: they are not
// its children, so it could never report on them, and the master runs them elsewhere.
//
// The file is rewritten in place, one pwrite at offset 0 (~4 us), not as a new file renamed over it
// (~100 us of blocking file-system work, a tenth of the agent's main thread at 250 attempts/s;
// issue 18). The content is the JSON twice, one copy per line, padded with spaces to the longest
// content written so far (the file never shrinks, so no truncation), and a reader takes it only
// when both lines are equal (leaseFromText): a read that overlaps a write sees the new content up
// to one point and the old after it, so its two copies differ and it is ignored (the guard keeps
// the last lease it read whole), rather than mixing the digits of two expiry times.
import { spawn } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LEASE_GUARD_PYTHON } from "./lease-guard-python.js";

interface GroupEntry {
  pid: number;
  /** /proc start time, so a reused pid is never signalled. */
  start: string;
}

export interface LeaseFileContent {
  agentPid: number;
  expiresAtMs: number | null;
  graceMs: number;
  groups: GroupEntry[];
}

export interface LeaseSnapshot {
  expiresAtWallMs: number | null;
  graceMs: number;
  /**
   * The task process groups: pid (0 while still being started: left out) and start time when the
   * launcher reported it (null: read from /proc here, once per pid).
   */
  groups: Array<{ pid: number; start: string | null }>;
}

/** The file's text for a lease: the JSON twice, one copy per line (see the top of this file). */
export function leaseText(content: LeaseFileContent): string {
  const json = JSON.stringify(content);
  return `${json}\n${json}\n`;
}

/** The lease a file's text holds, or null when it is not whole (its two copies differ) or not JSON. */
export function leaseFromText(text: string): LeaseFileContent | null {
  const [first, second] = text.split("\n", 2);
  if (first === undefined || first !== second) return null;
  try {
    return JSON.parse(first) as LeaseFileContent;
  } catch {
    return null;
  }
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
  /** The open lease file, written in place; null before the first write and after remove(). */
  private fd: number | null = null;
  /** Bytes of the longest content written so far: shorter content is padded to it. */
  private size = 0;

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
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    rmSync(this.path, { force: true });
  }

  private write(): void {
    const s = this.snapshot();
    const groups: GroupEntry[] = [];
    for (const g of s.groups) if (g.pid > 0) groups.push({ pid: g.pid, start: g.start ?? this.startOf(g.pid) });
    if (this.starts.size > 0) {
      const live = new Set(groups.map((g) => g.pid));
      for (const pid of this.starts.keys()) if (!live.has(pid)) this.starts.delete(pid);
    }
    const content: LeaseFileContent = { agentPid: process.pid, expiresAtMs: s.expiresAtWallMs, graceMs: s.graceMs, groups };
    try {
      const text = Buffer.from(leaseText(content));
      const bytes = text.length >= this.size ? text : Buffer.concat([text, Buffer.alloc(this.size - text.length, " ")]);
      this.fd ??= openSync(this.path, "w");
      writeSync(this.fd, bytes, 0, bytes.length, 0);
      this.size = bytes.length;
    } catch (err) {
      this.log("could not write the lease file", { error: String(err) });
    }
  }

  /** A directly spawned process's start time (the launcher reports its own), read once per pid. */
  private startOf(pid: number): string {
    let start = this.starts.get(pid);
    if (start === undefined) this.starts.set(pid, (start = processStartTime(pid)));
    return start;
  }

  private reapOrphans(): void {
    for (const name of readdirSync(this.stateDir)) {
      if (!/^lease-\d+\.json$/.test(name)) continue;
      const file = join(this.stateDir, name);
      let content: LeaseFileContent | null;
      try {
        const text = readFileSync(file, "utf8");
        // Its writer is dead, so no write overlaps this read; a single copy is an older agent's file.
        content = leaseFromText(text) ?? (JSON.parse(text) as LeaseFileContent);
      } catch {
        content = null;
      }
      if (content === null) {
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
