// Signals to a task's whole process group. Tasks are spawned detached (setsid), so the child's
// pid is also its process group id, and a negative pid reaches every process the task forked.

/** Sends `signal` to the group led by `pid`; false when no such group exists any more. */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
    // EPERM and the like: the group is not ours to signal; treat it like a vanished one.
    return false;
  }
}
