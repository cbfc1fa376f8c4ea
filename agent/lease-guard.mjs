// The lease guard: a tiny process the agent starts beside itself (detached, so it survives the
// agent's kill -9 and is not frozen by SIGSTOP of the agent). It reads the agent's lease file and
// stops the task process groups listed there when the lease has expired (the master may already
// run those attempts elsewhere) or when the agent is gone (no one can report their results). That
// is what keeps "at most one live copy" true when the agent itself cannot act.
//
// Plain JavaScript on purpose: it starts in tens of milliseconds without the TypeScript loader.
// Usage: node lease-guard.mjs LEASE_FILE AGENT_PID [POLL_MS]
// Lease file: {"agentPid":N,"expiresAtMs":N|null,"graceMs":N,"groups":[{"pid":N,"start":"..."}]}, twice,
// one copy per line, then spaces (the agent rewrites it in place; see agent/lease-file.ts).
import { readFileSync, rmSync } from "node:fs";

const [file, agentPidText, pollText] = process.argv.slice(2);
const agentPid = Number(agentPidText);
const pollMs = Number(pollText) > 0 ? Number(pollText) : 100;
/** pid -> when SIGTERM was sent. */
const terminated = new Map();

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

/** Field 22 of /proc/PID/stat (start time in clock ticks): tells a reused pid from ours. */
function startTime(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  } catch {
    return "";
  }
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

/** The last lease read whole: a read that overlapped the agent's write (its two copies differ) keeps it. */
let lastWhole = null;

/** The lease file holds its JSON twice, one copy per line (agent/lease-file.ts); null when there is no file. */
function readLease() {
  let text;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return null;
  }
  const [first, second] = text.split("\n", 2);
  if (first !== undefined && first === second) {
    try {
      lastWhole = JSON.parse(first);
    } catch {
      // Not JSON: keep the last whole lease.
    }
  }
  return lastWhole;
}

function tick() {
  const lease = readLease();
  const agentAlive = alive(agentPid);
  const groups = lease?.groups ?? [];
  const expired = lease !== null && lease.expiresAtMs !== null && Date.now() >= lease.expiresAtMs;
  if (!agentAlive || expired) {
    const graceMs = lease?.graceMs ?? 0;
    for (const group of groups) {
      const sentAt = terminated.get(group.pid);
      if (sentAt === undefined) {
        if (group.start && startTime(group.pid) !== group.start) continue; // exited; the pid may be reused
        signalGroup(group.pid, "SIGTERM");
        signalGroup(group.pid, "SIGCONT"); // a stopped task would not act on SIGTERM
        terminated.set(group.pid, Date.now());
      } else if (Date.now() - sentAt >= graceMs && sentAt !== -1) {
        signalGroup(group.pid, "SIGKILL");
        terminated.set(group.pid, -1);
      }
    }
  }
  if (!agentAlive) {
    const pending = groups.some((g) => terminated.get(g.pid) !== -1 && (terminated.has(g.pid) || (g.start && startTime(g.pid) === g.start)));
    if (!pending) {
      rmSync(file, { force: true });
      process.exit(0);
    }
  }
}

setInterval(tick, pollMs);
tick();
